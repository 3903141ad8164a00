"""Rater-agreement statistics for reliability studies (docs/agreement.md; docs/contract.md#python-api).

Pure functions over a ratings matrix (units × raters, ``None``/NaN missing), each returning an
:class:`AgreementResult` with ``.value`` (NaN with a ``.reason`` when undefined), ``.n_units``,
``.n_raters``, ``.se`` and ``.ci(level, method="analytic" | "bootstrap")``; ``clusters=`` makes the
bootstrap resample clusters (patients).
"""

from grading.agreement.interpretation import LandisKoch, landis_koch
from grading.agreement.ratings import AgreementInputError, Label, RatingsMatrix, parse_ratings
from grading.agreement.report import (
    ROW_FIELDS,
    AgreementReport,
    Comparison,
    ComparisonKind,
    PendingReport,
    RatingColumns,
    RatingRecord,
    StatisticSummary,
    VariableReport,
    VariableSpec,
    build_report,
    start_report,
)
from grading.agreement.result import AgreementResult, CIMethod
from grading.agreement.statistics import (
    Level,
    cohen_kappa,
    confusion_matrix,
    conger_kappa,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    pabak,
    percent_agreement,
    prevalence,
)
from grading.agreement.weights import WeightScheme, agreement_weights

__all__ = [
    "ROW_FIELDS",
    "AgreementInputError",
    "AgreementReport",
    "AgreementResult",
    "CIMethod",
    "Comparison",
    "ComparisonKind",
    "Label",
    "LandisKoch",
    "Level",
    "PendingReport",
    "RatingColumns",
    "RatingRecord",
    "RatingsMatrix",
    "StatisticSummary",
    "VariableReport",
    "VariableSpec",
    "WeightScheme",
    "agreement_weights",
    "build_report",
    "cohen_kappa",
    "confusion_matrix",
    "conger_kappa",
    "fleiss_kappa",
    "gwet_ac1",
    "krippendorff_alpha",
    "landis_koch",
    "pabak",
    "parse_ratings",
    "percent_agreement",
    "prevalence",
    "start_report",
]
