"""Line-based reading helpers: exact parsing, 1-based line numbers, precise errors, skip mode."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kgrec.data.readers._lines import (
    Column,
    SkipLog,
    check_ids_writable,
    check_on_error,
    drop_or_raise,
    format_number,
    maybe_int,
    read_lines,
    read_ragged_ints,
    read_table,
    write_rows,
)
from kgrec.exceptions import DataFormatError, DataWarning

COLUMNS = [Column("user"), Column("item", "int"), Column("rating", "float")]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------- read_lines
def test_read_lines_skips_blank_lines_and_keeps_numbers(tmp_path: Path) -> None:
    path = write(tmp_path / "f.txt", "a\r\n\n  \nb\n\nc")
    lines, numbers = read_lines(path)
    assert lines == ["a", "b", "c"]
    assert numbers.tolist() == [1, 4, 6]


def test_read_lines_does_not_split_on_unicode_line_breaks(tmp_path: Path) -> None:
    path = write(tmp_path / "f.txt", "a\u2028x\tb\nc\x85d\n")
    lines, numbers = read_lines(path)
    assert lines == ["a\u2028x\tb", "c\x85d"]
    assert numbers.tolist() == [1, 2]


@pytest.mark.parametrize("text", ["", "\n\n", "  \n\t\n"])
def test_read_lines_empty_file_raises(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "empty.txt", text)
    with pytest.raises(DataFormatError, match="empty") as info:
        read_lines(path)
    assert info.value.file == str(path)
    assert info.value.line is None
    assert read_lines(path, allow_empty=True)[0] == []


def test_read_lines_missing_file() -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_lines("/nonexistent/ratings.txt")


def test_read_lines_non_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"1\t2\n3\t4\n5\t\xe9t\xe9\n")
    with pytest.raises(DataFormatError, match="UTF-8") as info:
        read_lines(path)
    assert info.value.line == 3


# ---------------------------------------------------------------------- read_table
def test_read_table_parses_types_and_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "r.tsv", "u1\t10\t4.5\n\nu2\t-3\t1e2\nu3\t7\t0\n")
    table = read_table(path, COLUMNS)
    frame = table.frame
    assert frame["user"].tolist() == ["u1", "u2", "u3"]
    assert frame["item"].tolist() == [10, -3, 7]
    assert frame["item"].dtype == np.int64
    assert frame["rating"].tolist() == [4.5, 100.0, 0.0]
    assert frame["_line"].tolist() == [1, 3, 4]
    assert table.header is None
    assert table.skipped == {}


def test_read_table_whitespace_separator(tmp_path: Path) -> None:
    path = write(tmp_path / "r.txt", "u1   10 \t 4.5\nu2 3 1\n")
    frame = read_table(path, COLUMNS, sep=None).frame
    assert frame["item"].tolist() == [10, 3]
    assert frame["rating"].tolist() == [4.5, 1.0]


def test_read_table_wrong_column_count(tmp_path: Path) -> None:
    path = write(tmp_path / "r.tsv", "u1\t10\t4.5\nu2\t11\n")
    with pytest.raises(DataFormatError, match=r"expected 3 columns \(user, item, rating\)") as info:
        read_table(path, COLUMNS)
    err = info.value
    assert (err.file, err.line, err.field) == (str(path), 2, "rating")
    assert "got 2" in str(err) and "'u2\\t11'" in str(err)


def test_read_table_too_many_columns_has_no_field(tmp_path: Path) -> None:
    path = write(tmp_path / "r.tsv", "u1\t10\t4.5\t9\n")
    with pytest.raises(DataFormatError, match="got 4") as info:
        read_table(path, COLUMNS)
    assert info.value.line == 1
    assert info.value.field is None


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ("u2\tx7\t1", "item", "expected an integer, got 'x7'"),
        ("u2\t1.5\t1", "item", "expected an integer, got '1.5'"),
        ("u2\t99999999999999999999\t1", "item", "expected an integer"),
        ("u2\t7\tgood", "rating", "expected a number, got 'good'"),
        ("u2\t7\tnan", "rating", "expected a finite number, got 'nan'"),
        ("u2\t7\t-inf", "rating", "expected a finite number, got '-inf'"),
        ("u2\t\t1", "item", "missing value"),
        ("\t7\t1", "user", "missing value"),
    ],
)
def test_read_table_bad_value(tmp_path: Path, row: str, field: str, message: str) -> None:
    path = write(tmp_path / "r.tsv", f"u1\t10\t4.5\n{row}\n")
    with pytest.raises(DataFormatError) as info:
        read_table(path, COLUMNS)
    assert info.value.line == 2
    assert info.value.field == field
    assert message in str(info.value)


def test_read_table_reports_the_earliest_bad_line(tmp_path: Path) -> None:
    # a wrong column count on line 4 and a non-numeric value on line 2: line 2 wins
    path = write(tmp_path / "r.tsv", "u1\t1\t1\nu2\t2\tbad\nu3\t3\t3\nu4\t4\n")
    with pytest.raises(DataFormatError) as info:
        read_table(path, COLUMNS)
    assert (info.value.line, info.value.field) == (2, "rating")


def test_read_table_python_int_syntax_is_accepted_consistently(tmp_path: Path) -> None:
    # "1_000" parses with int() but not with numpy's fast path when mixed with a bad value
    path = write(tmp_path / "r.tsv", "u1\t1_000\t1\nu2\tbad\t2\n")
    table = read_table(path, COLUMNS, on_error="skip")
    assert table.frame["item"].tolist() == [1000]
    assert table.skipped == {"non_integer": 1}


def test_read_table_skip_mode_counts_by_kind(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "u1\t1\t1",  # ok
            "u2\t2",  # wrong count
            "u3\tx\t3",  # non_integer
            "u4\t4\tfour",  # non_numeric
            "u5\t5\tnan",  # non_finite
            "\t6\t6",  # missing value
            "u7\t7\t7\t7",  # wrong count
            "u8\t8\t8",  # ok
        ]
    )
    table = read_table(write(tmp_path / "r.tsv", text), COLUMNS, on_error="skip")
    assert table.skipped == {
        "missing_value": 1,
        "non_finite": 1,
        "non_integer": 1,
        "non_numeric": 1,
        "wrong_column_count": 2,
    }
    assert table.frame["user"].tolist() == ["u1", "u8"]
    assert table.frame["_line"].tolist() == [1, 8]


def test_read_table_choices(tmp_path: Path) -> None:
    cols = [Column("user"), Column("label", "int", choices=(0, 1))]
    path = write(tmp_path / "r.tsv", "a\t1\nb\t0\nc\t2\nd\t-1\n")
    with pytest.raises(DataFormatError, match="expected 0 or 1, got '2'") as info:
        read_table(path, cols)
    assert (info.value.line, info.value.field) == (3, "label")
    table = read_table(path, cols, on_error="skip")
    assert table.frame["label"].tolist() == [1, 0]
    assert table.skipped == {"unexpected_value": 2}


def test_read_table_header_true_and_auto(tmp_path: Path) -> None:
    path = write(tmp_path / "h.tsv", "userID\tartistID\tweight\n2\t51\t13883\n")
    cols = [Column("user"), Column("item", "int"), Column("weight", "float")]
    table = read_table(path, cols, header="auto")
    assert table.header == ["userID", "artistID", "weight"]
    assert table.header_line == 1
    assert table.frame["_line"].tolist() == [2]
    no_header = write(tmp_path / "n.tsv", "2\t51\t13883\n")
    table = read_table(no_header, cols, header="auto")
    assert table.header is None and table.frame["item"].tolist() == [51]


def test_read_table_header_only_is_empty(tmp_path: Path) -> None:
    path = write(tmp_path / "h.tsv", "a\tb\tc\n")
    with pytest.raises(DataFormatError, match="no data lines after the header"):
        read_table(path, COLUMNS, header=True)
    assert len(read_table(path, COLUMNS, header=True, allow_empty=True).frame) == 0


def test_read_table_optional_trailing_column(tmp_path: Path) -> None:
    cols = [Column("org_id"), Column("remap_id", "int"), Column("freebase_id", required=False)]
    path = write(tmp_path / "l.txt", "a 0 m.1\nb 1\n")
    frame = read_table(path, cols, sep=None).frame
    assert frame["freebase_id"].tolist() == ["m.1", ""]
    bad = write(tmp_path / "bad.txt", "a\n")
    with pytest.raises(DataFormatError, match="expected 2 to 3 columns") as info:
        read_table(bad, cols, sep=None)
    assert info.value.field == "remap_id"


def test_read_table_rsplit_keeps_separators_in_first_column(tmp_path: Path) -> None:
    cols = [Column("org_id", allow_empty=True), Column("remap_id", "int")]
    path = write(tmp_path / "e.txt", 'org_id remap_id\nm.1 0\n"""I Love You 1\n 2\nx 3  \n')
    table = read_table(path, cols, sep=" ", header="auto", rsplit=True)
    assert table.frame["org_id"].tolist() == ["m.1", '"""I Love You', "", "x"]
    assert table.frame["remap_id"].tolist() == [0, 1, 2, 3]


