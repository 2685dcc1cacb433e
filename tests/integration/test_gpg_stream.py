"""DecryptedStream's plumbing to gpg: wide pipes, named output descriptor, same bytes either way."""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
from typing import Any

import pytest

from edx_vault import gpg_stream
from edx_vault.gpg_stream import PIPE_BYTES, DecryptedStream
from edx_vault.synthetic_package import encrypt_to_recipients
from tests.integration.conftest import PipelineKey

# Several chunks, several pipe-fulls, and not a multiple of either.
PLAINTEXT_BYTES = 5 * gpg_stream.CHUNK_BYTES + 12345
LINUX_DEFAULT_PIPE_BYTES = 64 * 1024


@pytest.fixture(scope="module")
def plaintext() -> bytes:
    return os.urandom(PLAINTEXT_BYTES)


@pytest.fixture(scope="module")
def ciphertext(plaintext: bytes, pipeline_key: PipelineKey) -> bytes:
    return encrypt_to_recipients(plaintext, [pipeline_key.public_key])


def open_stream(key: PipelineKey, ciphertext: bytes) -> DecryptedStream:
    return DecryptedStream(
        key.gpg,
        io.BytesIO(ciphertext),
        passphrase=key.passphrase,
        max_plaintext_bytes=2 * PLAINTEXT_BYTES,
    )


def read_all(stream: DecryptedStream) -> bytes:
    with io.BufferedReader(stream, buffer_size=8 * 1024 * 1024) as reader:
        return reader.read()


def test_plaintext_arrives_whole_through_widened_pipes(
    pipeline_key: PipelineKey, plaintext: bytes, ciphertext: bytes
) -> None:
    # Given a message larger than a chunk and than a pipe
    stream = open_stream(pipeline_key, ciphertext)

    # When it is read to the end
    received = read_all(stream)

    # Then every byte arrives in order, digested and counted, and gpg ran with both pipes widened
    # (python-gnupg still calls the method the widening hooks into)
    assert received == plaintext
    assert stream.sha256 == hashlib.sha256(plaintext).hexdigest()
    assert stream.size == PLAINTEXT_BYTES
    assert stream.ciphertext_bytes == len(ciphertext)
    assert stream.pipe_bytes == (PIPE_BYTES, PIPE_BYTES)


def test_refused_widening_is_slower_but_still_correct(
    pipeline_key: PipelineKey,
    plaintext: bytes,
    ciphertext: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a kernel that refuses bigger pipes (a process over its pipe quota)
    real_fcntl = fcntl.fcntl

    def refusing_fcntl(fd: int, command: int, *args: Any) -> Any:
        if command == fcntl.F_SETPIPE_SZ:
            raise PermissionError(1, "Operation not permitted")
        return real_fcntl(fd, command, *args)

    monkeypatch.setattr(gpg_stream.fcntl, "fcntl", refusing_fcntl)

    # When a message is decrypted
    stream = open_stream(pipeline_key, ciphertext)
    received = read_all(stream)

    # Then the default pipes carry the same bytes
    assert stream.pipe_bytes == (LINUX_DEFAULT_PIPE_BYTES, LINUX_DEFAULT_PIPE_BYTES)
    assert received == plaintext
    assert stream.sha256 == hashlib.sha256(plaintext).hexdigest()


def test_tampered_message_fails_at_the_end_with_the_named_output(
    pipeline_key: PipelineKey, plaintext: bytes, ciphertext: bytes
) -> None:
    # Given a message whose last encrypted bytes were changed (gpg writes the plaintext to its
    # named descriptor before it finds out)
    damaged = bytearray(ciphertext)
    damaged[-30] ^= 0xFF
    stream = open_stream(pipeline_key, bytes(damaged))

    # When it is read
    # Then a read refuses it (the integrity check, or the decompressor before it), so a consumer
    # never sees a clean end
    with pytest.raises(gpg_stream.DecryptionFailedError) as refused:
        read_all(stream)
    assert refused.value.code in ("tampered", "corrupt")
