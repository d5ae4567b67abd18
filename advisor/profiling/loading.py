"""Reading the tables people actually have: CSV/TSV in any common dialect, compressed, or Parquet.

``load_table(path)`` returns a pandas DataFrame read through pyarrow; ``read_arrow(path)``
returns pyarrow's table before that conversion (the profiler reads it without converting it).
They sniff the container from the file's first bytes (gzip, bz2, xz, zip, Parquet), the
delimiter from the first lines (comma, semicolon, tab, pipe), accept UTF-8 with or without a
byte-order mark, CRLF line ends, and quoted fields holding delimiters or newlines. Everything
that goes wrong becomes one ``AdvisorError`` line that names the file and says how to fix it.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import lzma
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from advisor.base.errors import AdvisorError, UsageError
from advisor.base.suggest import did_you_mean

DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SNIFF_BYTES = 256 * 1024
_MACOS_FOLDER = "__MACOSX/"  # resource forks macOS adds to the zip archives it makes
SNIFF_LINES = 200  # lines the delimiter is judged on
_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PK\x03\x04", "zip"),
    (b"PAR1", "parquet"),
)


@dataclass(frozen=True)
class SourceFormat:
    """How a file was read: reported in profiles so a surprising parse can be traced."""

    container: str  # csv | parquet
    compression: str | None  # gzip | bz2 | xz | zip | None
    delimiter: str | None
    encoding: str | None

    def describe(self) -> str:
        if self.container == "parquet":
            return "Parquet" + (f" in {self.compression}" if self.compression else "")
        name = _DELIMITER_NAMES.get(self.delimiter or ",", repr(self.delimiter))
        text = f"{name}-separated text, {self.encoding}"
        return text + (f", {self.compression}-compressed" if self.compression else "")


def load_table(path: str | os.PathLike, encoding: str | None = None) -> pd.DataFrame:
    """Read ``path`` into a DataFrame; ``encoding`` overrides UTF-8 for text files.

    The DataFrame's ``attrs["source_format"]`` holds the :class:`SourceFormat` as a dict.
    """
    return frame_of(*read_arrow(path, encoding))


def frame_of(table: pa.Table, fmt: SourceFormat) -> pd.DataFrame:
    """The DataFrame :func:`load_table` makes of a table :func:`read_arrow` read (the table's
    buffers are released as they are converted: use the table no more)."""
    frame = to_frame(table)
    frame.attrs["source_format"] = {
        "container": fmt.container,
        "compression": fmt.compression,
        "delimiter": fmt.delimiter,
        "encoding": fmt.encoding,
    }
    return frame


def read_arrow(path: str | os.PathLike, encoding: str | None = None) -> tuple[pa.Table, SourceFormat]:
    """Read ``path`` as :func:`load_table` does, but return pyarrow's table (not yet converted
    to pandas: :func:`to_frame` converts it) and how it was read."""
    path = Path(path)
    _check_readable(path)
    if encoding is not None:
        try:
            encoding = codecs.lookup(encoding).name
        except (LookupError, ValueError):  # ValueError: a name with a NUL byte
            raise UsageError(
                f"Unknown encoding {encoding!r} for {path}. Use a Python codec name such as "
                "utf-8, latin-1, cp1252 or utf-16."
            ) from None
    head = _read_head(path)
    compression = _sniff_compression(head)
    if compression == "parquet":
        return _read_parquet(path, compression=None), SourceFormat("parquet", None, None, None)
    if compression == "zip":
        return _read_zip(path, encoding)
    text_head = _decompressed_head(path, compression) if compression else head
    return _read_text(path, path, path, text_head, compression, encoding)


def sniff_delimiter(text: str, suffix: str = "") -> str:
    """The delimiter whose split gives the most lines with the same field count (> 1 field).

    A ``.tsv``/``.tab`` file is tab-separated unless its lines say otherwise. A table with one
    column has no delimiter at all; it is read as comma-separated.
    """
    lines = text.splitlines()[:SNIFF_LINES + 1]
    # The last line of a sample may be cut mid-row; the first is the header and must split too.
    sample = "\n".join(lines[:-1] if len(lines) > 2 else lines)
    best, best_key = ",", None
    for delimiter in DELIMITERS:
        rows = list(csv.reader(io.StringIO(sample), delimiter=delimiter))
        counts = [len(r) for r in rows if r]
        if not counts or counts[0] < 2:
            continue
        consistent = sum(c == counts[0] for c in counts) / len(counts)
        preferred = suffix in (".tsv", ".tab") and delimiter == "\t"
        key = (consistent, preferred, counts[0])
        if best_key is None or key > best_key:
            best, best_key = delimiter, key
    return best


def _check_readable(path: Path) -> None:
    if not path.exists():
        hint = ""
        siblings = sorted(p.name for p in path.parent.glob("*")) if path.parent.is_dir() else []
        if siblings:
            hint = did_you_mean(path.name, siblings, shown=str(path.parent / "{}"))
        raise AdvisorError(f"Input file {path} does not exist.{hint} Check the path.")
    if path.is_dir():
        raise AdvisorError(
            f"Input {path} is a directory; expected a data file (CSV, TSV, gzip/bz2/xz/zip, "
            "Parquet). Pass the path of a file inside it."
        )
    if path.stat().st_size == 0:
        raise AdvisorError(f"Input file {path} is empty (0 bytes); expected a table with a header row.")
    if not os.access(path, os.R_OK):
        raise AdvisorError(f"Input file {path} is not readable; check its permissions.")


def _read_head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(_SNIFF_BYTES)


def _sniff_compression(head: bytes) -> str | None:
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


def _open_decompressed(path: Path, compression: str):
    opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}[compression]
    return opener(path, "rb")


def _decompressed_head(path: Path, compression: str) -> bytes:
    try:
        with _open_decompressed(path, compression) as handle:
            return handle.read(_SNIFF_BYTES)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise AdvisorError(
            f"Input file {path} looks {compression}-compressed but cannot be decompressed ({exc}). "
            "Re-create the archive or pass the uncompressed file."
        ) from None


def _read_zip(path: Path, encoding: str | None) -> tuple[pa.Table, SourceFormat]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise AdvisorError(f"Input file {path} is not a readable zip archive ({exc}).") from None
    with archive:
        member = _zip_table(archive, path)
        data = archive.read(member)
    label = Path(f"{path}:{member.filename}")
    inner = _sniff_compression(data[:16])
    if inner == "parquet":
        return _read_parquet(pa.BufferReader(data), compression="zip", label=label), SourceFormat(
            "parquet", "zip", None, None
        )
    if inner is not None:
        raise AdvisorError(f"Zip archive {path} holds a {inner} file; pass it uncompressed once.")
    return _read_text(data, path, label, data[:_SNIFF_BYTES], "zip", encoding)


def _zip_table(archive: zipfile.ZipFile, path: Path) -> zipfile.ZipInfo:
    """The one table in a zip archive; folders and macOS's ``__MACOSX/`` resource forks (which
    Finder adds to every archive it makes) are not tables."""
    members = [m for m in archive.infolist()
               if not m.is_dir() and not m.filename.startswith(_MACOS_FOLDER)]
    if len(members) != 1:
        names = ", ".join(m.filename for m in members) or "nothing"
        raise AdvisorError(
            f"Zip archive {path} must hold exactly one table; it holds {names}. "
            "Extract the table you mean and pass that file."
        )
    return members[0]


def _read_parquet(source, compression: str | None, label: Path | None = None) -> pa.Table:
    try:
        table = pq.read_table(source)
    except (pa.ArrowException, OSError) as exc:
        raise AdvisorError(f"Parquet file {label or source} cannot be read ({exc}).") from None
    if table.num_rows == 0:
        raise AdvisorError(f"Input file {label or source} has columns but no rows; expected data rows.")
    return table


def _check_text(head: bytes, label: Path, encoding: str | None) -> None:
    if b"\x00" in head and (encoding or "utf-8").replace("_", "-") not in ("utf-16", "utf-32"):
        offset = head.index(b"\x00")
        raise AdvisorError(
            f"Input file {label} does not look like a text table: it holds binary data (a NUL byte "
            f"at offset {offset}). Expected CSV/TSV text (optionally gzip/bz2/xz/zip-compressed) "
            "or Parquet."
        )
    controls = sum(head.count(bytes([c])) for c in (*range(1, 9), *range(14, 32)))
    if head and controls / len(head) > 0.01:
        raise AdvisorError(
            f"Input file {label} does not look like a text table: {controls} of its first "
            f"{len(head)} bytes are control characters. Expected CSV/TSV text (optionally "
            "gzip/bz2/xz/zip-compressed) or Parquet."
        )
    if encoding is None:
        _check_utf8(head, label, truncated=len(head) >= _SNIFF_BYTES)
    if not head.strip():
        raise AdvisorError(f"Input file {label} holds only white space; expected a table with a header row.")


def _check_utf8(data: bytes, label: Path, truncated: bool) -> None:
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sample's end is not an error.
        if truncated and exc.start >= len(data) - 4:
            return
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise AdvisorError(
            f"Input file {label} is not valid UTF-8 (byte 0x{bad} on line {line}). Pass its "
            "encoding, e.g. --encoding latin-1 or --encoding cp1252 (encoding='latin-1' in Python)."
        ) from None


def _read_text(source, origin: Path, label: Path, head: bytes, compression: str | None,
               encoding: str | None):
    _check_text(head, label, encoding)
    text_head = head.decode(encoding or "utf-8-sig", errors="replace")
    delimiter = sniff_delimiter(text_head, suffix=_text_suffix(label))
    # Naming an encoding, even utf8, makes pyarrow transcode the whole stream (+80% read time).
    read_options = (pacsv.ReadOptions() if encoding in (None, "utf-8")
                    else pacsv.ReadOptions(encoding=encoding))
    convert_options = pacsv.ConvertOptions(strings_can_be_null=True)

    def read(newlines_in_values: bool) -> pa.Table:
        stream = source
        if isinstance(source, bytes):  # a zip member, already in memory
            stream = pa.BufferReader(source)
        elif compression in ("gzip", "bz2"):
            stream = pa.CompressedInputStream(pa.OSFile(str(source)), compression)
        elif compression == "xz":
            stream = _open_decompressed(Path(source), "xz")
        parse_options = pacsv.ParseOptions(delimiter=delimiter,
                                           newlines_in_values=newlines_in_values)
        return pacsv.read_csv(stream, read_options, parse_options, convert_options)

    # pyarrow splits blocks at line ends to parse them in parallel; a quoted value holding a
    # newline across a block boundary then corrupts rows silently. The quote-aware reader is
    # slower, so it is used only when the file contains a quote character at all. A plain file
    # with no quote in its head is read block-parallel while a thread scans the rest for one
    # (pyarrow reads without the GIL); if the scan finds one, the file is read again, quote-aware.
    quoted = compression is not None or isinstance(source, bytes) or b'"' in head
    try:
        if quoted:
            table = read(newlines_in_values=True)
        else:
            with ThreadPoolExecutor(max_workers=1) as pool:
                scan = pool.submit(_has_quote, Path(source))
                try:
                    table = read(newlines_in_values=False)
                except pa.ArrowInvalid:
                    if not scan.result():
                        raise
                    table = None
                if scan.result():
                    table = read(newlines_in_values=True)
    except pa.ArrowInvalid as exc:
        raise _parse_error(exc, origin, label, delimiter, encoding) from None
    _check_columns(table, label, encoding)
    if table.num_rows == 0:
        raise AdvisorError(
            f"Input file {label} has a header ({', '.join(table.column_names[:8])}) but no data "
            "rows; expected at least one row."
        )
    fmt = SourceFormat("csv", compression, delimiter, encoding or "utf-8")
    return table, fmt


def to_frame(table: pa.Table, release: bool = True) -> pd.DataFrame:
    """The table as pandas, column by column and releasing Arrow memory as it goes (unless
    ``release`` is false: the table is still read). Text stays in Arrow's own string arrays
    (zero-copy); converting a million strings into pandas' default string storage costs about
    a quarter of the read."""
    def text_as_arrow(arrow_type):
        if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
            return pd.ArrowDtype(arrow_type)
        return None

    return table.to_pandas(self_destruct=release, split_blocks=True, date_as_object=False,
                           types_mapper=text_as_arrow)


def reading(kind: pa.DataType, dtype) -> str:
    """How a column of Arrow type ``kind``, which :func:`to_frame` makes pandas ``dtype``, can
    be read in Arrow with pandas' meaning: ``float`` and ``integer`` (booleans too) when it
    becomes a numpy number, ``text`` when it stays Arrow strings; else ``pandas`` (convert it)."""
    if isinstance(dtype, np.dtype):
        if pa.types.is_floating(kind) and dtype.kind == "f":
            return "float"
        if (pa.types.is_integer(kind) and dtype.kind in "iu") or (
                pa.types.is_boolean(kind) and dtype.kind == "b"):
            return "integer"
    elif arrow_text(dtype) and (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return "text"
    return "pandas"


def pandas_nbytes(values, reading: str, dtype, convert) -> int:
    """What one column, read as ``reading`` (:func:`column_readings`), takes in the loader's
    pandas frame (``memory_usage(index=False)``): integers with a null become float64, text
    stays Arrow's; ``convert()`` gives the converted column, measured for the other readings
    (booleans with a null become Python objects)."""
    if reading == "text":
        return values.nbytes
    if reading in ("float", "integer"):
        return len(values) * (8 if values.null_count and reading == "integer" else dtype.itemsize)
    return int(convert().memory_usage(index=False))


def column_readings(schema: pa.Schema) -> dict[str, tuple[str, Any]] | None:
    """Each column's (:func:`reading`, pandas dtype) as :func:`to_frame` converts a table of
    this schema (its pandas metadata included); None when that frame's columns are not the
    table's own (pandas metadata that makes a column the index, or repeated names). Kept for
    the schemas last seen (converting an empty table costs a millisecond or two a call)."""
    key = schema.serialize().to_pybytes()
    if key in _READINGS:
        return _READINGS[key]
    empty = to_frame(schema.empty_table())
    names = schema.names
    found = None
    if [str(c) for c in empty.columns] == names and len(set(names)) == len(names):
        found = {name: (reading(schema.field(name).type, dtype), dtype)
                 for name, dtype in zip(names, empty.dtypes)}
    if len(_READINGS) >= _READINGS_KEPT:
        _READINGS.pop(next(iter(_READINGS)))
    _READINGS[key] = found
    return found


_READINGS: dict[bytes, dict[str, tuple[str, Any]] | None] = {}
_READINGS_KEPT = 32


def arrow_text(dtype) -> bool:
    """Text held in Arrow string arrays (as :func:`to_frame` keeps it), whose ``str.strip`` is
    Arrow's ``utf8_trim_whitespace``."""
    if isinstance(dtype, pd.ArrowDtype):
        return pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(dtype.pyarrow_dtype)
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def _has_quote(path: Path) -> bool:
    """Whether the file holds a double quote anywhere (a memchr scan of a memory map)."""
    import mmap

    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return data.find(b'"') != -1


