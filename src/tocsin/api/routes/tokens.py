"""API tokens; admin only. The secret is in the create answer and nowhere else."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from tocsin.api.deps import Admin, CurrentClock, DbSession
from tocsin.api.schemas import CreateToken, IssuedTokenOut, TokenOut
from tocsin.services import tokens
from tocsin.storage.repositories import tokens as repo

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


@router.get("", response_model=list[TokenOut])
def list_tokens(_actor: Admin, session: DbSession) -> list[TokenOut]:
    return [TokenOut.of(t) for t in repo.list_tokens(session)]


@router.post("", status_code=201, response_model=IssuedTokenOut)
def create_token(body: CreateToken, actor: Admin, session: DbSession, clock: CurrentClock) -> IssuedTokenOut:
    issued = tokens.create(
        session, actor, clock.now(), user_email=body.user, name=body.name, scope=body.scope, expires_at=body.expires_at
    )
    session.commit()
    session.refresh(issued.row)
    return IssuedTokenOut(**TokenOut.of(issued.row).model_dump(), token=issued.secret)


@router.delete("/{token_id}", status_code=204)
def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=2**62)], actor: Admin, session: DbSession, clock: CurrentClock
) -> Response:
    tokens.revoke(session, actor, clock.now(), token_id)
    session.commit()
    return Response(status_code=204)
