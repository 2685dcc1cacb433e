"""Streaming OpenPGP decryption through python-gnupg, with nothing published before gpg says so.

gpg writes all plaintext *before* it checks the message's integrity (MDC): a tampered file
decrypts to garbage and only then fails. :class:`DecryptedStream` therefore hands out plaintext
as it comes, but reports end-of-file only after gpg has exited 0 with ``DECRYPTION_OKAY`` and
without ``BADMDC`` or ``DECRYPTION_FAILED``; otherwise the final read raises
:class:`DecryptionFailedError`. A consumer that completes an upload only on a clean EOF (the
multipart upload in :mod:`edx_vault.publish`) therefore never publishes a bad file.

python-gnupg collects all output in memory by default (twice the file size). We set ``on_data``
to push chunks into a bounded queue and return ``False`` so nothing is kept: memory stays flat,
and a slow consumer slows gpg down through the pipe instead of growing a buffer.
"""

from __future__ import annotations

import copy
import hashlib
import io
import queue
import threading
from dataclasses import dataclass, field
from typing import IO, Any, Final

import gnupg

from edx_vault.errors import PermanentError

# gpg's stdout and stdin are read in chunks of this size; 64 KiB keeps syscalls few.
CHUNK_BYTES: Final = 256 * 1024
# At most this many chunks wait between gpg and the consumer (4 MiB).
QUEUE_CHUNKS: Final = 64
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


def _status_keys(stderr: str) -> set[str]:
    return {
        line.split()[1]
        for line in stderr.splitlines()
        if line.startswith("[GNUPG:] ") and len(line.split()) > 1
    }


def _failure_reason(status: set[str], returncode: int | None) -> tuple[str, str] | None:
    """The (code, reason) of a decryption that must not be published, or None when it is good."""
    if "NO_SECKEY" in status and "DECRYPTION_OKAY" not in status:
        return (
            "wrong-recipient",
            "the file is not encrypted to the pipeline's key (gpg: no secret key)",
        )
    if "BAD_PASSPHRASE" in status or "MISSING_PASSPHRASE" in status:
        return "bad-passphrase", "the pipeline key's passphrase was refused"
    if "BADMDC" in status:
        return (
            "tampered",
            "integrity check failed (BADMDC): the ciphertext was modified or truncated",
        )
    if "NODATA" in status and "BEGIN_DECRYPTION" not in status:
        return "not-openpgp", "no OpenPGP data found: the file is not an encrypted message"
    if "DECRYPTION_FAILED" in status:
        return "decryption-failed", "gpg could not decrypt the file (corrupt or truncated)"
    if "DECRYPTION_OKAY" not in status:
        return (
            "corrupt",
            "gpg stopped before confirming the file's integrity: the ciphertext is corrupt, "
            "truncated or was modified",
        )
    if returncode != 0:
        return "gpg-error", f"gpg exited with status {returncode}"
    return None


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
    Wrap it in ``io.BufferedReader`` when the consumer expects full-sized reads. ``sha256`` and
    ``size`` describe exactly the bytes handed out.
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

        worker_gpg = copy.copy(gpg)
        worker_gpg.on_data = self._on_data
        worker_gpg.buffer_size = CHUNK_BYTES
        self._worker = threading.Thread(
            target=self._decrypt, args=(worker_gpg, passphrase), name="gpg-decrypt", daemon=True
        )
        self._worker.start()

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the plaintext handed out so far (all of it, after a clean EOF)."""
        return self._digest.hexdigest()

    @property
    def ciphertext_bytes(self) -> int:
        """How many ciphertext bytes gpg has been fed."""
        return self._input.bytes_read

    def _decrypt(self, worker_gpg: gnupg.GPG, passphrase: str | None) -> None:
        try:
            self._result = worker_gpg.decrypt_file(
                self._input, passphrase=passphrase, always_trust=True
            )
        except Exception as error:  # a broken pipe when gpg quits early, judged in _verdict
            self._crash = error
        finally:
            self._put(_END)

    def _on_data(self, chunk: bytes) -> bool:
        # Runs in python-gnupg's stdout reader thread; an empty chunk means gpg closed stdout.
        if chunk:
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
        self._digest.update(piece)
        self.size += count
        if self.size > self._max_plaintext_bytes:
            self._abandon()
            raise DecryptionFailedError(
                f"the plaintext exceeds {self._max_plaintext_bytes} bytes: refusing to expand "
                "further (corrupt or malicious compression?)",
                code="too-large",
            )
        return count

    def _finish(self) -> None:
        self._worker.join()
        self._finished = True
        verdict = self._verdict()
        if verdict is not None:
            code, reason = verdict
            raise DecryptionFailedError(reason, code=code)

    def _verdict(self) -> tuple[str, str] | None:
        if self._input.error is not None:
            return "source-read-error", f"reading the ciphertext failed: {self._input.error}"
        result = self._result
        if result is None:
            return "gpg-error", f"gpg could not run: {type(self._crash).__name__}"
        if getattr(result, "on_data_failure", None) is not None:
            return "gpg-error", "the plaintext consumer failed"
        reason = _failure_reason(_status_keys(result.stderr), result.returncode)
        if reason is None and self._crash is not None:
            return "gpg-error", f"gpg input was cut short: {type(self._crash).__name__}"
        return reason

    def _abandon(self) -> None:
        """Stop feeding gpg and drop its output so its threads end promptly."""
        self._abandoned.set()
        self._input.cut.set()
        self._finished = True

    def close(self) -> None:
        if not self._finished:
            self._abandon()
        self._worker.join(timeout=30)
        super().close()
