"""Bad input through the command line: one ``Error:`` line, the right exit status, no traceback."""

from __future__ import annotations

import pytest

GOOD = "age,bmi,outcome\n" + "".join(f"{20 + i},{18 + i % 9}.5,{'yes' if i % 4 == 0 else 'no'}\n"
                                      for i in range(40))


def _assert_one_line_error(result, code: int, *fragments: str):
    assert result.exit_code == code, result
    assert result.stdout == "", result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result
    assert "Traceback" not in result.stderr, result
    for fragment in fragments:
        assert fragment in lines[0], result


def test_missing_file(cli, tmp_path):
    _assert_one_line_error(cli("profile", tmp_path / "nope.csv", "--target", "y"), 1,
                           "nope.csv", "does not exist")


def test_directory(cli, tmp_path):
    _assert_one_line_error(cli("profile", tmp_path, "--target", "y"), 1, "is a directory",
                           "expected a data file")


def test_empty_file(cli, write):
    _assert_one_line_error(cli("profile", write("empty.csv", ""), "--target", "y"), 1,
                           "empty.csv", "is empty")


def test_header_only(cli, write):
    _assert_one_line_error(cli("profile", write("h.csv", "age,bmi,outcome\n"), "--target", "outcome"),
                           1, "h.csv", "no data rows")


def test_ragged_rows_name_the_line(cli, write):
    text = GOOD.splitlines()
    text.insert(6, "25,19.5,no,extra")
    path = write("ragged.csv", "\n".join(text) + "\n")
    _assert_one_line_error(cli("profile", path, "--target", "outcome"), 1, "ragged.csv",
                           "line 7 has 4 fields but the header has 3")


def test_unknown_target_suggests_and_lists(cli, write):
    result = cli("profile", write("d.csv", GOOD), "--target", "outcme")
    _assert_one_line_error(result, 2, "'outcme' not found", "Did you mean 'outcome'?",
                           "Columns are: age, bmi, outcome")


def test_target_entirely_missing(cli, write):
    path = write("m.csv", "a,y\n" + "".join(f"{i},\n" for i in range(20)))
    _assert_one_line_error(cli("profile", path, "--target", "y"), 1, "'y'", "no values",
                           "all 20 rows are missing")


def test_single_class(cli, write):
    path = write("one.csv", "a,y\n" + "".join(f"{i},ok\n" for i in range(20)))
    _assert_one_line_error(cli("profile", path, "--target", "y"), 1, "single value", "'ok'")


def test_infinite_target(cli, write):
    rows = "".join(f"{i},{i * 1.5}\n" for i in range(20)) + "20,inf\n21,-inf\n"
    _assert_one_line_error(cli("profile", write("inf.csv", "a,y\n" + rows), "--target", "y"), 1,
                           "±inf in 2 rows", "row 21")


def test_binary_junk(cli, write):
    junk = bytes(range(256)) * 64
    _assert_one_line_error(cli("profile", write("junk.csv", junk), "--target", "y"), 1,
                           "does not look like a text table")


def test_identifier_target(cli, write):
    path = write("ids.csv", "customer_id,spend\n" + "".join(f"C{i:05d},{i % 7}\n" for i in range(200)))
    _assert_one_line_error(cli("profile", path, "--target", "customer_id"), 1,
                           "looks like an identifier", "200 distinct values in 200 rows")


def test_an_encoding_name_that_is_not_a_codec(cli, write):
    path = write("data.csv", "x,y\n1,0\n2,1\n3,0\n4,1\n5,0\n6,1\n")
    for name in ("utf-9", "\x00"):
        _assert_one_line_error(cli("profile", path, "--target", "y", "--encoding", name), 2,
                               "Unknown encoding", "latin-1")


def test_wrong_encoding(cli, write):
    path = write("l.csv", "name,y\nJosé,1\nAna,0\n".encode("latin-1") * 5)
    _assert_one_line_error(cli("profile", path, "--target", "y"), 1, "not valid UTF-8", "--encoding")


def test_usage_error_is_one_line_with_exit_2(cli, write):
    _assert_one_line_error(cli("profile", write("d.csv", GOOD), "--task", "ordinal"), 2,
                           "'ordinal' is not one of", "--help")


def test_incompatible_task_override(cli, write):
    _assert_one_line_error(cli("profile", write("d.csv", GOOD), "--target", "bmi", "--task", "binary"),
                           2, "--task binary does not fit", "found 9")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_good_input_still_works(cli, write, fmt):
    result = cli("profile", write("d.csv", GOOD), "--target", "outcome", "--format", fmt)
    assert result.exit_code == 0, result
    assert "binary" in result.stdout
