"""The REDCap data dictionary and import CSV follow REDCap's format rules.

The rules are those of REDCap's data dictionary (18 columns, A to R), as documented in:
- Vanderbilt University, "Creating a Data Dictionary in REDCap" (REDCap help, 2015), "Data
  Dictionary Excel Spreadsheet Columns": column A variable/field names "may contain lowercase
  letters, numbers and underscores", the first field of the first form is the record identifier;
  column D field types; column F choices as ``code, label`` pairs separated by ``|``; columns H-J
  validation type, min and max for text fields; column K identifier ``y``; column M required ``y``.
- REDCap knowledge base article RC-FD-08, "Data Dictionary: Column Reference & Advanced
  Techniques" (bdeveer.github.io/REDCap_KB_RAG), the column-by-column reference of the 18 columns.
- LinkML REDCap data dictionary schema (w3id.org/linkml/redcap-data-dictionary), slot
  ``variable_field_name``: pattern ``^[a-z][a-z0-9_]*$``, unique in the project; and the widely used
  limit of 26 characters for variable names (IDeA-Labs REDCap wiki, "Anlegen von Variablen":
  "maximal 26 Zeichen"), which keeps names valid in SAS, SPSS and Stata exports.
"""

from __future__ import annotations

import csv
import io
import re

from fastapi.testclient import TestClient

from registry.exports.redcap import COLUMNS
from tests.api.test_exports import graded  # noqa: F401 - the fixture
from tests.conftest import TokenFactory

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
FORM_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
FIELD_TYPES = {
    "text",
    "notes",
    "dropdown",
    "radio",
    "checkbox",
    "yesno",
    "truefalse",
    "calc",
    "file",
    "descriptive",
    "slider",
    "sql",
}
CHOICE_TYPES = {"dropdown", "radio", "checkbox"}
VALIDATIONS = {
    "",
    "date_ymd",
    "date_mdy",
    "date_dmy",
    "datetime_ymd",
    "datetime_seconds_ymd",
    "integer",
    "number",
    "email",
    "phone",
    "time",
    "zipcode",
    "alpha_only",
}
CHOICE = re.compile(r"^(?P<code>-?[0-9A-Za-z_]+), (?P<label>[^|]+)$")
BRANCH_FIELD = re.compile(r"\[([^\]]+)\]")


def _dictionary(client: TestClient, headers: dict[str, str]) -> list[dict[str, str]]:
    response = client.get("/api/v1/exports/redcap/dictionary.csv", headers=headers)
    assert response.status_code == 200
    reader = csv.reader(io.StringIO(response.text))
    header = next(reader)
    assert tuple(header) == COLUMNS and len(header) == 18  # columns A to R, in REDCap's order
    rows = [dict(zip(header, row, strict=True)) for row in reader]
    assert rows
    return rows


def _choices(text: str) -> dict[str, str]:
    pairs = [CHOICE.match(part.strip()) for part in text.split("|")]
    assert all(pairs), f"choices {text!r} are not 'code, label | code, label'"
    codes = {m["code"]: m["label"] for m in pairs if m}
    assert len(codes) == len(pairs), f"choices {text!r} repeat a code"
    return codes


def test_data_dictionary_follows_redcap_rules(client: TestClient, auth: TokenFactory) -> None:
    rows = _dictionary(client, auth("researcher"))
    names = [r["Variable / Field Name"] for r in rows]
    assert names[0] == "record_id"  # the first field is the record identifier
    assert len(set(names)) == len(names)  # unique in the project
    for row in rows:
        name, kind = row["Variable / Field Name"], row["Field Type"]
        assert NAME.match(name) and len(name) <= 26, name
        assert FORM_NAME.match(row["Form Name"]), row["Form Name"]
        assert kind in FIELD_TYPES, kind
        assert row["Field Label"].strip(), f"{name} has no label"
        if kind in CHOICE_TYPES:
            _choices(row["Choices, Calculations, OR Slider Labels"])
        else:
            assert row["Choices, Calculations, OR Slider Labels"] == ""
        validation = row["Text Validation Type OR Show Slider Number"]
        assert validation in VALIDATIONS and (validation == "" or kind == "text"), (name, validation)
        if row["Text Validation Min"] or row["Text Validation Max"]:
            assert validation in {"integer", "number"}
            assert float(row["Text Validation Min"] or "-inf") <= float(row["Text Validation Max"] or "inf")
        assert row["Identifier?"] in {"", "y"} and row["Required Field?"] in {"", "y"}
        for referenced in BRANCH_FIELD.findall(row["Branching Logic (Show field only if...)"]):
            assert referenced in names[: names.index(name)], f"{name} branches on {referenced}, not defined before it"
    assert len({r["Form Name"] for r in rows}) == 1


def test_records_match_the_dictionary(
    client: TestClient,
    auth: TokenFactory,
    graded: dict[str, object],  # noqa: F811 - the fixture imported above
) -> None:
    headers = auth("researcher")
    fields = {r["Variable / Field Name"]: r for r in _dictionary(client, headers)}
    response = client.get("/api/v1/exports/redcap/records.csv", headers=headers)
    records = list(csv.DictReader(io.StringIO(response.text)))
    form = next(iter(fields.values()))["Form Name"]
    assert list(records[0]) == [*fields, f"{form}_complete"]  # the import columns are the fields and the form status
    assert sorted(r["record_id"] for r in records) == sorted(graded["pseudonyms"])  # type: ignore[call-overload]
    for record in records:
        assert record[f"{form}_complete"] == "2"
        for name, value in record.items():
            field = fields.get(name)
            if field is None or value == "":
                continue
            if field["Field Type"] in CHOICE_TYPES:
                assert value in _choices(field["Choices, Calculations, OR Slider Labels"]), (name, value)
            elif field["Text Validation Type OR Show Slider Number"] in {"integer", "number"}:
                low, high = field["Text Validation Min"] or "-inf", field["Text Validation Max"] or "inf"
                assert float(low) <= float(value) <= float(high), (name, value)
            elif field["Text Validation Type OR Show Slider Number"] == "date_ymd":
                assert re.match(r"^\d{4}-\d{2}-\d{2}$", value)
    amended = next(r for r in records if r["grading_version"] == "2")
    assert (amended["l4_inf_na"], amended["l4_inf_type"], amended["l4_inf_size"], amended["l4_inf_ext"]) == (
        "0",
        "4",
        "3",
        "40",
    )
    assert (amended["l1_sup_type"], amended["l1_sup_size"]) == ("0", "")  # no change: no size
