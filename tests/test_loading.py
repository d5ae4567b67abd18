"""Reading the tables people have: dialects, compression, Parquet, encodings."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zipfile

import numpy as np
import pandas as pd
import pytest

from advisor.base.errors import AdvisorError, UsageError
from advisor.profiling.loading import load_table, sniff_delimiter

# Quoted fields with an embedded comma and an embedded newline, on purpose.
CSV = 'id,comment,score,label\n1,"fine, thanks",0.5,yes\n2,"two\nlines",1.5,no\n3,plain,2.5,yes\n'
EXPECTED_COMMENTS = ["fine, thanks", "two\nlines", "plain"]


def _check(frame: pd.DataFrame):
    assert list(frame.columns) == ["id", "comment", "score", "label"]
    assert frame["comment"].tolist() == EXPECTED_COMMENTS
    assert frame["score"].tolist() == [0.5, 1.5, 2.5]
    assert frame["id"].dtype.kind == "i"


@pytest.mark.parametrize("delimiter, name", [(",", "comma"), (";", "semicolon"), ("\t", "tab"),
                                             ("|", "pipe")])
def test_delimiters_are_detected(write, delimiter, name):
    text = CSV.replace(",", delimiter).replace(f'"fine{delimiter} thanks"', '"fine, thanks"')
    frame = load_table(write(f"{name}.txt", text))
    _check(frame)
    assert frame.attrs["source_format"]["delimiter"] == delimiter


def test_tsv_suffix(write):
    frame = load_table(write("data.tsv", CSV.replace(",", "\t").replace('"fine\t thanks"', '"fine, thanks"')))
    _check(frame)


@pytest.mark.parametrize("compression, opener", [("gzip", gzip.open), ("bz2", bz2.open),
                                                  ("xz", lzma.open)])
def test_compressed_csv(tmp_path, compression, opener):
    path = tmp_path / f"data.csv.{compression}"
    with opener(path, "wt", encoding="utf-8", newline="") as handle:
        handle.write(CSV)
    frame = load_table(path)
    _check(frame)
    assert frame.attrs["source_format"]["compression"] == compression


def test_compression_is_sniffed_not_taken_from_the_name(tmp_path):
    path = tmp_path / "misnamed.csv"
    path.write_bytes(gzip.compress(CSV.encode()))
    _check(load_table(path))


def test_zip_with_one_table(tmp_path):
    path = tmp_path / "data.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("inner/data.csv", CSV)
    _check(load_table(path))


def test_zip_with_two_tables_is_refused(tmp_path):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", CSV)
        archive.writestr("b.csv", CSV)
    with pytest.raises(AdvisorError, match="exactly one table"):
        load_table(path)


def test_zip_from_macos_reads_the_table_and_names_its_ragged_line(tmp_path, monkeypatch):
    """Finder's archives carry ``__MACOSX/._name`` resource forks: skipped everywhere, also when
    the error message re-reads the table to find a ragged line, and every archive is closed."""
    opened: list[zipfile.ZipFile] = []

    class Recorded(zipfile.ZipFile):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            opened.append(self)

    monkeypatch.setattr(zipfile, "ZipFile", Recorded)
    path = tmp_path / "from_a_mac.zip"
    with zipfile.ZipFile(path, "w") as archive:
        # First in the archive, and itself ragged on another line: reading it would mislead.
        archive.writestr("__MACOSX/._data.csv", "\x00\x05\x16\x07,x\n1,2,3\n")
        archive.writestr("data.csv", "a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n")
    with pytest.raises(AdvisorError, match=r"data\.csv line 4 has 4 fields but the header has 3"):
        load_table(path)
    assert len(opened) >= 3 and all(z.fp is None for z in opened)  # writer, reader, re-reader
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as archive:
        archive.writestr("__MACOSX/._data.csv", "\x00\x05\x16\x07")
        archive.writestr("data.csv", CSV)
    _check(load_table(good))
    assert all(z.fp is None for z in opened)


def test_parquet(tmp_path):
    path = tmp_path / "data.parquet"
    pd.read_csv(pd.io.common.StringIO(CSV)).to_parquet(path)
    _check(load_table(path))


def test_utf8_bom_and_crlf(write):
    frame = load_table(write("bom.csv", b"\xef\xbb\xbf" + CSV.replace("\n", "\r\n").encode()))
    assert list(frame.columns) == ["id", "comment", "score", "label"]  # no BOM in the first name
    assert frame["comment"].tolist() == ["fine, thanks", "two\r\nlines", "plain"]


def test_other_encoding_needs_the_option(write):
    path = write("latin.csv", "name,city\nJosé,Málaga\nAna,Cádiz\n".encode("latin-1"))
    with pytest.raises(AdvisorError, match=r"not valid UTF-8 \(byte 0xe9 on line 2\).*--encoding latin-1"):
        load_table(path)
    assert load_table(path, encoding="latin-1")["city"].tolist() == ["Málaga", "Cádiz"]
    with pytest.raises(UsageError, match="Unknown encoding 'klingon'"):
        load_table(path, encoding="klingon")


def test_bad_utf8_beyond_the_sniffed_head_is_caught(write):
    rows = "".join(f"{i},plain text row {i}\n" for i in range(30_000))
    path = write("late.csv", ("a,b\n" + rows).encode() + "99,caf\xe9\n".encode("latin-1"))
    with pytest.raises(AdvisorError, match="not valid UTF-8 .*column 'b'.*--encoding"):
        load_table(path)


def test_datetimes_and_missing_cells(write):
    frame = load_table(write("d.csv", "when,x,s\n2024-01-05,1,\n2024-02-06,,b\n2024-03-07,3,c\n"))
    assert frame["when"].dtype.kind == "M"
    assert frame["x"].isna().tolist() == [False, True, False]
    assert frame["s"].isna().tolist() == [True, False, False]


def test_large_file_with_quoted_newlines_everywhere(tmp_path):
    """Quoted newlines across pyarrow's block boundaries must not split rows."""
    rng = np.random.default_rng(0)
    n = 200_000
    frame = pd.DataFrame({"a": np.arange(n), "note": np.where(rng.random(n) < 0.3, "x\ny, z", "w"),
                          "y": rng.integers(0, 2, n)})
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    loaded = load_table(path)
    assert len(loaded) == n
    assert (loaded["note"].to_numpy() == frame["note"].to_numpy()).all()


def test_quoted_newlines_that_appear_only_late_in_the_file(tmp_path):
    """The first quote sits far beyond the sniffed head: the reader must still notice it."""
    n = 300_000
    notes = np.array(["plain"] * n, dtype=object)
    notes[250_000::7] = "late\nline, with a comma"
    frame = pd.DataFrame({"a": np.arange(n), "note": notes, "y": np.arange(n) % 2})
    path = tmp_path / "late.csv"
    frame.to_csv(path, index=False)
    assert b'"' not in path.read_bytes()[:1_000_000]
    loaded = load_table(path)
    assert len(loaded) == n
    assert (loaded["note"].to_numpy() == notes).all()


@pytest.mark.parametrize("text, suffix, expected", [
    ("a,b\n1,2\n", "", ","),
    ("a;b\n1,5;2,5\n3,1;4,0\n", "", ";"),  # decimal commas inside a semicolon file
    ("a\tb\n1\t2\n", ".tsv", "\t"),
    ("a|b|c\n1|2|3\n", "", "|"),
    ("single\n1\n2\n", "", ","),
])
def test_sniff_delimiter(text, suffix, expected):
    assert sniff_delimiter(text, suffix) == expected
