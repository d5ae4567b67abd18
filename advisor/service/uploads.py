"""Multipart uploads streamed straight to disk, with a size cap enforced while they stream.

Starlette's own form parser spools every file part to a temporary file of unbounded size before
the route sees it (fastapi#362). Here the request body is parsed as it arrives: the part named
``file`` goes to a temporary file in the uploads folder while its SHA-256 is computed, and the
upload is refused with 413 as soon as it passes the cap — a ``Content-Length`` above it is refused
before a byte is read — so the server's memory stays flat whatever a client sends. Other form
fields are small strings, capped too. Nothing here opens a path a client named: the client's file
name is a label for messages.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

FIELD_LIMIT = 64 * 1024  # bytes in one non-file field
MAX_FIELDS = 64
FORM_SLACK = 256 * 1024  # what multipart framing and the other fields may add to the file's size
TEMP_PREFIX = ".upload-"
# Suffixes the table reader reads something from (a .tsv prefers tabs); others are dropped.
_SUFFIXES = {".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq", ".gz", ".bz2", ".xz", ".zip"}


class UploadError(Exception):
    """A request body that cannot be taken: ``status`` and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ReceivedFile:
    """The ``file`` part, written to ``path`` (a temporary file in the uploads folder)."""

    path: Path
    label: str  # the client's file name, for messages only
    size: int
    sha256: str
    _synced: Future | None = field(default=None, repr=False, compare=False)
    _gone: bool = field(default=False, repr=False, compare=False)

    @property
    def suffix(self) -> str:
        return table_suffix(self.label)

    def sync_soon(self, folder: Path | None = None) -> None:
        """Start writing the file's bytes to disk (fsync) in the background, unless ``folder``
        holds them already (:func:`keep` will drop this copy); :func:`keep` waits for it."""
        if self._synced is None and not (folder and (folder / self.stored_name).exists()):
            self._synced = _BACKGROUND.submit(_fsync, self.path)

    def sync(self) -> None:
        """The file's bytes are on disk when this returns."""
        self.sync_soon()
        self._synced.result()

    @property
    def stored_name(self) -> str:
        """Its name once kept: its content hash (and the suffix the reader needs)."""
        return self.sha256 + self.suffix

    def discard(self, *, later: bool = False) -> None:
        """Delete the file (``later``: on a background thread: freeing a large file's blocks
        takes milliseconds a request need not wait for)."""
        if self._gone:
            return
        self._gone = True
        if later:
            _BACKGROUND.submit(_unlink, self.path)
        else:
            _unlink(self.path)


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    file: ReceivedFile | None = None
    file_field_was_text: bool = False  # a ``file`` field sent as a string, not a file part


def clean_label(name: str | None) -> str:
    """The client's file name as a one-line label (it is never used as a path)."""
    text = "".join(ch if ch.isprintable() else " " for ch in (name or ""))
    text = " ".join(text.split())[:200]
    return text or "upload"


def table_suffix(label: str) -> str:
    """The suffixes of ``label`` the reader cares about, e.g. ``.tsv.gz`` (else none)."""
    kept = []
    for suffix in reversed(Path(label.replace("\\", "/")).suffixes[-2:]):
        suffix = suffix.lower()
        if suffix not in _SUFFIXES or not re.fullmatch(r"\.[a-z0-9]{1,8}", suffix):
            break
        kept.insert(0, suffix)
    return "".join(kept)


async def receive_form(headers, body: AsyncIterator[bytes], folder: Path,
                       max_bytes: int) -> Form:
    """Parse a multipart/form-data body, writing the ``file`` part under ``folder``.

    Raises :class:`UploadError` (and leaves no temporary file) for a body that is not multipart,
    is malformed, has a second file or an oversized field, or whose file passes ``max_bytes``.
    """
    content_type = headers.get("content-type", "")
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data" or b"boundary" not in params:
        raise UploadError(422, "Expected a multipart/form-data body with the table as a file "
                               "part named 'file' (curl -F file=@data.csv -F target=y).")
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes + FORM_SLACK:
        raise UploadError(413, too_large(max_bytes))
    receiver = _Receiver(folder, max_bytes)
    parser = MultipartParser(params[b"boundary"], receiver.callbacks())
    try:
        async for chunk in body:
            parser.write(chunk)
            receiver.check()
        parser.finalize()
        receiver.check()
        if receiver.open_part is not None:
            raise UploadError(400, "The multipart body ends inside a part; send the whole form.")
    except FormParserError:
        receiver.cleanup()
        raise UploadError(400, "The multipart body is malformed; send it as multipart/form-data "
                               "(curl -F file=@data.csv -F target=y).") from None
    except BaseException:
        receiver.cleanup()  # too large, malformed, or the client went away: no file is left
        raise
    return receiver.form


def too_large(max_bytes: int) -> str:
    return (f"The upload is larger than this server's limit of {max_bytes / 2**20:g} MB "
            "(--max-upload-mb); send a smaller table, e.g. gzip-compressed or Parquet.")


