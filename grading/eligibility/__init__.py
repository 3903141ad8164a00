"""Trial eligibility: versioned rule sets (data files), criteria with evidence, decisions.

Follows ``docs/eligibility.md``. Typical use::

    from grading.eligibility import default_catalog, evaluate
    rule_set = default_catalog().get("NCT00454792")          # version 2012, the default
    decision = evaluate(rule_set, grading, study_date, {"age_years": 45}, date.today())
    decision.status, [r.to_mapping() for r in decision.results]
"""

from grading.eligibility.catalog import Catalog, default_catalog, load_packaged
from grading.eligibility.episode import (
    COMPUTATIONS,
    Episode,
    add_months,
    completed_months,
    completed_years,
    elapsed_months,
)
from grading.eligibility.evaluation import (
    CriterionResult,
    Decision,
    episode_answers,
    evaluate,
    evaluate_imaging,
    next_change,
)
from grading.eligibility.fields import NOT_APPLICABLE, Answer, FieldSpec, validate_answers
from grading.eligibility.operators import (
    OPERATORS,
    BooleanIs,
    EndplateChange,
    Facts,
    GreaterThanField,
    ItemAbsent,
    MriWithinMonths,
    NumberInRange,
    Operator,
)
from grading.eligibility.rules import Citation, Criterion, RuleSet, load_rule_set_file, parse_rule_set
from grading.eligibility.schema import RuleSetError
from grading.eligibility.vocabulary import CriterionKind, DecisionStatus, FieldKind, Outcome, combine

__all__ = [
    "COMPUTATIONS",
    "NOT_APPLICABLE",
    "OPERATORS",
    "Answer",
    "BooleanIs",
    "Catalog",
    "Citation",
    "Criterion",
    "CriterionKind",
    "CriterionResult",
    "Decision",
    "DecisionStatus",
    "EndplateChange",
    "Episode",
    "Facts",
    "FieldKind",
    "FieldSpec",
    "GreaterThanField",
    "ItemAbsent",
    "MriWithinMonths",
    "NumberInRange",
    "Operator",
    "Outcome",
    "RuleSet",
    "RuleSetError",
    "add_months",
    "combine",
    "completed_months",
    "completed_years",
    "default_catalog",
    "elapsed_months",
    "episode_answers",
    "evaluate",
    "evaluate_imaging",
    "load_packaged",
    "load_rule_set_file",
    "next_change",
    "parse_rule_set",
    "validate_answers",
]
