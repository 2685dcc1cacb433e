"""OpenPGP as edX uses it: encrypt to public keys only, binary, always trust, unsigned.

Every file edX ships is encrypted by ``gpg`` (through python-gnupg) from a throwaway GNUPGHOME
that holds only the recipients' public keys. Plaintext is streamed into ``gpg``'s stdin by
python-gnupg's copier thread and digested on the way; ciphertext goes to a file, so nothing
plaintext reaches the disk and a gigabyte file never lives in memory.

**Random ciphertext.** OpenPGP draws a fresh session key for every message, so the same
plaintext encrypts to other bytes on every run: tests compare plaintext digests, never
ciphertext bytes.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import gnupg

_CHUNK_BYTES: Final = 64 * 1024


@dataclass(frozen=True)
class PlaintextDigest:
    """What went into gpg: sha256 and size of the plaintext."""

    sha256: str
    size: int


class _CountingReader(io.RawIOBase):
    """A readable stream over generated chunks that digests what is read from it."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = b""
        self._hash = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._hash.update(self._pending[:count])
        self._pending = self._pending[count:]
        self.size += count
        return count

    def digest(self) -> PlaintextDigest:
        return PlaintextDigest(sha256=self._hash.hexdigest(), size=self.size)


class RecipientEncryptor:
    """Encrypts to a fixed set of public keys from a throwaway GNUPGHOME; a context manager.

    Parameters
    ----------
    public_keys
        ASCII-armored public keys (e.g. the czars' keys and a master key); every message is
        encrypted to all of them.
    compress
        Let gpg compress before encrypting (its default, and edX's); ``False`` stores.
    """

    def __init__(self, public_keys: Sequence[str], *, compress: bool = True) -> None:
        if not public_keys:
            raise ValueError("at least one recipient public key is needed")
        # A short path under the system temp dir: gpg's socket paths have a length limit.
        self._home = Path(tempfile.mkdtemp(prefix="edxv-pub-"))
        self._gpg = gnupg.GPG(gnupghome=str(self._home))
        self._gpg.buffer_size = _CHUNK_BYTES
        fingerprints: list[str] = []
        for armored in public_keys:
            imported = self._gpg.import_keys(armored)
            if not imported.fingerprints:
                self.close()
                raise ValueError("a recipient key could not be imported (is it a public key?)")
            fingerprints.extend(imported.fingerprints)
        if self._gpg.list_keys(secret=True):
            self.close()
            raise ValueError("pass public keys only: edX never holds a recipient's secret key")
        self.fingerprints: tuple[str, ...] = tuple(dict.fromkeys(fingerprints))
        self._extra_args = [] if compress else ["--compress-algo", "none"]

    def __enter__(self) -> RecipientEncryptor:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Delete the throwaway GNUPGHOME."""
        forget_gnupg_home(self._home)

    def encrypt_chunks(self, chunks: Iterable[bytes], output: Path) -> PlaintextDigest:
        """Stream generated plaintext through gpg into ``output``.

        Returns
        -------
        PlaintextDigest
            sha256 and size of the plaintext that went in.
        """
        reader = _CountingReader(chunks)
        result = self._gpg.encrypt_file(
            io.BufferedReader(reader, buffer_size=_CHUNK_BYTES),
            list(self.fingerprints),
            always_trust=True,
            armor=False,
            output=str(output),
            extra_args=self._extra_args,
        )
        if not result.ok:
            raise RuntimeError(f"gpg could not encrypt: {result.status}")
        return reader.digest()

    def encrypt_bytes(self, plaintext: bytes) -> bytes:
        """Encrypt a small message in memory."""
        with tempfile.TemporaryDirectory(prefix="edxv-ct-") as scratch:
            output = Path(scratch) / "message.gpg"
            self.encrypt_chunks([plaintext], output)
            return output.read_bytes()


def encrypt_to_recipients(plaintext: bytes, public_keys: Sequence[str]) -> bytes:
    """Encrypt bytes the way edX does: binary OpenPGP to every key, always trust, unsigned.

    Parameters
    ----------
    plaintext
        The message (small: it is held in memory).
    public_keys
        ASCII-armored public keys.
    """
    with RecipientEncryptor(public_keys) as encryptor:
        return encryptor.encrypt_bytes(plaintext)


def forget_gnupg_home(home: Path) -> None:
    """Stop the agent gpg may have started for this home (only this home's), then delete it."""
    gpgconf = shutil.which("gpgconf")
    if gpgconf:
        subprocess.run(  # noqa: S603 - fixed arguments, our own temporary directory
            [gpgconf, "--homedir", str(home), "--kill", "all"],
            check=False,
            capture_output=True,
        )
    shutil.rmtree(home, ignore_errors=True)