def test_read_table_invalid_on_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="on_error must be"):
        read_table(write(tmp_path / "r.tsv", "u\t1\t1\n"), COLUMNS, on_error="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        check_on_error("Skip")


# ---------------------------------------------------------------------- read_ragged_ints
def test_read_ragged_ints(tmp_path: Path) -> None:
    path = write(tmp_path / "train.txt", "0 5 6 7\n1\n\n2 5\r\n")
    ragged = read_ragged_ints(path, head_field="user", value_field="item")
    assert ragged.heads.tolist() == [0, 1, 2]
    assert ragged.lengths.tolist() == [3, 0, 1]
    assert ragged.lines.tolist() == [1, 2, 4]
    pairs = ragged.pairs("user", "item")
    assert pairs.values.tolist() == [[0, 5, 1], [0, 6, 1], [0, 7, 1], [2, 5, 4]]


@pytest.mark.parametrize(
    ("line", "field", "token"),
    [("3 4 x5", "item", "'x5' (token 3"), ("u3 4", "user", "'u3' (token 1")],
)
def test_read_ragged_ints_bad_token(tmp_path: Path, line: str, field: str, token: str) -> None:
    path = write(tmp_path / "test.txt", f"0 1 2\n\n{line}\n4 5\n")
    with pytest.raises(DataFormatError, match="expected an integer") as info:
        read_ragged_ints(path, head_field="user", value_field="item")
    assert (info.value.line, info.value.field) == (3, field)
    assert token in str(info.value)


def test_read_ragged_ints_skip_drops_whole_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "t.txt", "0 1 2\n1 x 3\n2 4\n3 5 6.0\n")
    ragged = read_ragged_ints(path, head_field="user", value_field="item", on_error="skip")
    assert ragged.skipped == {"non_integer": 2}
    assert ragged.heads.tolist() == [0, 2]
    assert ragged.values.tolist() == [1, 2, 4]
    assert ragged.lines.tolist() == [1, 3]


