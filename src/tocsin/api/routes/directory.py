"""Users, teams, services, severity schemes and incident roles."""

from __future__ import annotations

from fastapi import APIRouter

from tocsin.api.deps import Admin, CurrentClock, DbSession, Reader, Writer
from tocsin.api.schemas import (
    CreateService,
    CreateTeam,
    CreateUser,
    EditService,
    MeOut,
    RoleOut,
    SchemeOut,
    ServiceOut,
    TeamOut,
    UserOut,
)
from tocsin.services import directory
from tocsin.storage.repositories import directory as repo
from tocsin.storage.repositories import severities as severities_repo

router = APIRouter(prefix="/api/v1", tags=["directory"])


@router.get("/me", response_model=MeOut)
def me(actor: Reader, session: DbSession) -> MeOut:
    user = repo.user_by_id(session, actor.user_id) if actor.user_id is not None else None
    return MeOut(user=UserOut.of(user) if user else None, actor=actor.name, scope=actor.scope.value)


@router.get("/users", response_model=list[UserOut])
def list_users(_actor: Reader, session: DbSession) -> list[UserOut]:
    return [UserOut.of(u) for u in repo.list_users(session)]


@router.post("/users", status_code=201, response_model=UserOut)
def create_user(body: CreateUser, actor: Admin, session: DbSession, clock: CurrentClock) -> UserOut:
    user = directory.create_user(
        session, actor, clock.now(), email=body.email, name=body.name, role=body.role, time_zone=body.time_zone
    )
    session.commit()
    return UserOut.of(user)


@router.get("/users/{email}", response_model=UserOut)
def show_user(email: str, _actor: Reader, session: DbSession) -> UserOut:
    return UserOut.of(directory.get_user(session, email))


@router.get("/teams", response_model=list[TeamOut])
def list_teams(_actor: Reader, session: DbSession) -> list[TeamOut]:
    return [TeamOut.of(t) for t in repo.list_teams(session)]


@router.post("/teams", status_code=201, response_model=TeamOut)
def create_team(body: CreateTeam, actor: Admin, session: DbSession, clock: CurrentClock) -> TeamOut:
    team = directory.create_team(
        session, actor, clock.now(), key=body.key, name=body.name, description=body.description, members=body.members
    )
    session.commit()
    return TeamOut.of(team)


@router.get("/teams/{key}", response_model=TeamOut)
def show_team(key: str, _actor: Reader, session: DbSession) -> TeamOut:
    return TeamOut.of(directory.get_team(session, key))


@router.get("/services", response_model=list[ServiceOut])
def list_services(_actor: Reader, session: DbSession) -> list[ServiceOut]:
    return [ServiceOut.of(s) for s in repo.list_services(session)]


@router.post("/services", status_code=201, response_model=ServiceOut)
def create_service(body: CreateService, actor: Writer, session: DbSession, clock: CurrentClock) -> ServiceOut:
    service = directory.create_service(
        session,
        actor,
        clock.now(),
        key=body.key,
        name=body.name,
        description=body.description,
        team=body.team,
        emergency=body.emergency,
    )
    session.commit()
    return ServiceOut.of(service)


@router.patch("/services/{key}", response_model=ServiceOut)
def edit_service(key: str, body: EditService, actor: Writer, session: DbSession, clock: CurrentClock) -> ServiceOut:
    service = directory.edit_service(
        session, actor, clock.now(), key, name=body.name, description=body.description, emergency=body.emergency
    )
    session.commit()
    return ServiceOut.of(service)


@router.get("/services/{key}", response_model=ServiceOut)
def show_service(key: str, _actor: Reader, session: DbSession) -> ServiceOut:
    return ServiceOut.of(directory.get_service(session, key))


@router.get("/severities", response_model=list[SchemeOut])
def list_severities(_actor: Reader, session: DbSession) -> list[SchemeOut]:
    return [SchemeOut.of(s) for s in severities_repo.list_schemes(session)]


@router.get("/roles", response_model=list[RoleOut])
def list_roles(_actor: Reader, session: DbSession) -> list[RoleOut]:
    return [RoleOut(key=r.key, name=r.name, description=r.description) for r in severities_repo.list_roles(session)]
