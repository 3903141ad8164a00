"""Entering and amending gradings: validated by :mod:`grading.nordic`, stored append-only; the
patient's eligibility decisions are re-evaluated in the same transaction."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from grading.annotations import Annotations
from grading.errors import GradingError
from grading.nordic import Numbering, StudyGrading
from grading.protocols import DEFAULT_PROTOCOL, get_protocol
from registry.errors import (
    AlreadyExists,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from registry.models import Grading, GradingKind, GradingVersion, Role, User
from registry.models.base import new_id, utcnow
from registry.repositories import gradings as gradings_repo
from registry.repositories import users as users_repo
from registry.services import audit
from registry.services.assignments import reads_all, visible_study
from registry.services.eligibility import decisions
from registry.services.studies import prior_graded_study

_ETAG = re.compile(r'^(?:W/)?"(?P<id>[0-9a-f-]{36})\.v(?P<version>[0-9]+)"$')


@dataclass(frozen=True)
class GradingView:
    """A grading at one version, with the rater's name."""

    id: str
    study_id: str
    kind: str
    rater: str
    version: int
    endplates: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    """When this version was recorded."""
    protocol: str = DEFAULT_PROTOCOL
    numbering: dict[str, str] | None = None
    levels: dict[str, Any] = field(default_factory=dict)
    """The level labels kept with this version (:class:`grading.annotations.LevelLabels`)."""
    measurements: list[dict[str, Any]] = field(default_factory=list)
    """The height-fraction measurements kept with this version."""

    @classmethod
    def of(cls, grading: Grading, version: GradingVersion, rater: str) -> GradingView:
        """The view of a stored grading at one of its versions."""
        return cls(
            id=grading.id,
            study_id=grading.study_id,
            kind=grading.kind,
            rater=rater,
            version=version.version,
            endplates=version.endplates,
            created_at=grading.created_at,
            updated_at=version.at,
            protocol=version.protocol,
            numbering=version.numbering,
            levels=version.levels or {},
            measurements=version.measurements or [],
        )

    @property
    def etag(self) -> str:
        """The strong ETag of this version."""
        return etag_of(self.id, self.version)


@dataclass(frozen=True)
class HistoryEntry:
    """One version in a grading's history."""

    version: GradingVersion
    author: str


def etag_of(grading_id: str, version: int) -> str:
    """``"<grading id>.v<version>"``, quoted as HTTP requires."""
    return f'"{grading_id}.v{version}"'


@dataclass(frozen=True)
class NewGrading:
    """A rater's first grading of a study, already validated, waiting to be recorded."""

    rater: User
    study_id: str
    grading: StudyGrading
    kind: GradingKind = GradingKind.clinical
    protocol: str = DEFAULT_PROTOCOL
    numbering: Numbering | None = None
    annotations: Annotations | None = None
    """Level labels and measurements made with the grading, if any."""
    at: dt.datetime | None = None
    """When it is recorded (``None``: when written)."""

    @property
    def clinical_key(self) -> str | None:
        """``study_id:rater_id`` for a clinical grading (one per rater and study), else None."""
        return f"{self.study_id}:{self.rater.id}" if self.kind is GradingKind.clinical else None


def parse_grading(
    rater: User,
    study_id: str,
    endplates: Any,
    protocol: str | None = None,
    numbering: Any = None,
    kind: GradingKind = GradingKind.clinical,
    *,
    levels: Any = None,
    measurements: Any = None,
) -> NewGrading:
    """Validate a grading against its protocol (the default one when ``None``), with the level labels
    and measurements made with it; not yet recorded."""
    chosen = get_protocol(protocol)
    return NewGrading(
        rater,
        study_id,
        chosen.parse(endplates),
        kind,
        chosen.id,
        None if numbering is None else Numbering.from_mapping(numbering),
        Annotations.from_body(levels, measurements),
    )


def create_grading(
    session: Session,
    rater: User,
    study_id: str,
    endplates: Any,
    kind: GradingKind = GradingKind.clinical,
    *,
    protocol: str | None = None,
    numbering: Any = None,
) -> GradingView:
    """Record a rater's first grading of a study (version 1) and commit.

    A rater has one clinical grading per study: a second one is :class:`AlreadyExists` naming the
    first, which is amended instead.
    """
    (outcome,) = create_gradings(session, [parse_grading(rater, study_id, endplates, protocol, numbering, kind)])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def create_gradings(session: Session, new: Sequence[NewGrading]) -> list[GradingView | Exception]:
    """Record several first gradings in one transaction and commit it (a group commit).

    Each grading gets its own version 1 and audit event, and the eligibility of every patient graded
    is re-decided in the same transaction, exactly as when they are recorded one by one; only the
    round trips and the commit are shared. The outcome of each, in order, is its view or the error
    that refused it (:class:`NotFound` for an unknown study, :class:`AlreadyExists` for a second
    clinical grading of the same study by the same rater); a refusal does not affect the others.
    An error of the database itself is raised: then nothing of the batch was recorded.
    """
    try:
        outcomes = write_first_versions(session, new)
        session.commit()
        return outcomes
    except IntegrityError as exc:
        session.rollback()
        if len(new) == 1:
            # A conflict the look-ups could not see: another process (PostgreSQL) recorded the same
            # clinical grading meanwhile.
            one, key = new[0], new[0].clinical_key
            existing = gradings_repo.gradings_by_clinical_key(session, {key}).get(key) if key else None
            return [exc if existing is None else _already_graded(one.rater, one.study_id, existing)]
    # Each alone, so that only the one in conflict is refused.
    outcomes = []
    for one in new:
        try:
            outcomes.extend(create_gradings(session, [one]))
        except Exception as exc:  # this one failed, the others keep their outcomes
            session.rollback()
            outcomes.append(exc)
    return outcomes