def test_read_ragged_ints_empty(tmp_path: Path) -> None:
    path = write(tmp_path / "t.txt", "\n")
    with pytest.raises(DataFormatError, match="empty"):
        read_ragged_ints(path, head_field="user", value_field="item")
    ragged = read_ragged_ints(path, head_field="user", value_field="item", allow_empty=True)
    assert len(ragged.heads) == 0 and len(ragged.pairs("user", "item")) == 0


# ---------------------------------------------------------------------- shared checks
def test_skip_log_report_and_single_warning(tmp_path: Path) -> None:
    log = SkipLog()
    log.add(tmp_path / "a.txt", {"wrong_column_count": 3, "non_numeric": 1})
    log.add(tmp_path / "b.txt", {"wrong_column_count": 2, "unused": 0})
    assert log.total == 6
    assert log.report() == {"skipped_wrong_column_count": 5, "skipped_non_numeric": 1}
    with pytest.warns(DataWarning, match=r"skipped 6 bad row\(s\).*a.txt: 3 wrong_column_count.*b.txt: 2"):
        log.warn("folder")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SkipLog().warn("nothing skipped")  # no warning at all


def test_drop_or_raise(tmp_path: Path) -> None:
    frame = pd.DataFrame({"user": [1, 2, 3], "_line": [4, 7, 9]})
    bad = np.array([False, True, True])

    def message(pos: int) -> str:
        return f"user {frame['user'].iloc[pos]} unknown"

    with pytest.raises(DataFormatError, match="user 2 unknown") as info:
        drop_or_raise(frame, bad, kind="unknown_id", field="user", message=message, file="f.txt", on_error="raise", log=SkipLog())
    assert (info.value.line, info.value.field) == (7, "user")
    log = SkipLog()
    kept = drop_or_raise(frame, bad, kind="unknown_id", field="user", message=message, file="f.txt", on_error="skip", log=log)
    assert kept["user"].tolist() == [1]
    assert log.report() == {"skipped_unknown_id": 2}


