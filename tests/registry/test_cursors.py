"""Page cursors: one encoding for the study list and the eligibility feed (registry/cursors.py)."""

from __future__ import annotations

import base64
import datetime as dt
import re

import pytest

from registry.cursors import MAX_POSITION, decode_cursor, encode_cursor
from registry.errors import InvalidInput

WHEN = dt.datetime(2026, 11, 22, 3, 18, 11, 549073, tzinfo=dt.UTC)
STUDY = "6f0c2b1e-0000-4000-8000-000000000001"


def test_a_feed_position_is_its_digits() -> None:
    assert encode_cursor(1234) == "1234"  # the feed's cursors as readers keep them
    assert decode_cursor("1234", (int,), "since", "feed") == (1234,)
    assert decode_cursor(str(MAX_POSITION), (int,), "since", "feed") == (MAX_POSITION,)


def test_a_composite_key_round_trips_in_the_study_lists_encoding() -> None:
    cursor = encode_cursor(WHEN, STUDY)
    assert cursor == base64.urlsafe_b64encode(f"{WHEN.isoformat()}|{STUDY}".encode()).decode()
    assert decode_cursor(cursor, (dt.datetime, str), "cursor", "study list") == (WHEN, STUDY)


@pytest.mark.parametrize(
    ("cursor", "kinds"),
    [
        ("abc", (int,)),  # not digits
        ("-1", (int,)),  # negative
        (str(MAX_POSITION + 1), (int,)),  # beyond the column
        ("???", (dt.datetime, str)),  # not base64
        (base64.urlsafe_b64encode(b"yesterday|x").decode(), (dt.datetime, str)),  # not a timestamp
        (base64.urlsafe_b64encode(WHEN.isoformat().encode()).decode(), (dt.datetime, str)),  # a part is missing
        (base64.urlsafe_b64encode(b"\xff\xfe").decode(), (dt.datetime, str)),  # not text
    ],
)
def test_anything_else_is_refused_naming_the_parameter(cursor: str, kinds: tuple[type, ...]) -> None:
    expected = rf"^since {re.escape(repr(cursor))} is not a feed cursor; pass the next_cursor"
    with pytest.raises(InvalidInput, match=expected):
        decode_cursor(cursor, kinds, "since", "feed")
