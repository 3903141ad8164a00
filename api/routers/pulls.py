"""Pulls from the PACS: start one (or resume it), follow its progress (researchers and admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api.deps import SessionDep, SettingsDep, require_roles
from api.schemas.pulls import PullCreate, PullPublic
from registry.errors import InvalidInput
from registry.imaging.cohort import PullRequest
from registry.imaging.pacs import archive_config
from registry.models import Role, User
from registry.services.pulls import PullRunner, open_pull, pull_view
from registry.settings import Settings

router = APIRouter(prefix="/pulls", tags=["pulls"])

PullRequester = Annotated[User, Depends(require_roles(Role.researcher, Role.admin))]


def _only_configured(body: PullCreate, settings: Settings) -> None:
    """The API pulls only from the configured archive: an address from a request would let any caller
    make the service connect anywhere (and send the archive's credentials there)."""
    for field, given, configured in (
        ("dicomweb", body.dicomweb, settings.pacs_dicomweb_url),
        ("dimse", body.dimse, settings.pacs_dimse_address),
        ("called_ae", body.called_ae, settings.pacs_called_ae),
    ):
        if given is not None and given.rstrip("/") != (configured or "").rstrip("/"):
            raise InvalidInput(
                f"{field} {given!r}: only the configured archive may be used "
                f"(MODIC_PACS_{field.upper() if field != 'dimse' else 'DIMSE_ADDRESS'}); leave it out to use it"
            )


@router.post("", status_code=202, response_model=PullPublic)
def create_pull(
    body: PullCreate, user: PullRequester, session: SessionDep, settings: SettingsDep, request: Request
) -> PullPublic:
    """Start pulling the sagittal T1/T2 (and STIR) series of ``patients`` from the PACS; posting the same
    request again resumes a pull that did not finish. Outcomes name patients by row and pseudonym."""
    _only_configured(body, settings)
    try:
        config = archive_config(settings, dicomweb=body.dicomweb, dimse=body.dimse, called_ae=body.called_ae)
    except ValueError as exc:
        raise InvalidInput(str(exc).replace("--", "")) from None
    pull, _resumed = open_pull(session, PullRequest(config.label, tuple(body.patients), body.since, body.until), user)
    runner: PullRunner = request.app.state.pull_runner
    runner.submit(pull.id, config, body.patients)
    return PullPublic.of(pull_view(session, pull.id))


@router.get("/{pull_id}", response_model=PullPublic)
def get_pull(pull_id: str, user: PullRequester, session: SessionDep) -> PullPublic:
    """Progress and per-patient outcomes of a pull."""
    return PullPublic.of(pull_view(session, pull_id))
