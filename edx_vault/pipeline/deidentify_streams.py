"""The byte streams of a de-identified copy: an original's S3 body in, the copy's bytes out.

Memory is a line (or a table row) and the upload's parts, whatever the file's size: the copy
is transformed as :func:`~edx_vault.engine.publish.upload_stream` reads it.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterable, Iterator
from typing import IO, Any, Final

from edx_vault.engine.course_split import BodyReader, log_lines
from edx_vault.engine.deidentify_events import (
    EventDeidentifier,
    TransformCounts,
    transform_pieces,
)
from edx_vault.engine.deidentify_tables import deidentified_stream
from edx_vault.engine.pseudonyms import Pseudonymizer

READ_BYTES: Final = 1 << 20
# zlib's wbits for a gzip wrapper (16 + a 32 KiB window). zlib writes a gzip header with no
# file name and a zero mtime, so the same lines always give the same bytes (RFC 1952: MTIME 0
# "means no time stamp is available").
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS
_GZIP_LEVEL: Final = 6


class GzipStream(io.RawIOBase):
    """The gzip compression of ``chunks``, as a readable stream."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
        self._pending = b""
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while len(self._pending) < len(buffer) and not self._ended:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._pending += self._compressor.flush()
                self._ended = True
            else:
                self._pending += self._compressor.compress(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _batched(lines: Iterator[bytes], size: int = READ_BYTES) -> Iterator[bytes]:
    """Lines joined into chunks of about ``size`` bytes: one compress call per chunk."""
    pending: list[bytes] = []
    held = 0
    for line in lines:
        pending.append(line)
        held += len(line)
        if held >= size:
            yield b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)


def event_copy(body: Any, pseudonyms: Pseudonymizer) -> tuple[IO[bytes], TransformCounts]:
    """The de-identified copy of a gzip event log's body (gzip too), and the transform's counts.

    Reading the stream raises :class:`~edx_vault.engine.errors.PermanentError`
    (``corrupt-gzip``) when the original is not whole gzip data.
    """
    transform = EventDeidentifier(pseudonyms)
    lines = transform_pieces(log_lines(io.BufferedReader(BodyReader(body), READ_BYTES)), transform)
    stream = io.BufferedReader(GzipStream(_batched(lines)), READ_BYTES)
    return stream, transform.counts


def table_copy(
    table: str, body: Any, pseudonyms: Pseudonymizer
) -> tuple[IO[bytes], TransformCounts]:
    """The de-identified copy of a ``.sql`` table's body, and the transform's counts."""
    stream, transform = deidentified_stream(
        table, io.BufferedReader(BodyReader(body), READ_BYTES), pseudonyms
    )
    return stream, transform.counts


def same_copy(body: Any) -> tuple[IO[bytes], TransformCounts]:
    """A file copied as it is (course content: structure and exports), and empty counts."""
    return io.BufferedReader(BodyReader(body), READ_BYTES), TransformCounts()
