"""Splitting one published daily event log into one gzip file per course, in one streaming pass.

The org-level log (``events/...log.gz``, already decrypted and verified) is read from the bucket,
decompressed as it arrives, and each line is filed under the course
:func:`~edx_vault.package.course_ids.course_of_line` names. :class:`~edx_vault.engine.course_files.CourseFiles`
builds the course files in bounded memory and publishes them only once the whole log was read:
a log that cannot be read to its end (corrupt gzip, a dropped connection) publishes no course
file and leaves no multipart upload or spill behind.

Every input line lands in exactly one course file, byte for byte; a last line without its end
of line gets one, so that every course file is whole lines. A line longer than
:data:`MAX_LINE_PIECE_BYTES` is not parsed: it is filed, piece by piece, under ``_unparsed``.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Final

from edx_vault.engine.course_files import CourseFiles, PublishedFile, SplitLimits
from edx_vault.engine.errors import PermanentError
from edx_vault.package.bucket_layout import NO_COURSE, UNPARSED
from edx_vault.package.course_ids import course_of_line

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The longest line parsed as an event; longer ones (edX caps an event far below this) are
# filed whole under _unparsed, read in pieces of this size so memory stays bounded.
MAX_LINE_PIECE_BYTES: Final = 16 * 1024 * 1024
_READ_BUFFER_BYTES: Final = 1024 * 1024


@dataclass(frozen=True)
class SplitLog:
    """What splitting one log published and counted.

    Attributes
    ----------
    files
        Per course partition value, the published file.
    lines
        Lines read from the log.
    unassigned
        Events that name no course (filed under ``_none``).
    unparsed
        Lines that are not JSON events (filed under ``_unparsed``).
    spills
        Spill objects written on the way (0 unless memory ran short; see CourseFiles).
    """

    files: dict[str, PublishedFile]
    lines: int
    unassigned: int
    unparsed: int
    spills: int

    @property
    def course_files(self) -> int:
        """Files of real courses (neither ``_none`` nor ``_unparsed``)."""
        return sum(1 for course in self.files if course not in (NO_COURSE, UNPARSED))


def log_lines(stream: IO[bytes]) -> Iterator[tuple[bytes, bool]]:
    """The lines of a gzip stream (every member of it), as ``(piece, ends_line)``.

    A line longer than :data:`MAX_LINE_PIECE_BYTES` comes as several pieces, only the last with
    ``ends_line``. A last line without ``\\n`` is given one.

    Raises
    ------
    PermanentError
        ``corrupt-gzip`` when the stream is not whole gzip data.
    """
    decompressed = gzip.GzipFile(fileobj=stream, mode="rb")
    reader = decompressed.readline
    in_line = False  # the last piece handed over did not end its line
    try:
        while True:
            piece = reader(MAX_LINE_PIECE_BYTES)
            if not piece:
                if in_line:  # a long last line without its end: end it
                    yield b"\n", True
                return
            if piece.endswith(b"\n"):
                yield piece, True
                in_line = False
            elif len(piece) < MAX_LINE_PIECE_BYTES:
                yield piece + b"\n", True  # the last line, cut short: still one line
                in_line = False
            else:
                yield piece, False
                in_line = True
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise PermanentError(
            "corrupt-gzip",
            f"the decrypted event log is not whole gzip data ({error}); edX's file itself is "
            "damaged: ask edX to deliver it again",
        ) from None


def split_lines(lines: Iterator[tuple[bytes, bool]], files: CourseFiles) -> tuple[int, int, int]:
    """File each line under its course; ``(lines, unassigned, unparsed)``."""
    count = unassigned = unparsed = 0
    in_long_line = False
    for piece, ends_line in lines:
        if in_long_line or not ends_line:
            course = UNPARSED  # a line too long to parse, or the rest of one
            in_long_line = not ends_line
        else:
            course = course_of_line(piece)
        files.add(course, piece, ends_line=ends_line)
        if ends_line:
            count += 1
            unassigned += course == NO_COURSE
            unparsed += course == UNPARSED
    return count, unassigned, unparsed


def split_event_log(
    s3: S3Client,
    *,
    bucket: str,
    log_key: str,
    expected_metadata: dict[str, str],
    kms_key_arn: str,
    key_of: Callable[[str], str],
    spill_prefix: str,
    metadata: dict[str, str],
    limits: SplitLimits | None = None,
) -> SplitLog:
    """Split the published log at ``log_key`` into course files, all published or none.

    Parameters
    ----------
    s3
        The vault's S3 client.
    bucket, log_key
        The org-level log.
    expected_metadata
        Metadata the log must carry (which source version it is); otherwise the log was
        replaced since this split was planned and nothing is split.
    kms_key_arn
        The data key the course files are encrypted under.
    key_of
        The object key of a course's file, by course partition value.
    spill_prefix
        A ``_work/`` prefix of this split's own.
    metadata
        What every course file carries.
    limits
        Memory bounds (:class:`~edx_vault.engine.course_files.SplitLimits`).

    Raises
    ------
    PermanentError
        ``corrupt-gzip``, or ``output-replaced`` when the log is not the version planned.
    """
    response = s3.get_object(Bucket=bucket, Key=log_key)
    body = response["Body"]
    files = CourseFiles(
        s3,
        bucket=bucket,
        kms_key_arn=kms_key_arn,
        key_of=key_of,
        spill_prefix=spill_prefix,
        metadata=metadata,
        limits=limits,
    )
    with closing(body):
        found = response.get("Metadata", {})
        if any(found.get(name) != value for name, value in expected_metadata.items()):
            raise PermanentError(
                "output-replaced",
                f"{log_key} is no longer the version this split was planned for; the next run "
                "splits the version there now",
            )
        try:
            buffered = _buffered(body)
            lines, unassigned, unparsed = split_lines(log_lines(buffered), files)
        except BaseException:
            # Best effort: the split's own error is the one to report; whatever a failed
            # clean-up leaves, the bucket's lifecycle rules remove (see CourseFiles.discard).
            with suppress(Exception):
                files.discard()
            raise
    published = files.publish()
    return SplitLog(
        files=published,
        lines=lines,
        unassigned=unassigned,
        unparsed=unparsed,
        spills=files.spill_count,
    )


class BodyReader(io.RawIOBase):
    """A response body as a raw stream, so a BufferedReader can make its reads large
    (GzipFile asks for a few KiB at a time; each would be a call into urllib3)."""

    def __init__(self, body: IO[bytes]) -> None:
        super().__init__()
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _buffered(body: Any) -> IO[bytes]:
    return io.BufferedReader(BodyReader(body), buffer_size=_READ_BUFFER_BYTES)