def write_first_versions(session: Session, new: Sequence[NewGrading]) -> list[GradingView | Exception]:
    """Write version 1 of each grading of ``new`` that can be written, in the open transaction; the
    outcome of each. The one path for every first version: clinical gradings and reliability reads.

    Each is audited (``grading.create``); a clinical grading re-decides its patient's eligibility here,
    a reliability read never counts (its worklist audits it too, as ``reliability.read``).
    """
    # An admin reads every study, and a reliability read is reached through its reliability study:
    # neither needs an assignment.
    needs_assignment = {
        (n.rater.id, n.study_id) for n in new if n.kind is GradingKind.clinical and not reads_all(n.rater)
    }
    checks = gradings_repo.first_version_checks(
        session, {n.study_id for n in new}, needs_assignment, {k for n in new if (k := n.clinical_key)}
    )
    patients, taken = checks.patients, dict(checks.taken)  # taken grows as the batch is written
    unassigned = needs_assignment - checks.assigned
    outcomes: list[GradingView | Exception] = []
    gradings: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    graded: list[str] = []
    for one in new:
        key = one.clinical_key
        if one.study_id not in patients or (one.rater.id, one.study_id) in unassigned:
            outcomes.append(NotFound(f"study {one.study_id!r} does not exist"))
            continue
        if key is not None and key in taken:
            outcomes.append(_already_graded(one.rater, one.study_id, taken[key]))
            continue
        if (refused := needs_prior(session, one)) is not None:
            outcomes.append(refused)
            continue
        grading_id, now = new_id(), one.at or utcnow()  # its own time, as if recorded alone
        if key is not None:
            taken[key] = grading_id
            graded.append(patients[one.study_id])
        canonical = one.grading.to_mapping()
        numbering = None if one.numbering is None else one.numbering.to_mapping()
        levels = one.annotations.to_levels() if one.annotations else {}
        measurements = one.annotations.to_measurements() if one.annotations else []
        gradings.append(
            {
                "id": grading_id,
                "study_id": one.study_id,
                "rater_id": one.rater.id,
                "kind": one.kind.value,
                "clinical_key": key,
                "current_version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        versions.append(
            {
                "grading_id": grading_id,
                "version": 1,
                "endplates": canonical,
                "author_id": one.rater.id,
                "at": now,
                "reason": None,
                "protocol": one.protocol,
                "numbering": numbering,
                "levels": levels or None,
                "measurements": measurements or None,
            }
        )
        events.append(audit.event(one.rater, "grading.create", "grading", grading_id, study_id=one.study_id, version=1))
        outcomes.append(
            GradingView(
                grading_id,
                one.study_id,
                one.kind.value,
                one.rater.name,
                1,
                canonical,
                now,
                now,
                one.protocol,
                numbering,
                levels,
                measurements,
            )
        )
    gradings_repo.insert_first_versions(session, gradings, versions)
    audit.record_many(session, events)
    decisions.on_patients_graded(session, graded)
    return outcomes


def needs_prior(session: Session, one: NewGrading) -> GradingError | None:
    """A variable graded against the patient's prior study (development over time) when the patient
    has no prior graded study: refused, naming the endplate and field."""
    names = [v.name for v in get_protocol(one.protocol).variables if v.requires_prior]
    used = [(g.endplate.value, n) for g in one.grading.endplates for n in names if g.variable(n) is not None]
    if not used or prior_graded_study(session, one.study_id) is not None:
        return None
    endplate, name = used[0]
    return GradingError(
        f"{endplate}: {name} compares with the patient's prior graded study, and there is none; leave it empty",
        endplate=endplate,
        field=name,
    )


def _already_graded(rater: User, study_id: str, grading_id: str) -> AlreadyExists:
    return AlreadyExists(
        f"rater {rater.name!r} already has grading {grading_id} of study {study_id}; "
        f"amend it with PUT /api/v1/gradings/{grading_id}",
        grading_id,
    )


def _reachable_grading(session: Session, grading_id: str, viewer: User) -> Grading:
    """The grading, if ``viewer`` may reach it by id: an admin any, a radiologist their own clinical ones.

    Another rater's grading, and every reliability-study read (reached only through its reliability
    study, so that raters stay blind to each other and to their own read 1), do not exist by id for a
    radiologist: the answer does not even confirm the id.
    """
    grading = session.get(Grading, grading_id)
    if grading is None or (
        viewer.role != Role.admin and (grading.kind != GradingKind.clinical or grading.rater_id != viewer.id)
    ):
        raise NotFound(f"grading {grading_id!r} does not exist")
    return grading


def _views(session: Session, gradings: list[Grading]) -> list[GradingView]:
    """Loaded gradings at their current versions (two queries, however many gradings)."""
    versions = gradings_repo.current_versions(session, [g.id for g in gradings])
    raters = users_repo.users_by_ids(session, {g.rater_id for g in gradings})
    views = []
    for grading in gradings:
        version = versions.get(grading.id)
        if version is None:
            raise NotFound(f"grading {grading.id!r} has no version {grading.current_version}")
        views.append(GradingView.of(grading, version, raters[grading.rater_id].name))
    return views


def get_grading(session: Session, grading_id: str, viewer: User) -> GradingView:
    """The current version of a grading that ``viewer`` may reach."""
    (view,) = _views(session, [_reachable_grading(session, grading_id, viewer)])
    return view


def amend_grading(
    session: Session,
    actor: User,
    grading_id: str,
    if_match: str | None,
    endplates: Any,
    reason: str | None,
    *,
    protocol: str | None = None,
    numbering: Any = None,
    levels: Any = None,
    measurements: Any = None,
) -> GradingView:
    """Add a new version to a grading, if ``if_match`` names its current version.

    Only the grading's rater or an admin may amend; a reason is required. Of concurrent amendments
    made against the same version, exactly one succeeds; the others get :class:`PreconditionFailed`.
    The new version is validated against ``protocol`` (``None``: the current version's protocol) and
    records ``numbering`` as given (``None``: not recorded).
    ``levels`` or ``measurements`` left out (None) are carried over from the amended version, so
    that every version holds the whole state; an empty value clears them.
    """
    grading = _reachable_grading(session, grading_id, actor)
    if not if_match:
        raise PreconditionRequired(
            f"If-Match header is required to amend grading {grading_id}; send the ETag of the version you amend"
        )
    match = _ETAG.match(if_match.strip())
    if match is None or match["id"] != grading.id:
        raise PreconditionFailed(f"If-Match {if_match!r} does not name a version of grading {grading_id}")
    expected = int(match["version"])
    amended = gradings_repo.current_versions(session, [grading.id]).get(grading.id)
    if protocol is None:
        protocol = DEFAULT_PROTOCOL if amended is None else amended.protocol
    parsed = parse_grading(
        actor, grading.study_id, endplates, protocol, numbering, levels=levels, measurements=measurements
    )
    if (refused := needs_prior(session, parsed)) is not None:
        raise refused
    annotations = parsed.annotations or Annotations.from_body(None, None)
    if reason is None or not reason.strip():
        raise InvalidInput("an amendment needs a reason (why the grading changes)", field="reason")
    if expected != grading.current_version or not gradings_repo.advance_version(session, grading.id, expected):
        session.rollback()
        current = session.get(Grading, grading_id)
        now = current.current_version if current else "unknown"
        raise PreconditionFailed(
            f"grading {grading_id} was changed by someone else: you amended version {expected}, the current "
            f"version is {now}; reload it and amend again"
        )
    version = GradingVersion(
        grading_id=grading.id,
        version=expected + 1,
        endplates=parsed.grading.to_mapping(),
        author_id=actor.id,
        reason=reason.strip(),
        protocol=parsed.protocol,
        numbering=None if parsed.numbering is None else parsed.numbering.to_mapping(),
        levels=(annotations.to_levels() if levels is not None else amended and amended.levels) or None,
        measurements=(annotations.to_measurements() if measurements is not None else amended and amended.measurements)
        or None,
    )
    session.add(version)
    audit.record(session, actor, "grading.amend", "grading", grading.id, version=expected + 1, reason=reason.strip())
    try:
        decisions.on_grading_changed(session, grading.study_id, GradingKind(grading.kind))
        session.commit()
    except IntegrityError:
        session.rollback()
        raise PreconditionFailed(
            f"grading {grading_id} was changed by someone else; reload it and amend again"
        ) from None
    rater = (
        actor
        if actor.id == grading.rater_id
        else users_repo.users_by_ids(session, {grading.rater_id})[grading.rater_id]
    )
    return GradingView.of(grading, version, rater.name)


def gradings_of_study(session: Session, viewer: User, study_id: str) -> list[GradingView]:
    """The clinical gradings of a study that ``viewer`` may see, at their current version.

    A radiologist sees only their own (raters stay blind to each other); an admin sees all.
    """
    visible_study(session, viewer, study_id)
    rater_id = None if viewer.role == Role.admin else viewer.id
    gradings = gradings_repo.gradings_of_study(session, study_id, rater_id, GradingKind.clinical)
    return _views(session, gradings)


def history(session: Session, grading_id: str, viewer: User) -> list[HistoryEntry]:
    """Every version of a grading that ``viewer`` may reach, oldest first."""
    _reachable_grading(session, grading_id, viewer)
    versions = gradings_repo.versions_of(session, grading_id)
    authors = users_repo.users_by_ids(session, {v.author_id for v in versions})
    return [HistoryEntry(v, authors[v.author_id].name) for v in versions]
