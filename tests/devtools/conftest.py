"""Keys for the synthetic package's tests: the czar's throwaway pair, a stranger's, and the
czar's side (a GNUPGHOME holding the secret key) to decrypt with.

One throwaway ed25519/cv25519 key pair (fast to make) plays the data czar.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import gnupg
import pytest

from edx_vault.devtools.synthetic.encryption import forget_gnupg_home
from edx_vault.devtools.synthetic.keys import ThrowawayKeyPair, generate_throwaway_key_pair

needs_gpg = pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg is not installed")


class Decryptor:
    """The czar's side: a GNUPGHOME holding the secret key."""

    def __init__(self, secret_key: str) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="edxv-czar-"))
        self.gpg = gnupg.GPG(gnupghome=str(self.home))
        self.gpg.import_keys(secret_key)

    def attempt(self, ciphertext: bytes) -> gnupg.Crypt:
        return self.gpg.decrypt(ciphertext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        result = self.attempt(ciphertext)
        assert result.ok, result.status
        return bytes(result.data)

    def close(self) -> None:
        forget_gnupg_home(self.home)


@pytest.fixture(scope="session")
def czar_key() -> ThrowawayKeyPair:
    return generate_throwaway_key_pair()


@pytest.fixture(scope="session")
def stranger_key() -> ThrowawayKeyPair:
    return generate_throwaway_key_pair(email="someone-else@example.org")


@pytest.fixture(scope="session")
def czar(czar_key: ThrowawayKeyPair) -> Iterator[Decryptor]:
    decryptor = Decryptor(czar_key.secret_key)
    yield decryptor
    decryptor.close()
