"""Files written whole or not at all, and files hashed without reading them into memory.

``write_atomic(path, data)`` writes a temporary file beside ``path``, flushes it to disk and
renames it over ``path``: a reader sees the old file or the new one, never a partial one, and a
failure at any step removes the temporary file. ``sha256_file(path)`` hashes a file in chunks
(``hashlib.file_digest`` needs Python 3.11; this package supports 3.10).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

CHUNK_BYTES = 1024 * 1024  # read this much at a time when hashing: large enough to be fast


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically; the file gets the mode a plain ``open`` would
    give it (0666 less the umask), not ``mkstemp``'s 0600."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o666 & ~umask())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return path


def umask() -> int:
    """The process's umask (reading it means setting it; it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def sha256_file(path: str | os.PathLike) -> str:
    """The hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()
