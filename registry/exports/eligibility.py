"""Eligibility as an analysis table: one row per patient with a decision for a rule set, with each
criterion's status and the screening answers it was decided on."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlmodel import Session

from grading.eligibility import NOT_APPLICABLE, FieldKind, FieldSpec, RuleSet
from registry.exports.codebook import (
    DECISION_STATUS,
    GRADING_ID,
    NO_YES,
    NO_YES_NOT_APPLICABLE,
    OUTCOME,
    PATIENT,
    STUDY_ID,
    Kind,
    Variable,
)
from registry.exports.table import MISSING, Column, Table, dates, text_column, timestamps
from registry.repositories import eligibility as eligibility_repo
from registry.repositories import exports as exports_repo

RULE_VERSION = Variable("rule_version", "Rule-set version", Kind.TEXT)
STATUS = Variable("status", "Eligibility decision", Kind.CATEGORICAL, DECISION_STATUS)
IMAGING = Variable("imaging", "Combined outcome of the imaging (MRI) criteria", Kind.CATEGORICAL, OUTCOME)
GRADING_VERSION = Variable("grading_version", "Version of the grading the decision used", Kind.INTEGER)
EVALUATION_DATE = Variable("evaluation_date", "Date the criteria were evaluated for", Kind.DATE)
DECIDED_AT = Variable("decided_at", "When the decision was made (UTC)", Kind.DATETIME)
_BASE = (PATIENT, RULE_VERSION, STATUS, IMAGING, STUDY_ID, GRADING_ID, GRADING_VERSION, EVALUATION_DATE, DECIDED_AT)
_OUTCOME_OF_MET = {True: OUTCOME.code("met"), False: OUTCOME.code("not_met"), None: OUTCOME.code("unknown")}


def _answer_variable(name: str, spec: FieldSpec) -> Variable:
    label = f"Screening: {spec.description}"
    if spec.kind is FieldKind.BOOLEAN:
        vocabulary = NO_YES if spec.not_applicable is None else NO_YES_NOT_APPLICABLE
        return Variable(f"a_{name}", label, Kind.CATEGORICAL, vocabulary)
    return Variable(f"a_{name}", label, Kind.INTEGER if spec.kind is FieldKind.INTEGER else Kind.NUMBER)


def eligibility_variables(rule_set: RuleSet) -> tuple[Variable, ...]:
    """The columns of ``rule_set``'s export: the decision, ``c_<criterion>`` statuses, ``a_<field>`` answers."""
    criteria = tuple(
        Variable(f"c_{c.id}", f"Criterion {c.id} ({c.kind.value}): {c.text}", Kind.CATEGORICAL, OUTCOME)
        for c in rule_set.criteria
    )
    answers = tuple(_answer_variable(name, f) for name, f in sorted(rule_set.fields.items()))
    return (*_BASE, *criteria, *answers)


def eligibility_table(session: Session, rule_set: RuleSet) -> Table:
    """The current decision of every patient for ``rule_set``, by pseudonym."""
    variables = eligibility_variables(rule_set)
    pseudonyms = exports_repo.pseudonyms(session)
    decisions = sorted(
        exports_repo.decisions(session, rule_set.trial, rule_set.version), key=lambda d: pseudonyms[d.patient_id]
    )
    answers = eligibility_repo.screenings(session, [rule_set.trial], [d.patient_id for d in decisions])
    patient, version, status, imaging, study, grading, grading_version, evaluated, decided = variables[: len(_BASE)]
    columns = [
        text_column(patient, [pseudonyms[d.patient_id] for d in decisions]),
        text_column(version, [d.rule_version for d in decisions]),
        Column(status, np.array([DECISION_STATUS.code(d.status) for d in decisions], dtype=np.int16)),
        Column(imaging, np.array([OUTCOME.code(d.imaging) for d in decisions], dtype=np.int16)),
        text_column(study, [d.study_id for d in decisions]),
        text_column(grading, [d.grading_id for d in decisions]),
        Column(
            grading_version, np.array([np.nan if d.grading_version is None else d.grading_version for d in decisions])
        ),
        Column(evaluated, dates([d.evaluation_date for d in decisions])),
        Column(decided, timestamps([d.decided_at for d in decisions])),
    ]
    first_answer = len(_BASE) + len(rule_set.criteria)
    for criterion, variable in zip(rule_set.criteria, variables[len(_BASE) : first_answer], strict=True):
        codes = [_criterion_code(d.criteria, criterion.id) for d in decisions]
        columns.append(Column(variable, np.array(codes, dtype=np.int16)))
    for name, variable in zip(sorted(rule_set.fields), variables[first_answer:], strict=True):
        given = [
            inputs.answers.get(name) if (inputs := answers.get((d.patient_id, rule_set.trial))) else None
            for d in decisions
        ]
        columns.append(Column(variable, _answer_values(variable, given)))
    return Table(tuple(columns))


def _criterion_code(criteria: list[dict[str, Any]], criterion_id: str) -> int:
    """The outcome code of one criterion in a stored decision (missing when the decision lacks it)."""
    for criterion in criteria:
        if criterion["id"] == criterion_id:
            return _OUTCOME_OF_MET[criterion["met"]]
    return MISSING


def _answer_values(variable: Variable, given: list[Any]) -> np.ndarray[Any, Any]:
    if variable.vocabulary is not None:
        labels = [v if v == NOT_APPLICABLE else ("yes" if v else "no") for v in given]
        return np.array(
            [MISSING if v is None else variable.vocabulary.code(label) for v, label in zip(given, labels, strict=True)],
            dtype=np.int16,
        )
    return np.array([np.nan if v is None else float(v) for v in given], dtype=np.float64)
