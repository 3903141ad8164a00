"""String labels as users have them: numpy str/bytes/object arrays, lists, pandas columns (issue 10, item 9)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from grading.agreement import AgreementInputError, cohen_kappa, fleiss_kappa, parse_ratings
from grading.nordic import TYPE_LABELS

PAIRS = [["I", "none"], ["I/II", "I/II"], ["none", "none"], ["II", "I/II"], ["I", "I"], ["III", "none"]]


def test_numpy_string_array_is_accepted_and_equals_the_list() -> None:
    as_list = cohen_kappa(PAIRS)
    as_array = cohen_kappa(np.array(PAIRS))
    assert as_array.value == as_list.value
    assert as_array.categories == ("I", "I/II", "II", "III", "none")
    assert all(type(c) is str for c in as_array.categories)


def test_np_str_labels_and_categories_are_plain_strings() -> None:
    ratings = np.empty((len(PAIRS), 2), dtype=object)
    ratings[:] = [[np.str_(x) for x in row] for row in PAIRS]
    assert type(ratings[0, 0]) is np.str_
    result = cohen_kappa(ratings, categories=np.array(TYPE_LABELS))
    assert result.categories == TYPE_LABELS
    assert result.value == pytest.approx(cohen_kappa(PAIRS, categories=TYPE_LABELS).value, abs=1e-15)


def test_bytes_array_is_decoded() -> None:
    matrix = parse_ratings(np.array(PAIRS).astype("S"))
    assert matrix.categories == ("I", "I/II", "II", "III", "none")
    assert matrix.codes.tolist() == parse_ratings(PAIRS).codes.tolist()


def test_pandas_columns_with_missing_ratings() -> None:
    frame = pd.DataFrame({"r1": ["I", None, "none", "II"], "r2": ["I", "none", pd.NA, "II"]}, dtype="string")
    matrix = parse_ratings(frame)
    assert matrix.codes.tolist() == [[0, 0], [-1, 2], [2, -1], [1, 1]]
    plain = pd.DataFrame({"r1": ["I", None, "none", "II"], "r2": ["I", "none", np.nan, "II"]})
    assert parse_ratings(plain).codes.tolist() == matrix.codes.tolist()


def test_one_true_and_the_string_one_stay_apart() -> None:
    with pytest.raises(AgreementInputError, match=r"rating True at unit 0, rater 1 is a bool"):
        parse_ratings([[1, True]])
    with pytest.raises(AgreementInputError, match=r"rating True at unit 0, rater 1 is a bool"):
        parse_ratings(np.array([[1, True]], dtype=object))
    with pytest.raises(AgreementInputError, match=r"mix str and int labels"):
        parse_ratings([[1, "1"]])
    # with both on the scale they are two categories, never one
    matrix = parse_ratings([[1, "1"], ["1", 1]], categories=[1, "1"])
    assert matrix.codes.tolist() == [[0, 1], [1, 0]]
    with pytest.raises(
        AgreementInputError, match=r"rating '1' at unit 0, rater 1 is not a category; allowed: \[1, 2\]"
    ):
        parse_ratings([[1, "1"]], categories=[1, 2])


def test_a_string_off_the_scale_is_named_with_its_place() -> None:
    ratings = np.array([["I", "II"], ["none", "IV"]])
    with pytest.raises(
        AgreementInputError, match=r"rating 'IV' at unit 1, rater 1 is not a category; allowed: \['none'"
    ):
        parse_ratings(ratings, TYPE_LABELS)


def test_mixed_object_array_with_nan_and_integral_floats() -> None:
    ratings = np.array([[1, 2.0], [np.nan, 3], [None, 1]], dtype=object)
    matrix = parse_ratings(ratings)
    assert matrix.categories == (1, 2, 3)
    assert matrix.codes.tolist() == [[0, 1], [-1, 2], [-1, 0]]
    with pytest.raises(AgreementInputError, match=r"rating 2.5 at unit 1, rater 0 is not a category label"):
        parse_ratings(np.array([[1, 2], [2.5, 1]], dtype=object))
    with pytest.raises(AgreementInputError, match=r"rating \{\} at unit 0, rater 1 is not a category label"):
        parse_ratings([["I", {}]])


LABEL = st.text(alphabet=st.sampled_from(["I", "/", "n", "o", "e", "é", "ሴ", "\x00"]), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(LABEL, min_size=3, max_size=3), min_size=1, max_size=40))
def test_numpy_coding_equals_python_sorting(rows: list[list[str]]) -> None:
    labels = tuple(sorted({x for row in rows for x in row}))
    expected = [[labels.index(x) for x in row] for row in rows]
    for form in (rows, np.array(rows, dtype=object), pd.DataFrame(rows)):
        matrix = parse_ratings(form)
        assert matrix.categories == labels
        assert matrix.codes.tolist() == expected
    if not any("\x00" in x for row in rows for x in row):  # a numpy str array cannot end in NUL
        numpy_matrix = parse_ratings(np.array(rows))
        assert numpy_matrix.categories == labels
        assert numpy_matrix.codes.tolist() == expected


SHORT_LABEL = st.text(alphabet=st.sampled_from(["I", "/", "n", "o", "e", "é", "ÿ", "\x01"]), max_size=8)


@settings(max_examples=80, deadline=None)
@given(st.lists(SHORT_LABEL, min_size=1, max_size=60), st.integers(0, 2**32 - 1))
def test_short_labels_are_coded_as_python_sorts_them(labels: list[str], seed: int) -> None:
    """Labels of up to 8 characters below 256 (the look-up-table path), the empty label included, as a
    numpy str array and as bytes; spread over many ratings so that the sample that guesses the distinct
    labels misses some (each label but the first appears once)."""
    rng = np.random.default_rng(seed)
    values = np.array([labels[0]] * 20_000 + labels[1:], dtype=f"U{max(1, max(map(len, labels)))}")
    rng.shuffle(values)
    ratings = values.reshape(-1, 1)
    expected_labels = tuple(sorted(set(values.tolist())))
    position = {label: i for i, label in enumerate(expected_labels)}
    matrix = parse_ratings(ratings)
    assert matrix.categories == expected_labels
    assert matrix.codes[:, 0].tolist() == [position[x] for x in values.tolist()]
    if all(ord(c) < 128 for label in labels for c in label):
        as_bytes = parse_ratings(ratings.astype("S"))
        assert as_bytes.categories == expected_labels
        assert as_bytes.codes.tolist() == matrix.codes.tolist()


def test_many_distinct_short_labels_and_wider_ones_agree_with_numpy_unique() -> None:
    rng = np.random.default_rng(4)
    for width in (3, 8, 9, 20):
        letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
        pool = np.array(["".join(row) for row in letters[rng.integers(0, 26, (5000, width))]])
        values = pool[rng.integers(0, pool.size, 200_000)]
        distinct, inverse = np.unique(values, return_inverse=True)
        matrix = parse_ratings(values.reshape(-1, 4))
        assert matrix.categories == tuple(distinct.tolist())
        assert np.array_equal(matrix.codes.reshape(-1), inverse.reshape(-1))


def test_string_statistics_equal_the_peers_on_modic_labels() -> None:
    rng = np.random.default_rng(3)
    labels = np.array(TYPE_LABELS)
    first = labels[rng.integers(0, 8, 5000)]
    ratings = np.column_stack([first, np.where(rng.random(5000) < 0.7, first, labels[rng.integers(0, 8, 5000)])])
    assert cohen_kappa(ratings).value == pytest.approx(cohen_kappa_score(ratings[:, 0], ratings[:, 1]), abs=1e-12)
    five = np.where(rng.random((5000, 5)) < 0.6, first[:, None], labels[rng.integers(0, 8, (5000, 5))])
    assert fleiss_kappa(five).value == pytest.approx(sm_fleiss(aggregate_raters(five)[0]), abs=1e-12)


def test_a_list_of_string_rows_is_coded_in_one_pass_and_other_kinds_are_checked() -> None:
    matrix = parse_ratings([["I", None], ["none", np.str_("I/II")], ["I", "I"]])
    assert matrix.categories == ("I", "I/II", "none")
    assert matrix.codes.tolist() == [[0, -1], [2, 1], [0, 0]]
    on_scale = parse_ratings([["none", "I"]], categories=["none", "I", "II"])
    assert on_scale.codes.tolist() == [[0, 1]]
    with pytest.raises(AgreementInputError, match="mix str and int"):
        parse_ratings([["1", "1"], ["1", 1]])
    with pytest.raises(AgreementInputError, match="bool"):
        parse_ratings([["1", "1"], ["1", True]])
    with pytest.raises(AgreementInputError, match="'III' at unit 0, rater 1 is not a category"):
        parse_ratings([["none", "III"]], categories=["none", "I"])


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["I", "II"], "ab"], r"unit 1 is 'ab', not a sequence of ratings"),
        ([["I", "II"], ["I"], ["II", "I", "I"]], r"unit 1 has 1 ratings but unit 0 has 2"),
        ([("I", "II"), ("I",)], r"unit 1 has 1 ratings but unit 0 has 2"),
        ([["I", "II"], 7], r"unit 1 is 7, not a sequence of ratings"),
    ],
)
def test_rows_of_lists_checked_in_one_pass_still_name_the_bad_row(rows: list[object], message: str) -> None:
    with pytest.raises(AgreementInputError, match=message):
        parse_ratings(rows)


def test_rows_mixing_lists_tuples_and_arrays_are_one_matrix() -> None:
    rows = [("I", "II"), ["I", "I"], np.array(["none", "I"])]
    assert parse_ratings(rows).codes.tolist() == parse_ratings([["I", "II"], ["I", "I"], ["none", "I"]]).codes.tolist()