def test_maybe_int() -> None:
    a, b = maybe_int(np.array(["1", "20"], dtype=object), np.array(["3"], dtype=object))
    assert a.dtype == np.int64 and a.tolist() == [1, 20] and b.tolist() == [3]
    for odd in (["1", "0012"], ["1", "+3"], ["1", "a"], ["1", " 2"]):
        (out,) = maybe_int(np.array(odd, dtype=object))
        assert out.dtype == object and out.tolist() == odd
    assert maybe_int() == []


def test_writers(tmp_path: Path) -> None:
    assert format_number(np.array([3.0, 2.5, -1.0, 1e20])).tolist() == ["3", "2.5", "-1", "1e+20"]
    with pytest.raises(ValueError, match="cannot write user id 'a b'"):
        check_ids_writable(["ok", "a b"], what="user", forbidden=" \t")
    with pytest.raises(ValueError, match="may not be empty"):
        check_ids_writable(["ok", ""], what="user", forbidden="\t")
    path = tmp_path / "w.tsv"
    write_rows(path, [np.array(["a", "b"], dtype=object), np.array([1, 2])], sep="\t", header="x\ty")
    assert path.read_text() == "x\ty\na\t1\nb\t2\n"
    write_rows(path, [np.array([], dtype=object)], sep="\t")
    assert path.read_text() == ""


# ---------------------------------------------------------------------- the C-parser fast path
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_CELL = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet=st.characters(blacklist_characters="\t\n\r", blacklist_categories=("Cs",)), max_size=6),
    st.sampled_from(["", " 7", "+3", "1_000", "1e3", "0x1F", '"q"', "nan", "-0.0", "\u00a0"]),
)


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(_CELL, _CELL, _CELL), min_size=1, max_size=8))
def test_fast_path_agrees_with_the_checked_path(tmp_path_factory, rows) -> None:
    """Whatever the cells, the fast C-parser path yields what the checked path yields (or
    leaves the table to it): the same frame, or the same error, in both on_error modes."""
    import kgrec.data.readers._lines as lines_module

    path = tmp_path_factory.mktemp("fast") / "t.tsv"
    path.write_text("\n".join("\t".join(r) for r in rows) + "\n", encoding="utf-8")

    def outcome(on_error: str):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                table = read_table(path, COLUMNS, on_error=on_error)
            except DataFormatError as exc:
                return ("error", str(exc))
        return ("ok", table.frame.to_dict("list"), table.skipped)

    for mode in ("raise", "skip"):
        fast = outcome(mode)
        with pytest.MonkeyPatch.context() as m:
            m.setattr(lines_module, "_clean_table_fast", lambda *a, **k: None)
            slow = outcome(mode)
        assert repr(fast) == repr(slow)


def test_fast_path_is_taken_for_a_clean_file(tmp_path: Path, monkeypatch) -> None:
    import kgrec.data.readers._lines as lines_module

    calls = []
    real = lines_module._clean_table_fast
    monkeypatch.setattr(lines_module, "_clean_table_fast", lambda *a: calls.append(1) or real(*a))
    table = read_table(write(tmp_path / "f.tsv", "u1\t3\t4.5\n\nu2\t7\t1\n"), COLUMNS)
    assert calls == [1]
    assert table.frame["item"].tolist() == [3, 7] and table.frame["_line"].tolist() == [1, 3]
    assert table.frame["item"].dtype == np.int64 and table.frame["rating"].dtype == np.float64
