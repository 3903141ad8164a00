"""Clinical and exclusion criteria at their boundaries, one table per rule set; each case cites its seed."""

from __future__ import annotations

import pytest

from tests.grading.eligibility_helpers import decide, met

P2012 = "NCT00454792@2012"
R2007 = "NCT00454792@2007-registry"
PROB = "NCT03100266@2018-registry"

PAPER_CASES = [
    # Jensen 2012 inclusion (1): "LBP of at least 3 on an 11-point Numerical Rating Scale"
    ("lbp_intensity", {"nrs_back": 2}, False),
    ("lbp_intensity", {"nrs_back": 3}, True),
    ("lbp_intensity", {"nrs_back": 10}, True),
    ("lbp_intensity", {}, None),
    # Jensen 2012 inclusion (2): "LBP greater than any leg pain present"
    ("lbp_over_leg_pain", {"nrs_back": 5, "nrs_leg": 4}, True),
    ("lbp_over_leg_pain", {"nrs_back": 5, "nrs_leg": 5}, False),  # equal is not greater
    ("lbp_over_leg_pain", {"nrs_back": 3, "nrs_leg": 0}, True),  # no leg pain
    ("lbp_over_leg_pain", {"nrs_back": 3, "nrs_leg": 7}, False),
    ("lbp_over_leg_pain", {"nrs_back": 5}, None),  # leg pain not recorded
    # Jensen 2012 inclusion (3): "duration of current symptoms from 2 to 12 months"
    ("symptom_duration", {"symptom_duration_months": 1.9}, False),
    ("symptom_duration", {"symptom_duration_months": 2}, True),
    ("symptom_duration", {"symptom_duration_months": 12}, True),
    ("symptom_duration", {"symptom_duration_months": 12.1}, False),
    # Jensen 2012 inclusion (4): "age from 18 to 60 years"
    ("age", {"age_years": 17}, False),
    ("age", {"age_years": 18}, True),
    ("age", {"age_years": 60}, True),
    ("age", {"age_years": 61}, False),
    ("age", {"age_years": None}, None),  # explicitly unknown
    # Jensen 2012 inclusion (5): "ability to read and speak Danish"
    ("danish", {"danish": True}, True),
    ("danish", {"danish": False}, False),
    # Jensen 2012 inclusion (6): "a willingness to participate in the study"
    ("willing", {"willing": True}, True),
    ("willing", {"willing": False}, False),
    # Jensen 2012 exclusion (1): "unable to participate in the project because of other physical or mental disorders"
    ("excl_other_disorder", {"other_disorder": False}, True),
    ("excl_other_disorder", {"other_disorder": True}, False),
    ("excl_other_disorder", {}, None),
    # Jensen 2012 exclusion (2): "a competing LBP etiology such as disc herniation with symptomatic root compression"
    ("excl_competing_lbp_cause", {"competing_lbp_cause": False}, True),
    ("excl_competing_lbp_cause", {"competing_lbp_cause": True}, False),
    # Jensen 2012 exclusion (3): "previous spinal surgery with no pain relief after the operation"
    ("excl_surgery_without_relief", {"surgery_without_relief": False}, True),
    ("excl_surgery_without_relief", {"surgery_without_relief": True}, False),
]

REGISTRY_2007_CASES = [
    # NCT00454792 record: "actual pain intensity ≥4 on numerical pain rating scale from 0-10"
    ("lbp_intensity", {"nrs_actual_pain": 3}, False),
    ("lbp_intensity", {"nrs_actual_pain": 4}, True),
    # NCT00454792 record: "LBP with a current duration of 3 - 12 month"
    ("symptom_duration", {"symptom_duration_months": 2}, False),  # enough for the paper, not for the registry
    ("symptom_duration", {"symptom_duration_months": 3}, True),
    ("symptom_duration", {"symptom_duration_months": 12}, True),
    ("symptom_duration", {"symptom_duration_months": 13}, False),
    # NCT00454792 record: "The patient must be between 18-60 years of age."
    ("age", {"age_years": 17}, False),
    ("age", {"age_years": 18}, True),
    ("age", {"age_years": 60}, True),
    ("age", {"age_years": 61}, False),
    # NCT00454792 record: "The patient must speak and understand Danish."
    ("danish", {"danish_speak_understand": False}, False),
    # NCT00454792 record: "The patient must be willing to participate in the project."
    ("willing", {"willing": True}, True),
    # NCT00454792 record: "unable to go through with the project because of other physical or mental disorder"
    ("excl_other_disorder", {"other_disorder": True}, False),
    # NCT00454792 record: "The patient is pregnant."
    ("excl_pregnant", {"pregnant": True}, False),
    ("excl_pregnant", {"pregnant": False}, True),
    ("excl_pregnant", {"pregnant": "not_applicable"}, True),  # a male patient: the exclusion cannot apply
    ("excl_pregnant", {}, None),
    # NCT00454792 record: "The patient is referred to operation."
    ("excl_referred_for_operation", {"referred_for_operation": True}, False),
    ("excl_referred_for_operation", {"referred_for_operation": False}, True),
]

