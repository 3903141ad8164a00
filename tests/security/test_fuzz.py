"""schemathesis over every operation of the OpenAPI document with each role's token: no server
error, every answer as documented (status, content type, headers, body schema).

Every check of schemathesis runs but ``positive_data_acceptance``: it expects any schema-valid request
to be accepted, while the service refuses, with a 422 naming the field, values the schema cannot
express (a DICOM UID's grammar, control characters, 11 endplates). ``POST /me/token`` is left out: it
revokes the very token the run uses (it has tests of its own).
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from schemathesis.checks import CHECKS

from registry.models import Role
from tests.conftest import TokenFactory

MAX_EXAMPLES = 6
"""Per operation and role: enough to reach each operation's error paths, bounded for CI's two cores."""
SKIPPED = {"POST /api/v1/me/token"}
CHECKS_RUN = [c for c in CHECKS.get_all() if c.__name__ != "positive_data_acceptance"]


def _fuzz(operation: schemathesis.APIOperation, headers: dict[str, str], failures: dict[str, str]) -> None:
    modes = [operation.as_strategy(mode) for mode in schemathesis.GenerationMode]  # valid and invalid input

    @hypothesis.given(case=hypothesis.strategies.one_of(modes))
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        try:
            case.call_and_validate(headers=headers, checks=CHECKS_RUN)
        except BaseException as exc:  # a group of failures: keep each operation's first, go on
            failures.setdefault(operation.label, str(exc)[:2000])

    check()


@pytest.mark.slow
@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_operation_answers_as_documented(app: FastAPI, auth: TokenFactory, role: str) -> None:
    headers = auth(role)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:
        if operation.label not in SKIPPED:
            _fuzz(operation, headers, failures)
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