class _Part:
    def __init__(self):
        self.headers: list[tuple[bytes, bytes]] = []
        self.name = ""
        self.label: str | None = None
        self.data = bytearray()
        self.handle = None
        self.path: Path | None = None
        self.size = 0
        self.digest = None


class _Receiver:
    """python-multipart callbacks; errors found inside a callback are raised by :meth:`check`
    (the parser swallows nothing, but raising outside it keeps its state simple)."""

    def __init__(self, folder: Path, max_bytes: int):
        self.folder = folder
        self.max_bytes = max_bytes
        self.form = Form()
        self.open_part: _Part | None = None
        self._header_name = b""
        self._header_value = b""
        self._error: UploadError | None = None
        self._fields = 0
        self._temp: list[Path] = []

    def callbacks(self):
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }

    def fail(self, status: int, message: str) -> None:
        if self._error is None:
            self._error = UploadError(status, message)
        raise self._error

    def check(self) -> None:
        if self._error is not None:
            raise self._error

    def cleanup(self) -> None:
        part = self.open_part
        if part is not None and part.handle is not None:
            part.handle.close()
        for path in self._temp:
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    # parser callbacks

    def on_part_begin(self) -> None:
        self.open_part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self.open_part.headers.append((self._header_name.lower(), self._header_value))
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        part = self.open_part
        disposition = next((v for k, v in part.headers if k == b"content-disposition"), b"")
        _, options = parse_options_header(disposition)
        if b"name" not in options:
            self.fail(400, "A multipart part has no name; every part needs "
                           'Content-Disposition: form-data; name="…".')
        part.name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            if part.name != "file":
                self.fail(422, f"Unexpected file part '{clean_label(part.name)}'; send the table "
                               "as the part named 'file'.")
            if self.form.file is not None:
                self.fail(422, "More than one file part; send one table per request.")
            part.label = clean_label(options[b"filename"].decode("utf-8", "replace"))
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = tempfile.NamedTemporaryFile(dir=self.folder, prefix=TEMP_PREFIX,
                                                 suffix=table_suffix(part.label), delete=False)
            part.handle, part.path = handle, Path(handle.name)
            self._temp.append(part.path)
            part.digest = hashlib.sha256()
        else:
            self._fields += 1
            if self._fields > MAX_FIELDS:
                self.fail(422, f"More than {MAX_FIELDS} form fields.")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self.open_part
        chunk = data[start:end]
        if part.handle is None:
            if len(part.data) + len(chunk) > FIELD_LIMIT:
                self.fail(413, f"The form field '{clean_label(part.name)}' is longer than "
                               f"{FIELD_LIMIT // 1024} KB.")
            part.data.extend(chunk)
            return
        part.size += len(chunk)
        if part.size > self.max_bytes:
            self.fail(413, too_large(self.max_bytes))
        part.handle.write(chunk)
        part.digest.update(chunk)

    def on_part_end(self) -> None:
        part, self.open_part = self.open_part, None
        if part.handle is None:
            if part.name in self.form.fields:
                self.fail(422, f"The form field '{clean_label(part.name)}' is given twice.")
            if part.name == "file":
                self.form.file_field_was_text = True
                return
            self.form.fields[part.name] = part.data.decode("utf-8", "replace")
            return
        part.handle.close()
        self.form.file = ReceivedFile(part.path, part.label, part.size, part.digest.hexdigest())


def keep(received: ReceivedFile, folder: Path, *, later: bool = False) -> str:
    """Store the upload once under its content hash (an atomic rename of the temporary file,
    on disk first; a second copy of the same bytes is dropped — ``later``: by a background
    thread). Returns its file name in ``folder``."""
    name = received.stored_name
    destination = folder / name
    if destination.exists():
        received.discard(later=later)
    else:
        received.sync()  # on disk before a job can name it
        os.replace(received.path, destination)
    return name


# fsyncs and deletions wait on the disk, not the CPU: a few at once, off the request's thread.
_BACKGROUND = ThreadPoolExecutor(max_workers=4, thread_name_prefix="upload-disk")


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def leftover_temp_files(folder: Path) -> list[Path]:
    """Temporary upload files in ``folder`` (none should outlive the request that made them)."""
    return sorted(folder.glob(TEMP_PREFIX + "*")) if folder.is_dir() else []


def relabel(value, path: str, label: str):
    """``value`` (a message or a JSON-able document) with the stored file's path replaced by
    the client's name for the file: messages and results name what the client sent."""
    if isinstance(value, str):
        return value.replace(path, label)
    if isinstance(value, dict):
        return {k: relabel(v, path, label) for k, v in value.items()}
    if isinstance(value, list):
        return [relabel(v, path, label) for v in value]
    return value


def relabel_error(exc: Exception, path: str, label: str) -> Exception:
    """The same kind of error, its message naming the client's file instead of ours."""
    message = relabel(str(exc), path, label)
    try:
        return type(exc)(message)
    except TypeError:  # a subclass with another signature: keep its category
        from advisor.base.errors import AdvisorError, UsageError

        return (UsageError if isinstance(exc, UsageError) else AdvisorError)(message)
