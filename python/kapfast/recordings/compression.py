"""Open a recording whatever its wrapping: plain, gzip, or (batch recordings) a zip archive.

The wrapping is detected from the first bytes, never from the file name: Kapacitor stores
``.srpl`` gzipped and ``.brpl`` as a zip archive under the same names its test fixtures use for
plain text.
"""

from __future__ import annotations

import gzip
import io
import os
import zipfile
from typing import Literal, Self

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
ZIP_EMPTY_MAGIC = b"PK\x05\x06"

Wrapping = Literal["plain", "gzip", "zip"]


def detect_wrapping(path: str | os.PathLike[str]) -> Wrapping:
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head in (ZIP_MAGIC, ZIP_EMPTY_MAGIC):
        return "zip"
    return "plain"


def open_decompressed(path: str | os.PathLike[str]) -> io.BufferedIOBase:
    """A binary reader of the file's content; a gzip file is decompressed on the fly.

    Zip archives hold several sources; open those with :func:`open_zip_member`.
    """
    kind = detect_wrapping(path)
    if kind == "gzip":
        return gzip.open(path, "rb")
    if kind == "zip":
        raise ValueError("a zip archive holds several sources; use open_zip_member")
    return open(path, "rb")


def zip_members(path: str | os.PathLike[str]) -> list[str]:
    """The entries of a Kapacitor batch archive in source order (``0``, ``1``, ... numerically)."""
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
    return sorted(names, key=lambda n: (0, int(n)) if n.isdigit() else (1, 0))


def open_zip_member(path: str | os.PathLike[str], member: str) -> io.BufferedIOBase:
    """A binary reader of one zip entry (read into memory: a batch source is a query result)."""
    with zipfile.ZipFile(path) as zf:
        return io.BytesIO(zf.read(member))


__all__ = [
    "GZIP_MAGIC",
    "ZIP_MAGIC",
    "Wrapping",
    "detect_wrapping",
    "open_decompressed",
    "open_zip_member",
    "zip_members",
]


class GzipWriter:
    """A recording file being written gzipped, deterministically (mtime 0, no file name, so the
    same content always gives the same bytes). Subclasses add the record format."""

    def __init__(self, path: str | os.PathLike[str], *, compresslevel: int) -> None:
        self.path = os.fspath(path)
        self._raw: io.BufferedWriter = open(self.path, "wb")  # noqa: SIM115 (closed by close())
        self._gz = gzip.GzipFile(
            filename="", fileobj=self._raw, mode="wb", compresslevel=compresslevel, mtime=0
        )
        self.closed = False

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("write to a closed recording")

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self._gz.close()
            finally:
                self._raw.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