def _text_suffix(label: Path) -> str:
    suffixes = [s.lower() for s in label.suffixes]
    while suffixes and suffixes[-1] in (".gz", ".bz2", ".xz", ".zip"):
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def _check_columns(table: pa.Table, label: Path, encoding: str | None) -> None:
    names = table.column_names
    seen = set()
    for name in names:
        if name in seen:
            raise AdvisorError(
                f"Input file {label} has two columns named '{name}'; column names must be unique. "
                "Rename one of them."
            )
        seen.add(name)
    if encoding is None:
        for field in table.schema:
            if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
                # pyarrow keeps undecodable text as bytes instead of failing: find the bad byte.
                column = table.column(field.name)
                for value in column.to_pylist():
                    if value is not None:
                        try:
                            value.decode("utf-8")
                        except UnicodeDecodeError as exc:
                            bad = value[exc.start : exc.start + 1].hex()
                            raise AdvisorError(
                                f"Input file {label} is not valid UTF-8 (byte 0x{bad} in column "
                                f"'{field.name}'). Pass its encoding, e.g. --encoding latin-1 or "
                                "--encoding cp1252 (encoding='latin-1' in Python)."
                            ) from None


def _parse_error(exc: Exception, origin: Path, label: Path, delimiter: str, encoding: str | None):
    message = str(exc)
    if "Empty CSV file" in message:
        return AdvisorError(f"Input file {label} holds no header row; expected a table.")
    if "Expected" in message and "columns" in message:
        found = _find_ragged_line(origin, delimiter, encoding)
        if found:
            line, fields, expected = found
            return AdvisorError(
                f"Input file {label} line {line} has {fields} fields but the header has {expected} "
                f"(delimiter {_DELIMITER_NAMES[delimiter]}). Fix that row, or quote a value that "
                "contains the delimiter."
            )
    detail = message.splitlines()[0] if message else type(exc).__name__
    return AdvisorError(f"Input file {label} cannot be parsed as a table: {detail}.")


def _find_ragged_line(path: Path, delimiter: str, encoding: str | None):
    """Line number (1-based, header is line 1), field count and header width of the first bad row."""
    raw = _open_any(path)
    with io.TextIOWrapper(raw, encoding=encoding or "utf-8-sig", errors="replace", newline="") as text:
        reader = csv.reader(text, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            return None
        line = reader.line_num
        for row in reader:
            if row and len(row) != len(header):
                return line + 1, len(row), len(header)
            line = reader.line_num
    return None


def _open_any(path: Path):
    compression = _sniff_compression(_read_head(path)[:16])
    if compression in ("gzip", "bz2", "xz"):
        return _open_decompressed(path, compression)
    if compression == "zip":
        with zipfile.ZipFile(path) as archive:
            return io.BytesIO(archive.read(_zip_table(archive, path)))
    return open(path, "rb")
