"""Rule-set files: the shipped ones load and cite their sources; malformed ones fail naming file and field."""

from __future__ import annotations

import copy
import importlib.resources
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grading.eligibility import (
    Catalog,
    CriterionKind,
    RuleSetError,
    default_catalog,
    load_packaged,
    load_rule_set_file,
    parse_rule_set,
)
from grading.errors import GradingError

SOURCES = {"doi:10.1186/1741-7015-10-22", "ClinicalTrials.gov NCT00454792", "ClinicalTrials.gov NCT03100266"}
FILE = "NCT00454792_2012.json"


def paper() -> dict[str, Any]:
    """The decoded JSON of the shipped paper rule set, to be broken by each case."""
    text = importlib.resources.files("grading.eligibility.rulesets").joinpath(FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def test_shipped_rule_sets() -> None:
    keys = [r.key for r in load_packaged()]
    assert sorted(keys) == ["NCT00454792@2007-registry", "NCT00454792@2012", "NCT03100266@2018-registry"]


@pytest.mark.parametrize("rule_set", default_catalog().rule_sets, ids=lambda r: r.key)
def test_every_criterion_cites_a_published_source_and_round_trips(rule_set: Any) -> None:
    for criterion in rule_set.criteria:
        assert criterion.source.document in SOURCES
        assert len(criterion.source.quote) > 10
    assert rule_set.criteria[0].kind is CriterionKind.IMAGING
    assert parse_rule_set(rule_set.to_mapping(), "copy.json") == rule_set


def test_paper_has_seven_inclusion_and_three_exclusion_criteria() -> None:
    # Jensen 2012: "Patient inclusion criteria were: (1) ... (7)" and "Patients were excluded if they: (1) ... (3)".
    kinds = [c.kind for c in default_catalog().get("NCT00454792").criteria]
    assert kinds.count(CriterionKind.EXCLUSION) == 3
    assert len(kinds) - kinds.count(CriterionKind.EXCLUSION) == 7


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _delete(path: list[Any]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


MALFORMED = [
    # a required top-level key is missing
    (_delete(["trial"]), r"NCT00454792_2012\.json: trial: is required"),
    # an unknown top-level key
    (_set(["owner"], "x"), r"NCT00454792_2012\.json: owner: unknown key; allowed: format, trial"),
    # a future format
    (_set(["format"], 2), r"NCT00454792_2012\.json: format: 2 is not supported; allowed: 1"),
    # the default flag must be a boolean
    (_set(["default"], "yes"), r"NCT00454792_2012\.json: default: expected true or false, got 'yes'"),
    # a version that cannot be used in a URL or file name
    (_set(["version"], "2012 final"), r"NCT00454792_2012\.json: version: '2012 final' is not an identifier"),
    # no criteria
    (_set(["criteria"], []), r"NCT00454792_2012\.json: criteria: expected a non-empty list, got \[\]"),
    # a criterion kind outside the closed vocabulary
    (
        _set(["criteria", 0, "kind"], "radiology"),
        r"NCT00454792_2012\.json: criteria\[0\]\.kind: 'radiology' is not allowed; "
        r"allowed: imaging, clinical, exclusion",
    ),
    # a criterion without its source sentence
    (_delete(["criteria", 1, "source", "quote"]), r"NCT00454792_2012\.json: criteria\[1\]\.source\.quote: is required"),
    # an unknown operator
    (
        _set(["criteria", 1, "test", "op"], "between"),
        r"NCT00454792_2012\.json: criteria\[1\]\.test\.op: 'between' is not allowed; allowed: endplate_change",
    ),
    # an operator that does not fit the kind
    (
        _set(["criteria", 1, "test"], {"op": "item_absent", "field": "other_disorder"}),
        r"criteria\[1\]\.test\.op: 'item_absent' cannot test a clinical criterion; allowed: number_in_range, "
        r"boolean_is, greater_than_field",
    ),
    # a size outside A-D
    (
        _set(["criteria", 0, "test", "sizes"], ["B", "E"]),
        r"criteria\[0\]\.test\.sizes\[1\]: 'E' is not allowed; allowed: A, B, C, D",
    ),
    # a type component outside I-III
    (_set(["criteria", 0, "test", "types_any"], ["IV"]), r"criteria\[0\]\.test\.types_any\[0\]: 'IV' is not allowed"),
    # a bound that is not a number
    (
        _set(["criteria", 4, "test", "at_least"], "18"),
        r"NCT00454792_2012\.json: criteria\[4\]\.test\.at_least: expected a number, got '18'",
    ),
    # two lower bounds
    (
        _set(["criteria", 4, "test", "more_than"], 17),
        r"criteria\[4\]\.test: give at most one of at_least and more_than",
    ),
    # an inverted range
    (
        _set(["criteria", 4, "test", "at_most"], 10),
        r"criteria\[4\]\.test: lower bound 18 is greater than upper bound 10",
    ),
    # a field that the file does not declare
    (
        _set(["criteria", 4, "test", "field"], "age"),
        r"NCT00454792_2012\.json: criteria\[4\]\.test\.field: field 'age' is not declared in 'fields'; "
        r"declared: age_years",
    ),
    # a numeric test on a yes/no field
    (
        _set(["criteria", 4, "test", "field"], "danish"),
        r"criteria\[4\]\.test\.field: field 'danish' is boolean; this test needs integer or number",
    ),
    # a misspelt argument
    (
        _set(["criteria", 5, "test", "valu"], True),
        r"criteria\[5\]\.test\.valu: unknown key; allowed: op, field, value",
    ),
    # the same criterion id twice
    (_set(["criteria", 2, "id"], "age"), r"NCT00454792_2012\.json: criteria\[4\]\.id: criterion id 'age' is repeated"),
    # a field kind outside the vocabulary
    (
        _set(["fields", "age_years", "kind"], "text"),
        r"fields\.age_years\.kind: 'text' is not allowed; allowed: integer, number, boolean",
    ),
    # a boolean field with a range
    (_set(["fields", "danish", "min"], 0), r"fields\.danish: danish: a boolean field takes no min/max"),
    # an invalid field name
    (
        _set(["fields", "Age Years"], {"kind": "integer", "description": "x"}),
        r"fields\.Age Years: field name 'Age Years'",
    ),
]


@pytest.mark.parametrize(("change", "message"), MALFORMED)
def test_malformed_rule_set_names_file_and_field(change: Callable[[dict[str, Any]], None], message: str) -> None:
    data = copy.deepcopy(paper())
    change(data)
    with pytest.raises(RuleSetError, match=message):
        parse_rule_set(data, FILE)


def test_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / FILE
    path.write_text('{"format": 1,\n "trial": }', encoding="utf-8")
    with pytest.raises(RuleSetError, match=r"NCT00454792_2012\.json: line 2 column 11: invalid JSON"):
        load_rule_set_file(path)


def test_file_name_must_match_trial_and_version(tmp_path: Path) -> None:
    path = tmp_path / "NCT00454792_2013.json"
    path.write_text(json.dumps(paper()), encoding="utf-8")
    with pytest.raises(RuleSetError, match=r"NCT00454792_2013\.json: .* must be named NCT00454792_2012\.json"):
        load_rule_set_file(path)
    good = tmp_path / FILE
    good.write_text(json.dumps(paper()), encoding="utf-8")
    assert load_rule_set_file(good) == default_catalog().get("NCT00454792", "2012")


def test_a_new_trial_is_a_new_file(tmp_path: Path) -> None:
    data = paper()
    data.update(trial="NCT99999999", version="1")
    path = tmp_path / "NCT99999999_1.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    catalog = Catalog.of([*default_catalog().rule_sets, load_rule_set_file(path)])
    assert catalog.get("NCT99999999").version == "1"


def test_catalog_needs_one_default_per_trial() -> None:
    second = parse_rule_set({**paper(), "version": "2013"}, "NCT00454792_2013.json")
    with pytest.raises(GradingError, match=r"trial NCT00454792 needs exactly one default version, got 2012, 2013"):
        Catalog.of([*default_catalog().rule_sets, second])


def test_catalog_rejects_a_field_declared_differently_across_versions() -> None:
    data = paper()
    data.update(version="2013", default=False)
    data["fields"]["age_years"]["max"] = 99
    with pytest.raises(GradingError, match=r"trial NCT00454792: field 'age_years' is declared differently"):
        Catalog.of([*default_catalog().rule_sets, parse_rule_set(data, "NCT00454792_2013.json")])


def test_catalog_rejects_duplicates() -> None:
    with pytest.raises(GradingError, match=r"rule set NCT00454792@2012 is defined twice"):
        Catalog.of([*default_catalog().rule_sets, default_catalog().get("NCT00454792")])


def test_a_field_means_one_thing_across_versions() -> None:
    # NCT00454792 record asks "speak and understand Danish", Jensen 2012 "read and speak Danish": one field name
    # with two questions is refused; the shipped 2007 registry version uses its own field.
    data = paper()
    data.update(version="2013", default=False)
    data["fields"]["danish"]["description"] = "Speaks and understands Danish"
    with pytest.raises(GradingError, match=r"field 'danish' is declared differently .* different field name"):
        Catalog.of([*default_catalog().rule_sets, parse_rule_set(data, "NCT00454792_2013.json")])
    registry = default_catalog().get("NCT00454792", "2007-registry")
    assert "danish" not in registry.fields
    assert registry.fields["danish_speak_understand"].description.startswith("Speaks and understands Danish")


def test_not_applicable_is_only_for_exclusion_items() -> None:
    data = paper()
    data["fields"]["willing"]["not_applicable"] = "everyone"
    with pytest.raises(
        GradingError, match=r"criterion 'willing' cannot read field 'willing', which may be not applicable"
    ):
        parse_rule_set(data, "NCT00454792_2012.json")
