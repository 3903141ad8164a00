"""The web page's vocabularies (``api/static/js/vocab.js``) are the Python ones (docs/contract.md#vocabulary):
a change to the endplates, types or sizes in ``grading/`` fails here until the page follows."""

from __future__ import annotations

import re
from pathlib import Path

from grading.endplates import ENDPLATES
from grading.nordic import TYPE_LABELS, Size

VOCAB = Path(__file__).resolve().parents[2] / "api" / "static" / "js" / "vocab.js"


def exported_array(name: str) -> str:
    """The source text of ``export const NAME = [...];``."""
    match = re.search(rf"export const {name} = \[(.*?)\];", VOCAB.read_text(encoding="utf-8"), re.DOTALL)
    assert match, f"vocab.js exports no array {name}"
    return match.group(1)


def test_endplates_are_the_python_ones_in_order() -> None:
    assert re.findall(r'"([^"]+)"', exported_array("ENDPLATES")) == [e.value for e in ENDPLATES]


def test_types_are_the_canonical_labels_in_order() -> None:
    assert re.findall(r'value: "([^"]+)"', exported_array("TYPES")) == list(TYPE_LABELS)


def test_sizes_are_the_python_ones_in_order() -> None:
    assert re.findall(r'value: "([^"]+)"', exported_array("SIZES")) == [s.value for s in Size]


def test_every_type_has_its_own_key() -> None:
    keys = re.findall(r'(?:key|alt): "([^"]+)"', exported_array("TYPES"))
    assert len(keys) == len(set(keys)) >= len(TYPE_LABELS)
