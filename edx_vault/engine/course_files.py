"""Many gzip files written at once, in memory bounded whatever their number, published all at once.

The split step (:mod:`edx_vault.engine.course_split`) hands :class:`CourseFiles` one line at a
time for one of up to thousands of courses; nothing is visible in the bucket until
:meth:`CourseFiles.publish`, and :meth:`CourseFiles.discard` leaves nothing behind (no object, no
open multipart upload, no spill).

Why not one gzip stream per course: a zlib compressor holds about 256 KiB of state, so 2,000
courses would need 500 MiB before a byte is written. Instead, lines wait uncompressed per course
and are compressed in runs, each run a complete gzip *member*: a gzip file may be several
members one after another (RFC 1952, 2.2), and gzip, zcat, Python, pandas, pyarrow and Athena
read them as one stream. The members are byte-for-byte deterministic (zlib, no name, mtime 0).

Memory is bounded by :class:`SplitLimits`, not by the number of courses:

* lines waiting to be compressed: at most ``pending_bytes`` over all courses (when exceeded,
  every course's waiting lines become a member), and ``member_bytes`` for any one course;
* compressed members held: at most ``held_bytes`` over all courses. A course whose members reach
  ``part_bytes`` starts its own multipart upload and sends them as a part; when the total
  exceeds ``held_bytes`` anyway (many courses, each below a part), all held members are written
  in one *spill* object under ``_work/`` (SSE-KMS), and read back by range when their course is
  sent (as its first part, or as its single PUT at publish);
* publishing runs ``publish_concurrency`` courses at a time, each at most ``part_bytes`` plus a
  member in memory;
* plus about 1 KiB of bookkeeping per course and the longest line piece the reader hands over.

Written by hand rather than with s3transfer: s3transfer uploads one stream per call and would
need a thread and a buffer per course; here one thread feeds thousands of files.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

MiB: Final = 1024 * 1024
# S3's smallest part, except the last ("5 MiB to 5 GiB", Amazon S3 multipart upload limits).
S3_MIN_PART_BYTES: Final = 5 * MiB


@dataclass(frozen=True)
class SplitLimits:
    """The memory bounds of :class:`CourseFiles` (see the module docstring).

    Attributes
    ----------
    member_bytes
        Uncompressed bytes of one course that are compressed into one gzip member.
    pending_bytes
        Uncompressed bytes waiting over all courses.
    held_bytes
        Compressed bytes held over all courses before they are spilled.
    part_bytes
        Compressed bytes of one course that are sent as one part of its multipart upload.
    publish_concurrency
        Courses published at once.
    compress_level
        zlib's level (6 is gzip's default).
    """

    member_bytes: int = 1 * MiB
    pending_bytes: int = 32 * MiB
    held_bytes: int = 256 * MiB
    part_bytes: int = 8 * MiB
    publish_concurrency: int = 8
    compress_level: int = 6

    def __post_init__(self) -> None:
        if self.part_bytes < S3_MIN_PART_BYTES:
            raise ValueError(f"part_bytes must be at least S3's minimum part, {S3_MIN_PART_BYTES}")

    @property
    def peak_bytes(self) -> int:
        """The documented bound on what the buffers hold, whatever the number of courses."""
        return (
            self.pending_bytes
            + self.member_bytes
            + self.held_bytes
            + (self.publish_concurrency + 1) * (self.part_bytes + self.member_bytes)
        )


@dataclass(frozen=True)
class PublishedFile:
    """One course file once published: its key, version, size, and what it holds."""

    key: str
    version_id: str | None
    bytes: int
    lines: int
    plaintext_bytes: int


@dataclass(frozen=True)
class _Spilled:
    key: str
    offset: int
    length: int


@dataclass
class _Course:
    key: str
    pending: list[bytes] = field(default_factory=list)
    pending_bytes: int = 0
    held: list[bytes] = field(default_factory=list)
    held_bytes: int = 0
    spilled: list[_Spilled] = field(default_factory=list)
    spilled_bytes: int = 0
    upload_id: str | None = None
    parts: list[CompletedPartTypeDef] = field(default_factory=list)
    lines: int = 0
    plaintext_bytes: int = 0
    compressed_bytes: int = 0


class CourseFiles:
    """Gzip files under construction, one per course, published together or not at all.

    Parameters
    ----------
    s3
        The vault's S3 client.
    bucket, kms_key_arn
        Where the files go, and the data key they are encrypted under (SSE-KMS).
    key_of
        The object key of a course's file.
    spill_prefix
        A ``_work/`` prefix of this split's own, for spilled members.
    metadata
        The metadata every file carries (which source it was split from).
    limits
        The memory bounds.
    """

    def __init__(
        self,
        s3: S3Client,
        *,
        bucket: str,
        kms_key_arn: str,
        key_of: Callable[[str], str],
        spill_prefix: str,
        metadata: dict[str, str],
        limits: SplitLimits | None = None,
    ) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_arn}
        self._key_of = key_of
        self._spill_prefix = spill_prefix
        self._metadata = metadata
        self.limits = limits or SplitLimits()
        self._courses: dict[str, _Course] = {}
        self._pending_total = 0
        self._held_total = 0
        self._spills: list[str] = []  # spill objects not deleted yet
        self._spills_written = 0

    @property
    def courses(self) -> tuple[str, ...]:
        return tuple(self._courses)

    @property
    def spill_count(self) -> int:
        """How many spill objects this split has written (0 unless memory ran short)."""
        return self._spills_written

    def add(self, course: str, piece: bytes, *, ends_line: bool = True) -> None:
        """Append ``piece`` to ``course``'s file; ``ends_line`` when it is a whole line's end."""
        state = self._courses.get(course)
        if state is None:
            state = self._courses[course] = _Course(self._key_of(course))
        state.pending.append(piece)
        state.pending_bytes += len(piece)
        state.plaintext_bytes += len(piece)
        state.lines += ends_line
        self._pending_total += len(piece)
        if state.pending_bytes >= self.limits.member_bytes:
            self._compress(state)
        if self._pending_total > self.limits.pending_bytes:
            for waiting in self._courses.values():
                if waiting.pending:
                    self._compress(waiting)

    def publish(self) -> dict[str, PublishedFile]:
        """Publish every course's file: a PUT each, or the last part and the completion.

        Called once the input was read whole. A failure part-way deletes the files this call
        had published (so none of this split stays visible), aborts the rest, and raises.
        """
        for state in self._courses.values():
            if state.pending:
                self._compress(state)
        published: dict[str, PublishedFile] = {}
        errors: list[BaseException] = []
        with ThreadPoolExecutor(self.limits.publish_concurrency) as pool:
            futures = {
                pool.submit(self._publish_one, state): course
                for course, state in self._courses.items()
            }
            for future in as_completed(futures):
                try:
                    published[futures[future]] = future.result()
                except BaseException as error:  # every file's fate is known before deciding
                    errors.append(error)
        if errors:
            try:
                self._unpublish(published.values())
            finally:
                self.discard()
            raise errors[0]
        self._delete_spills()
        return dict(sorted(published.items()))

    def discard(self) -> None:
        """Abort every open multipart upload and delete the spills; publish nothing.

        Each clean-up call is tried even when an earlier one fails (S3 may be what failed the
        split); the first such error is raised at the end. What a failed call leaves, the data
        bucket's lifecycle rules remove: incomplete multipart uploads and ``_work/`` objects
        expire (stacks/data_bucket.py).
        """
        errors: list[Exception] = []
        for state in self._courses.values():
            state.held, state.pending = [], []
            if state.upload_id is not None:
                try:
                    self._s3.abort_multipart_upload(
                        Bucket=self._bucket, Key=state.key, UploadId=state.upload_id
                    )
                    state.upload_id = None
                except Exception as error:  # the rest is still cleaned up
                    errors.append(error)
        try:
            self._delete_spills()
        except Exception as error:
            errors.append(error)
        if errors:
            raise errors[0]

    # --- compressing and holding -------------------------------------------------------

    def _compress(self, state: _Course) -> None:
        compressor = zlib.compressobj(self.limits.compress_level, zlib.DEFLATED, 31)
        member = compressor.compress(b"".join(state.pending)) + compressor.flush()
        self._pending_total -= state.pending_bytes
        state.pending, state.pending_bytes = [], 0
        state.held.append(member)
        state.held_bytes += len(member)
        state.compressed_bytes += len(member)
        self._held_total += len(member)
        if state.spilled_bytes + state.held_bytes >= self.limits.part_bytes:
            self._send_part(state)
        if self._held_total > self.limits.held_bytes:
            self._spill()

    def _take_held(self, state: _Course) -> bytes:
        """The course's spilled and held members, in order, as one body; both are emptied."""
        body = b"".join([*(self._read_spilled(piece) for piece in state.spilled), *state.held])
        self._held_total -= state.held_bytes
        state.held, state.held_bytes = [], 0
        state.spilled, state.spilled_bytes = [], 0
        return body

    def _send_part(self, state: _Course) -> None:
        if state.upload_id is None:
            state.upload_id = self._s3.create_multipart_upload(
                Bucket=self._bucket,
                Key=state.key,
                Metadata=self._metadata,
                ContentType="application/gzip",
                BucketKeyEnabled=True,
                **self._encryption,  # type: ignore[arg-type]
            )["UploadId"]
        number = len(state.parts) + 1
        response = self._s3.upload_part(
            Bucket=self._bucket,
            Key=state.key,
            UploadId=state.upload_id,
            PartNumber=number,
            Body=self._take_held(state),
        )
        state.parts.append({"PartNumber": number, "ETag": response["ETag"]})

    def _spill(self) -> None:
        """Write every held member to one object under the spill prefix; hold none."""
        key = f"{self._spill_prefix}{self._spills_written:06d}"
        self._spills_written += 1
        offset, chunks = 0, []
        for state in self._courses.values():
            if state.held_bytes:
                state.spilled.append(_Spilled(key, offset, state.held_bytes))
                state.spilled_bytes += state.held_bytes
                offset += state.held_bytes
                chunks.extend(state.held)
                state.held, state.held_bytes = [], 0
        self._spills.append(key)
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=b"".join(chunks),
            BucketKeyEnabled=True,
            **self._encryption,  # type: ignore[arg-type]
        )
        self._held_total = 0

    def _read_spilled(self, piece: _Spilled) -> bytes:
        last = piece.offset + piece.length - 1
        response = self._s3.get_object(
            Bucket=self._bucket, Key=piece.key, Range=f"bytes={piece.offset}-{last}"
        )
        body = response["Body"].read()
        if len(body) != piece.length:
            raise OSError(f"a spilled range of {piece.key} came back short")
        return body

    # --- publishing ------------------------------------------------------------------

    def _publish_one(self, state: _Course) -> PublishedFile:
        if state.upload_id is None:
            response = self._s3.put_object(
                Bucket=self._bucket,
                Key=state.key,
                Body=self._take_held(state),
                Metadata=self._metadata,
                ContentType="application/gzip",
                BucketKeyEnabled=True,
                **self._encryption,  # type: ignore[arg-type]
            )
            version_id = response.get("VersionId")
        else:
            if state.held or state.spilled:
                self._send_part(state)
            completed = self._s3.complete_multipart_upload(
                Bucket=self._bucket,
                Key=state.key,
                UploadId=state.upload_id,
                MultipartUpload={"Parts": state.parts},
            )
            state.upload_id = None
            version_id = completed.get("VersionId")
        return PublishedFile(
            key=state.key,
            version_id=version_id,
            bytes=state.compressed_bytes,
            lines=state.lines,
            plaintext_bytes=state.plaintext_bytes,
        )

    def _unpublish(self, published: Iterable[PublishedFile]) -> None:
        """Take back files this split published: a delete marker over each (never a version
        delete: the pipeline may not erase history, and the earlier version stays readable to
        the rerun's replacement)."""
        for file in published:
            self._s3.delete_object(Bucket=self._bucket, Key=file.key)

    def _delete_spills(self) -> None:
        for key in self._spills:
            self._s3.delete_object(Bucket=self._bucket, Key=key)
        self._spills = []