PROBIOTICS_CASES = [
    # NCT03100266 record: "Referral to one of the two spine centres in Central Denmark Region"
    ("referred", {"referred_spine_centre": True}, True),
    ("referred", {"referred_spine_centre": False}, False),
    # NCT03100266 record: "Sufficient competency in Danish to fill out questionnaires"
    ("danish", {"danish": False}, False),
    # NCT03100266 record: "Age between 18 and 65 years, both included"
    ("age", {"age_years": 17}, False),
    ("age", {"age_years": 18}, True),
    ("age", {"age_years": 65}, True),
    ("age", {"age_years": 66}, False),
    # NCT03100266 record: "No sign of activation of the immune system at inclusion (normal CRP)"
    ("crp_normal", {"crp_normal": True}, True),
    ("crp_normal", {"crp_normal": False}, False),
    ("crp_normal", {}, None),
    # NCT03100266 record: "Back pain must dominate leg pain"
    ("back_over_leg_pain", {"nrs_back": 6, "nrs_leg": 5}, True),
    ("back_over_leg_pain", {"nrs_back": 6, "nrs_leg": 6}, False),
    ("back_over_leg_pain", {"nrs_leg": 2}, None),
    # NCT03100266 record: "Pain duration >3 months"
    ("pain_duration", {"symptom_duration_months": 3}, False),
    ("pain_duration", {"symptom_duration_months": 3.5}, True),
    ("pain_duration", {"symptom_duration_months": 120}, True),
    # NCT03100266 record: "relevant disability (RM>5)"
    ("rmdq", {"rmdq": 5}, False),
    ("rmdq", {"rmdq": 6}, True),
    ("rmdq", {"rmdq": 23}, True),
    # NCT03100266 record exclusions, each a yes/no item: "On beforehand, plans of or a wish for spinal surgery"
    ("excl_surgery_planned", {"surgery_planned": True}, False),
    ("excl_surgery_planned", {"surgery_planned": False}, True),
    # "Spinal surgery for disc herniation or spinal stenosis within the last 6 months"
    ("excl_recent_surgery", {"recent_disc_or_stenosis_surgery": True}, False),
    # "Previous spinal fusion surgery"
    ("excl_spinal_fusion", {"previous_spinal_fusion": True}, False),
    # "Plans of treatment with antibiotics for Modic changes elsewhere"
    ("excl_antibiotics_planned", {"antibiotics_planned_elsewhere": True}, False),
    # "Antibiotic treatment for Modic changes within the preceding ½ year"
    ("excl_antibiotics_for_mc", {"antibiotics_for_mc_6_months": True}, False),
    # "More than two weeks of antibiotic treatment within the past three months"
    ("excl_antibiotics_recent", {"antibiotics_over_2_weeks_3_months": True}, False),
    # "Immunosuppressive treatment at present"
    ("excl_immunosuppression", {"immunosuppressive_treatment": True}, False),
    ("excl_immunosuppression", {"immunosuppressive_treatment": False}, True),
    # "Lacking ability to enter or complete the project due to either mental, social or geographical reasons"
    ("excl_unable_to_complete", {"unable_to_complete": True}, False),
    # "Known intestinal pathology, autoimmune disease, immune deficiency, malabsorption, cancer or chronic infection"
    ("excl_intestinal_or_immune_disease", {"intestinal_or_immune_disease": True}, False),
    ("excl_intestinal_or_immune_disease", {"intestinal_or_immune_disease": False}, True),
]


@pytest.mark.parametrize(("criterion", "answers", "expected"), PAPER_CASES)
def test_paper_2012_criteria(criterion: str, answers: dict[str, object], expected: bool | None) -> None:
    assert met(decide(P2012, answers), criterion) is expected


@pytest.mark.parametrize(("criterion", "answers", "expected"), REGISTRY_2007_CASES)
def test_registry_2007_criteria(criterion: str, answers: dict[str, object], expected: bool | None) -> None:
    assert met(decide(R2007, answers), criterion) is expected


@pytest.mark.parametrize(("criterion", "answers", "expected"), PROBIOTICS_CASES)
def test_probiotics_2018_criteria(criterion: str, answers: dict[str, object], expected: bool | None) -> None:
    assert met(decide(PROB, answers), criterion) is expected


@pytest.mark.parametrize(
    ("key", "criterion", "answers", "evidence"),
    [
        # Jensen 2012 (4) "age from 18 to 60 years"
        (P2012, "age", {"age_years": 61}, "age_years 61 (required: at least 18 and at most 60)"),
        # NCT03100266 record "relevant disability (RM>5)"
        (PROB, "rmdq", {"rmdq": 5}, "rmdq 5 (required: more than 5)"),
        # Jensen 2012 (3) "from 2 to 12 months" with a fractional duration
        (
            P2012,
            "symptom_duration",
            {"symptom_duration_months": 2.5},
            "symptom_duration_months 2.5 (required: at least 2 and at most 12)",
        ),
        # Jensen 2012 (2) "LBP greater than any leg pain present"
        (P2012, "lbp_over_leg_pain", {"nrs_back": 4, "nrs_leg": 6}, "nrs_back 4, nrs_leg 6: nrs_back is not greater"),
        # NCT00454792 record "The patient is pregnant."
        (R2007, "excl_pregnant", {"pregnant": True}, "pregnant: yes (excluded)"),
        # Jensen 2012 (5) "ability to read and speak Danish"
        (P2012, "danish", {}, "danish not recorded"),
    ],
)
def test_evidence_text(key: str, criterion: str, answers: dict[str, object], evidence: str) -> None:
    decision = decide(key, answers)
    assert next(r.evidence for r in decision.results if r.id == criterion) == evidence
