"""Request and response bodies of the postmortem and action item endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from tocsin.api.schemas import Body
from tocsin.domain.postmortems import MAX_BODY
from tocsin.domain.rendering import MAX_SOURCE
from tocsin.storage import models


class ReviewerOut(BaseModel):
    user: str
    name: str
    added_at: datetime
    approved_at: datetime | None


class PostmortemOut(BaseModel):
    incident: str
    incident_title: str
    severity: str
    drill: bool
    status: str
    due_at: datetime | None
    overdue: bool
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    published_at: datetime | None
    published_by: str | None
    public_summary: str
    reviewers: list[ReviewerOut]
    export_name: str
    body: str

    @classmethod
    def of(
        cls, postmortem: models.Postmortem, now: datetime, export_name: str, published_by: str | None
    ) -> PostmortemOut:
        incident = postmortem.incident
        return cls(
            incident=incident.human_id,
            incident_title=incident.title,
            severity=incident.severity,
            drill=incident.drill,
            status=postmortem.status,
            due_at=postmortem.due_at,
            overdue=postmortem.status != "published" and postmortem.due_at is not None and postmortem.due_at <= now,
            created_at=postmortem.created_at,
            updated_at=postmortem.updated_at,
            submitted_at=postmortem.submitted_at,
            published_at=postmortem.published_at,
            published_by=published_by,
            public_summary=postmortem.public_summary,
            reviewers=[
                ReviewerOut(user=r.user.email, name=r.user.name, added_at=r.added_at, approved_at=r.approved_at)
                for r in postmortem.reviewers
            ],
            export_name=export_name,
            body=postmortem.body,
        )


class CreatePostmortem(Body):
    incident: str = Field(min_length=1, max_length=40, description="The incident's human id")


class EditPostmortem(Body):
    body: str = Field(min_length=1, max_length=MAX_BODY)


class Reviewers(Body):
    reviewers: list[str] = Field(default_factory=list, max_length=50, description="E-mails of reviewers")


class PublishPostmortem(Body):
    status_page: bool = Field(default=False, description="Also post a summary as a public update (never for drills)")
    summary: str | None = Field(default=None, max_length=5_000, description="Default: the body's Summary section")


class TemplateOut(BaseModel):
    key: str
    body: str
    edited: bool


class TemplateIn(Body):
    body: str = Field(min_length=1, max_length=MAX_SOURCE)


class ActionItemOut(BaseModel):
    id: int
    incident: str
    title: str
    description: str
    owner: str | None
    owner_name: str | None
    priority: str
    status: str
    due_at: datetime
    overdue: bool
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    github_issue_number: int | None
    github_issue_url: str

    @classmethod
    def of(cls, item: models.ActionItem, overdue: bool) -> ActionItemOut:
        return cls(
            id=item.id,
            incident=item.incident.human_id,
            title=item.title,
            description=item.description,
            owner=item.owner.email if item.owner is not None else None,
            owner_name=item.owner.name if item.owner is not None else None,
            priority=item.priority,
            status=item.status,
            due_at=item.due_at,
            overdue=overdue,
            created_at=item.created_at,
            updated_at=item.updated_at,
            completed_at=item.completed_at,
            github_issue_number=item.github_issue_number,
            github_issue_url=item.github_issue_url,
        )


class CreateActionItem(Body):
    incident: str = Field(min_length=1, max_length=40)
    title: str = Field(min_length=1, max_length=300)
    priority: str = Field(
        min_length=1, max_length=2, description="P0 (due in 48 h), P1 (1 week), P2 (2 weeks), P3 (30 days)"
    )
    owner: str | None = Field(default=None, max_length=320, description="E-mail of the owner")
    due_at: datetime | None = Field(default=None, description="Overrides the priority's due date")
    description: str = Field(default="", max_length=10_000)


class EditActionItem(Body):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    priority: str | None = Field(default=None, min_length=1, max_length=2)
    owner: str | None = Field(default=None, max_length=320, description='E-mail of the owner; "" for none')
    due_at: datetime | None = None
    description: str | None = Field(default=None, max_length=10_000)
    status: str | None = Field(default=None, description="open, in_progress, done or wont_do")
