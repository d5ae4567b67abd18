"""Tables too large for one file: a directory or a glob of Parquet or CSV shards read as one table.

``table_set(path)`` says whether ``path`` names several shards (an existing directory, or a
pattern holding ``*``, ``?`` or ``[``); ``open_shards(path)`` returns a :class:`Shards`: the
sorted shard files and one ``pyarrow.dataset`` over them, after checking that every shard holds the
same columns with compatible types. ``open_file(path)`` does the same for one large file, so the
streaming profiler reads every input the same way: record batch by record batch, never the whole
table at once.

Shards are read in sorted path order, so row numbers (and the seeded samples drawn from them) do
not depend on the file system's listing order. A directory is read recursively; hidden files and
those starting with ``_`` (``_SUCCESS``, ``_metadata``, as Spark and Dask write them) are skipped.
Text shards are sniffed (delimiter, compression, UTF-8) on the first shard, as
:func:`advisor.profiling.loading.load_table` sniffs one file.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from advisor.base.errors import AdvisorError
from advisor.profiling import loading

PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
TEXT_SUFFIXES = (".csv", ".tsv", ".tab", ".txt")
COMPRESSED_SUFFIXES = (".gz", ".bz2")  # pyarrow's datasets decompress these by extension
_PATTERN_CHARACTERS = "*?["


@dataclass(frozen=True)
class Shards:
    """Shard files read as one table."""

    path: str  # as the user gave it
    files: tuple[str, ...]
    dataset: ds.Dataset
    container: str  # parquet | csv
    format: loading.SourceFormat

    @property
    def schema(self) -> pa.Schema:
        return self.dataset.schema

    @property
    def size_bytes(self) -> int:
        return sum(os.path.getsize(f) for f in self.files)

    def describe(self) -> str:
        if self.files == (self.path,):  # one file, read batch by batch
            return self.format.describe()
        many = len(self.files) > 1
        return f"{len(self.files)} {self.format.describe()} shard{'s' if many else ''}"


def table_set(path: str | os.PathLike) -> bool:
    """Whether ``path`` names several shards: a directory, or a glob pattern."""
    text = str(path)
    return Path(text).is_dir() or (any(c in text for c in _PATTERN_CHARACTERS)
                                   and not Path(text).exists())


def open_shards(path: str | os.PathLike) -> Shards:
    """The shards a directory or glob names, as one checked dataset (one-line errors)."""
    files = _shard_files(str(path))
    return _open(str(path), files)


def open_file(path: str | os.PathLike) -> Shards:
    """One file as a one-shard dataset, for reading it batch by batch."""
    return _open(str(path), [str(path)])


def _shard_files(path: str) -> list[str]:
    if Path(path).is_dir():
        candidates = [str(p) for p in Path(path).rglob("*") if p.is_file()]
        where = f"directory {path}"
    else:
        candidates = [p for p in glob.glob(path, recursive=True) if os.path.isfile(p)]
        where = f"pattern {path}"
        if not candidates:
            raise AdvisorError(
                f"No file matches the pattern {path}. Check the pattern (quote it so the shell "
                "passes it unexpanded), or pass a directory or a file."
            )
    files = sorted(p for p in candidates if not _hidden(p))
    tables = [p for p in files if _kind_by_name(p)]
    if not tables:
        shown = ", ".join(Path(p).name for p in files[:5]) or "no files"
        what = "is a directory with" if Path(path).is_dir() else "matches"
        raise AdvisorError(
            f"Input {path} {what} no Parquet or CSV shards ({shown}); expected a data file "
            "(CSV, TSV, Parquet, compressed) or shards (.parquet or .csv files with the same "
            "columns)."
        )
    kinds = {_kind_by_name(p) for p in tables}
    if len(kinds) > 1:
        first = {k: next(p for p in tables if _kind_by_name(p) == k) for k in kinds}
        raise AdvisorError(
            f"The {where} mixes Parquet ({first['parquet']}) and text ({first['csv']}) shards; "
            "pass a pattern that matches one kind, e.g. '*.parquet'."
        )
    empty = next((p for p in tables if os.path.getsize(p) == 0), None)
    if empty:
        raise AdvisorError(f"Shard {empty} is empty (0 bytes); remove it or re-write it.")
    return tables


def _hidden(path: str) -> bool:
    return Path(path).name.startswith((".", "_"))


def _kind_by_name(path: str) -> str | None:
    suffixes = [s.lower() for s in Path(path).suffixes]
    while suffixes and suffixes[-1] in COMPRESSED_SUFFIXES:
        suffixes.pop()
    if suffixes and suffixes[-1] in PARQUET_SUFFIXES:
        return "parquet"
    if suffixes and suffixes[-1] in TEXT_SUFFIXES:
        return "csv"
    return None


def _open(path: str, files: list[str]) -> Shards:
    head = loading._read_head(Path(files[0]))
    if loading._sniff_compression(head) == "parquet":
        return _open_parquet(path, files)
    return _open_text(path, files, head)


def _open_parquet(path: str, files: list[str]) -> Shards:
    schemas = []
    for file in files:
        try:
            schemas.append(pq.read_schema(file))
        except (pa.ArrowException, OSError) as exc:
            raise AdvisorError(f"Shard {file} cannot be read as Parquet ({_first_line(exc)}). "
                               "Re-write it or remove it.") from None
    schema = _agreed_schema(files, schemas)
    dataset = ds.dataset(files, schema=schema, format="parquet")
    return Shards(path, tuple(files), dataset, "parquet",
                  loading.SourceFormat("parquet", None, None, None))


def _open_text(path: str, files: list[str], head: bytes) -> Shards:
    compression = loading._sniff_compression(head)
    if compression in ("xz", "zip"):
        raise AdvisorError(
            f"Shard {files[0]} is {compression}-compressed; text shards are read as plain, "
            ".gz or .bz2 files. Re-compress them with gzip or pass them uncompressed."
        )
    label = Path(files[0])
    text_head = loading._decompressed_head(label, compression) if compression else head
    loading._check_text(text_head, label, None)
    delimiter = loading.sniff_delimiter(text_head.decode("utf-8-sig", errors="replace"),
                                        suffix=loading._text_suffix(label))
    quoted = compression is not None or any(loading._has_quote(Path(f)) for f in files)
    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=quoted)
    convert = pacsv.ConvertOptions(strings_can_be_null=True)
    csv_format = ds.CsvFileFormat(parse_options=parse, convert_options=convert)
    schemas = []
    for file in files:
        try:
            schemas.append(ds.dataset(file, format=csv_format).schema)
        except (pa.ArrowException, OSError) as exc:
            raise AdvisorError(f"Shard {file} cannot be parsed as a table ({_first_line(exc)}). "
                               "Fix it or remove it.") from None
    schema = _agreed_schema(files, schemas)
    dataset = ds.dataset(files, schema=schema, format=csv_format)
    return Shards(path, tuple(files), dataset, "csv",
                  loading.SourceFormat("csv", compression, delimiter, "utf-8"))


def _agreed_schema(files: list[str], schemas: list[pa.Schema]) -> pa.Schema:
    """One schema for every shard: the same column names (in any order) and types that widen to
    one another (int to float, a column all missing in one shard); otherwise a one-line error
    naming the first shard that disagrees with the first one."""
    first = schemas[0]
    names = first.names
    if len(set(names)) != len(names):
        repeated = next(n for n in names if names.count(n) > 1)
        raise AdvisorError(f"Shard {files[0]} has two columns named '{repeated}'; column names "
                           "must be unique. Rename one of them.")
    merged = first
    for file, schema in zip(files[1:], schemas[1:]):
        if set(schema.names) != set(names) or len(schema.names) != len(names):
            extra = [n for n in schema.names if n not in names]
            absent = [n for n in names if n not in schema.names]
            what = "; ".join(part for part in (
                f"extra column(s) {', '.join(extra[:5])}" if extra else "",
                f"no column(s) {', '.join(absent[:5])}" if absent else "") if part)
            raise AdvisorError(
                f"Shard {file} does not have the columns of {files[0]} ({what}). Every shard must "
                "hold the same columns: re-write it, or move it out of the input."
            )
        try:
            merged = pa.unify_schemas([merged, schema], promote_options="permissive")
        except (pa.ArrowException, TypeError):
            bad = next(n for n in names if not _compatible(merged.field(n).type,
                                                           schema.field(n).type))
            raise AdvisorError(
                f"Shard {file} stores column '{bad}' as {schema.field(bad).type} but {files[0]} "
                f"as {first.field(bad).type}. Write every shard with the same column types."
            ) from None
        bad = next((n for n in names if not _compatible(merged.field(n).type,
                                                        schema.field(n).type)), None)
        if bad is not None:
            raise AdvisorError(
                f"Shard {file} stores column '{bad}' as {schema.field(bad).type} but {files[0]} "
                f"as {first.field(bad).type}. Write every shard with the same column types."
            )
    return pa.schema([merged.field(n) for n in names], metadata=first.metadata)


def _compatible(a: pa.DataType, b: pa.DataType) -> bool:
    """Types one table may hold across shards: equal, null beside anything, numbers beside numbers,
    text beside text."""
    if a.equals(b) or pa.types.is_null(a) or pa.types.is_null(b):
        return True
    numeric = (pa.types.is_integer, pa.types.is_floating)
    if any(t(a) for t in numeric) and any(t(b) for t in numeric):
        return True
    text = (pa.types.is_string, pa.types.is_large_string)
    if any(t(a) for t in text) and any(t(b) for t in text):
        return True
    if pa.types.is_timestamp(a) and pa.types.is_timestamp(b):
        return a.tz == b.tz
    return False


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
