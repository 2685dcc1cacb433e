"""Streaming OpenPGP decryption through python-gnupg, with nothing published before gpg says so.

gpg writes all plaintext *before* it checks the message's integrity (MDC): a tampered file
decrypts to garbage and only then fails. :class:`DecryptedStream` therefore hands out plaintext
as it comes, but reports end-of-file only after gpg has exited 0 with ``DECRYPTION_OKAY`` and
without ``BADMDC`` or ``DECRYPTION_FAILED``; otherwise the final read raises
:class:`DecryptionFailedError`. A consumer that completes an upload only on a clean EOF (the
multipart upload in :mod:`edx_vault.engine.publish`) therefore never publishes a bad file.
What gpg's status lines say (the failure code and reason) is read by
:mod:`edx_vault.engine.gpg_status`.

A failed read of the ciphertext is judged by :func:`edx_vault.engine.errors.is_transient`: a dropped
connection, a read timeout or a throttled ranged GET says nothing about the file, so the final
read raises :class:`~edx_vault.engine.errors.TransientError` (the step is retried, nothing recorded
against the file); any other read error is the ``source-read-error`` failure. Either way nothing
is published.

python-gnupg collects all output in memory by default (twice the file size). We set ``on_data``
to push chunks into a bounded queue and return ``False`` so nothing is kept: memory stays flat,
and a slow consumer slows gpg down through the pipe instead of growing a buffer.
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import io
import queue
import subprocess
import threading
from dataclasses import dataclass, field
from typing import IO, Any, Final

import gnupg

from edx_vault.engine.errors import PermanentError, TransientError, describe, is_transient
from edx_vault.engine.gpg_status import DecryptionFailure, GpgStatus, decryption_failure

# The three settings below decide the engine's speed on a small machine (2 vCPUs: gpg on one, all
# of Python on the other). bench/decrypt_throughput.py measures them; docs/engine.md has the figures.
#
# python-gnupg feeds gpg's stdin and reads its stdout in chunks of this size. Large chunks mean few
# Python-level steps (reads, callbacks, queue hand-offs) per megabyte; 64 KiB chunks measured about
# 20% slower than 1 MiB.
CHUNK_BYTES: Final = 1024 * 1024
# At most this many chunks wait between gpg and the consumer: memory stays bounded (8 MiB).
QUEUE_CHUNKS: Final = 8
# Both pipes to gpg are widened to this (Linux's limit for unprivileged processes, so also on
# Lambda). gpg reads and writes 8 KiB at a time; with the default 64 KiB pipes each side wakes the
# other every few kilobytes, and the context switches cost more CPU than the copying. With 1 MiB
# pipes gpg keeps working while Python is busy, and Python then takes a large chunk in one read.
PIPE_BYTES: Final = 1024 * 1024
# Name gpg's stdout as its output file (descriptor 1) instead of leaving the output unnamed. The
# bytes are the same and still reach python-gnupg's stdout reader, but gpg 2.2 then writes them
# 8 KiB at a time; to its unnamed stdout it writes 4 KiB at a time and spends about a third of its
# CPU time in memmove doing so (seen with perf and strace).
PLAINTEXT_TO_STDOUT_ARGS: Final = ("--enable-special-filenames", "--output", "-&1")
_END: Final = b""
_POLL_SECONDS: Final = 0.5


class DecryptionFailedError(PermanentError):
    """gpg did not prove the message intact. The message never contains key material."""

    def __init__(self, reason: str, *, code: str) -> None:
        super().__init__(code, reason)


@dataclass
class _InputGuard(io.RawIOBase):
    """Feeds gpg's stdin; remembers a read error (python-gnupg would only log it) and can be cut."""

    source: IO[bytes]
    error: BaseException | None = None
    cut: threading.Event = field(default_factory=threading.Event)
    bytes_read: int = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.cut.is_set():
            return b""
        try:
            data = self.source.read(size)
        except Exception as error:  # recorded and judged by DecryptedStream
            self.error = error
            return b""
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _StreamingGPG(gnupg.GPG):  # type: ignore[misc]  # python-gnupg ships no type hints
    """python-gnupg that widens gpg's pipes to :data:`PIPE_BYTES` and keeps hold of gpg.

    python-gnupg starts gpg inside ``_open_subprocess`` and offers no hook, so this overrides
    that (private) method of the pinned version. ``pipe_bytes`` records the pipe sizes the
    kernel granted, and a test checks them after a real decryption, so an upgrade that stops
    calling the method is noticed. Widening is best effort: a refusal (a process over its pipe
    quota, a system without ``F_SETPIPE_SZ``) leaves the default size, slower but equally
    correct. ``process`` lets an abandoned stream stop gpg at once instead of letting it
    decompress whatever is still in the pipe.
    """

    pipe_bytes: tuple[int, int] | None = None
    process: subprocess.Popen[bytes] | None = None

    def _open_subprocess(self, args: Any, passphrase: bool = False) -> Any:
        process = super()._open_subprocess(args, passphrase)
        self.process = process
        self.pipe_bytes = (_widen(process.stdin), _widen(process.stdout))
        return process


