"""Assignment shapes (admin only)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from registry.services.assignments import Assignee


class AssignmentCreate(BaseModel):
    """Assign a radiologist to the study."""

    user: str = Field(min_length=1, max_length=100, description="the radiologist's user name")


class AssignmentPublic(BaseModel):
    """A live assignment: who reads the study, who assigned them (null: a command), since when."""

    user: str
    assigned_by: str | None
    assigned_at: dt.datetime

    @classmethod
    def of(cls, assignee: Assignee) -> AssignmentPublic:
        return cls(user=assignee.user, assigned_by=assignee.assigned_by, assigned_at=assignee.assigned_at)


class AssignmentList(BaseModel):
    items: list[AssignmentPublic]