def _widen(pipe: IO[bytes]) -> int:
    """Ask for a :data:`PIPE_BYTES` pipe; return the size it has (0 where it cannot be told)."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux only
    get_size = getattr(fcntl, "F_GETPIPE_SZ", None)
    if set_size is None or get_size is None:
        return 0
    try:
        return int(fcntl.fcntl(pipe.fileno(), set_size, PIPE_BYTES))
    except OSError:
        pass
    try:
        return int(fcntl.fcntl(pipe.fileno(), get_size))
    except OSError:
        return 0


class DecryptedStream(io.RawIOBase):
    """The plaintext of one OpenPGP message, read as gpg produces it.

    Parameters
    ----------
    gpg
        A configured ``gnupg.GPG`` whose keyring holds the pipeline's secret key. It is copied, so
        one instance can serve concurrent streams.
    ciphertext
        A binary stream of the encrypted message (an S3 body, a zip member, a file).
    passphrase
        The secret key's passphrase; sent to gpg over loopback pinentry, never logged.
    max_plaintext_bytes
        Fail (and stop gpg) beyond this size: a compressed OpenPGP packet can expand without bound.

    Notes
    -----
    Wrap it in ``io.BufferedReader`` when the consumer expects full-sized reads. ``size`` counts
    the bytes handed out; ``sha256`` digests the plaintext as gpg produces it (in python-gnupg's
    reader thread, where hashing overlaps the consumer's work), so after a clean EOF both describe
    exactly the bytes handed out.
    """

    def __init__(
        self,
        gpg: gnupg.GPG,
        ciphertext: IO[bytes],
        *,
        passphrase: str | None,
        max_plaintext_bytes: int,
    ) -> None:
        super().__init__()
        self._chunks: queue.Queue[bytes] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._input = _InputGuard(ciphertext)
        self._abandoned = threading.Event()
        self._pending = memoryview(b"")
        self._finished = False
        self._max_plaintext_bytes = max_plaintext_bytes
        self._digest = hashlib.sha256()
        self.size = 0
        self._result: Any = None
        self._crash: BaseException | None = None
        self._failure: DecryptionFailedError | TransientError | None = None

        # A shallow copy per stream (its own on_data), turned into the streaming variant; both
        # classes share every attribute, so only _open_subprocess changes. (A caller's own
        # subclass of gnupg.GPG would lose its overrides here; every caller passes a plain one.)
        worker_gpg = copy.copy(gpg)
        worker_gpg.__class__ = _StreamingGPG
        self._worker_gpg: _StreamingGPG = worker_gpg
        worker_gpg.on_data = self._on_data
        worker_gpg.buffer_size = CHUNK_BYTES
        self._worker = threading.Thread(
            target=self._decrypt, args=(worker_gpg, passphrase), name="gpg-decrypt", daemon=True
        )
        self._worker.start()

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the plaintext gpg has produced (all of it, after a clean EOF)."""
        return self._digest.hexdigest()

    @property
    def pipe_bytes(self) -> tuple[int, int] | None:
        """The sizes of gpg's stdin and stdout pipes, once gpg has started."""
        return self._worker_gpg.pipe_bytes

    @property
    def ciphertext_bytes(self) -> int:
        """How many ciphertext bytes gpg has been fed."""
        return self._input.bytes_read

    def _decrypt(self, worker_gpg: gnupg.GPG, passphrase: str | None) -> None:
        try:
            self._result = worker_gpg.decrypt_file(
                self._input,
                passphrase=passphrase,
                always_trust=True,
                extra_args=list(PLAINTEXT_TO_STDOUT_ARGS),
            )
        except Exception as error:  # a broken pipe when gpg quits early, judged in _verdict
            self._crash = error
        finally:
            self._put(_END)

    def _on_data(self, chunk: bytes) -> bool:
        # Runs in python-gnupg's stdout reader thread; an empty chunk means gpg closed stdout.
        if chunk:
            self._digest.update(chunk)
            self._put(chunk)
        return False  # never let python-gnupg keep a copy

    def _put(self, chunk: bytes) -> None:
        while not self._abandoned.is_set():
            try:
                self._chunks.put(chunk, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                continue

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._failure is not None:
            raise self._failure  # again: a read after a refusal must never look like an end
        if self._finished:
            return 0
        while not self._pending:
            chunk = self._chunks.get()
            if chunk is _END or not chunk:
                self._finish()
                return 0
            self._pending = memoryview(chunk)
        count = min(len(buffer), len(self._pending))
        piece = self._pending[:count]
        buffer[:count] = piece
        self._pending = self._pending[count:]
        self.size += count
        if self.size > self._max_plaintext_bytes:
            self._abandon()
            self._failure = DecryptionFailedError(
                f"the plaintext exceeds {self._max_plaintext_bytes} bytes: refusing to expand "
                "further (corrupt or malicious compression?)",
                code="too-large",
            )
            raise self._failure
        return count

    def _finish(self) -> None:
        self._worker.join()  # gpg has exited and python-gnupg has reaped it
        self._finished = True
        source_error = self._input.error
        if source_error is not None and is_transient(source_error):
            # gpg saw the ciphertext end early, so whatever it concluded is about a truncated
            # copy, not the file: refuse the stream as a retry, never as a verdict on the file.
            self._failure = TransientError(
                f"reading the ciphertext failed: {describe(source_error)}"
            )
            raise self._failure from source_error
        failure = self._verdict()
        if failure is not None:
            self._failure = DecryptionFailedError(failure.reason, code=failure.code)
            raise self._failure

    def _verdict(self) -> DecryptionFailure | None:
        if self._input.error is not None:
            return DecryptionFailure(
                "source-read-error",
                f"reading the ciphertext failed: {describe(self._input.error)}",
            )
        result = self._result
        if result is None:
            return DecryptionFailure(
                "gpg-error", f"gpg could not run: {type(self._crash).__name__}"
            )
        if getattr(result, "on_data_failure", None) is not None:
            return DecryptionFailure("gpg-error", "the plaintext consumer failed")
        failure = decryption_failure(GpgStatus.parse(result.stderr), result.returncode)
        if failure is None and self._crash is not None:
            return DecryptionFailure(
                "gpg-error", f"gpg input was cut short: {type(self._crash).__name__}"
            )
        return failure

    def _abandon(self) -> None:
        """Stop gpg, stop feeding it and drop its output, so every thread ends promptly.

        gpg is killed rather than left to drain: a compression bomb already in the pipes would
        otherwise keep it busy for seconds after the refusal.
        """
        self._abandoned.set()
        self._input.cut.set()
        self._finished = True
        process = self._worker_gpg.process
        if process is not None and process.poll() is None:
            process.kill()

    def close(self) -> None:
        if not self._finished:
            self._abandon()
        self._worker.join(timeout=30)
        super().close()
