"""DecryptedStream's plumbing to gpg: wide pipes, named output descriptor, same bytes either way;
and a ciphertext read that fails is retried or refused, never published."""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import signal
import time
import zipfile
from typing import IO, Any, cast

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from urllib3.exceptions import ProtocolError

from edx_vault.devtools.synthetic.encryption import RecipientEncryptor, encrypt_to_recipients
from edx_vault.engine import gpg_stream
from edx_vault.engine.errors import TransientError
from edx_vault.engine.gpg_stream import PIPE_BYTES, DecryptedStream
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


def open_stream(
    key: PipelineKey, ciphertext: bytes, *, max_plaintext_bytes: int = 2 * PLAINTEXT_BYTES
) -> DecryptedStream:
    return DecryptedStream(
        key.gpg,
        io.BytesIO(ciphertext),
        passphrase=key.passphrase,
        max_plaintext_bytes=max_plaintext_bytes,
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


def test_system_without_pipe_resizing_still_decrypts(
    pipeline_key: PipelineKey,
    plaintext: bytes,
    ciphertext: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a system whose fcntl cannot resize pipes (macOS, where developers run the demo)
    monkeypatch.delattr(gpg_stream.fcntl, "F_SETPIPE_SZ")

    # When a message is decrypted
    stream = open_stream(pipeline_key, ciphertext)
    received = read_all(stream)

    # Then the pipe sizes are unknown and the bytes are the same
    assert stream.pipe_bytes == (0, 0)
    assert received == plaintext


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


@pytest.fixture(scope="module")
def compression_bomb(pipeline_key: PipelineKey, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """2 GiB of zeros, which gpg compresses to a few megabytes before encrypting."""
    output = tmp_path_factory.mktemp("bomb") / "bomb.gpg"
    zeros = bytes(gpg_stream.CHUNK_BYTES)
    with RecipientEncryptor([pipeline_key.public_key]) as encryptor:
        encryptor.encrypt_chunks((zeros for _ in range(2048)), output)
    return output.read_bytes()


def test_expansion_past_the_limit_is_refused_for_good_and_stops_gpg(
    pipeline_key: PipelineKey, compression_bomb: bytes
) -> None:
    # Given a small message that decompresses to 2 GiB, read with a 4 MiB limit
    stream = open_stream(pipeline_key, compression_bomb, max_plaintext_bytes=4 * 1024 * 1024)
    buffer = bytearray(gpg_stream.CHUNK_BYTES)

    # When the consumer reads past the limit
    with pytest.raises(gpg_stream.DecryptionFailedError) as refused:
        while stream.readinto(buffer):
            pass
    started = time.monotonic()
    # Then the refusal says why, and reading again refuses again instead of looking like an end
    assert refused.value.code == "too-large"
    with pytest.raises(gpg_stream.DecryptionFailedError):
        stream.readinto(buffer)
    # And gpg was killed, not left to inflate the rest, so closing is prompt
    stream.close()
    assert time.monotonic() - started < 5
    process = stream._worker_gpg.process
    assert process is not None
    assert process.returncode == -signal.SIGKILL


class CutSource(io.RawIOBase):
    """Ciphertext whose connection fails after ``good_bytes``: every read past them raises."""

    def __init__(self, data: bytes, *, good_bytes: int, error: BaseException) -> None:
        super().__init__()
        self._data = memoryview(data)[:good_bytes]
        self._error = error
        self.failed_reads = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._data:
            self.failed_reads += 1
            raise self._error
        count = min(len(buffer), len(self._data))
        buffer[:count] = self._data[:count]
        self._data = self._data[count:]
        return count


def service_error(code: str, status: int) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": f"{code} from S3"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(cast(Any, response), "GetObject")


S3_URL = "https://vault-data.s3.us-east-1.amazonaws.com/raw/edx/mitx-2024-03-03.zip"
# What a read of an S3 body, or of a zip member over ranged GETs, raises when the network or the
# service has a bad moment: the file is fine and a second read gets it.
TRANSIENT_SOURCE_ERRORS = [
    pytest.param(lambda: ReadTimeoutError(endpoint_url=S3_URL), id="read-timeout"),
    pytest.param(lambda: ConnectionClosedError(endpoint_url=S3_URL), id="connection-closed"),
    pytest.param(
        lambda: ResponseStreamingError(error=ProtocolError("Connection broken")),
        id="response-streaming",
    ),
    pytest.param(
        lambda: IncompleteReadError(actual_bytes=2, expected_bytes=8), id="incomplete-read"
    ),
    pytest.param(
        lambda: ProtocolError("Connection broken", ConnectionResetError(104, "reset")),
        id="urllib3-protocol",
    ),
    pytest.param(lambda: ConnectionResetError(104, "Connection reset by peer"), id="reset"),
    pytest.param(lambda: service_error("SlowDown", 503), id="slow-down"),
    pytest.param(lambda: service_error("InternalError", 500), id="internal-error"),
    pytest.param(lambda: service_error("ServiceUnavailable", 503), id="service-unavailable"),
    pytest.param(lambda: TransientError("SlowDown: ranged GET throttled"), id="ranged-get"),
]
# What a read raises when the source itself is wrong: retrying reads the same bytes again.
PERMANENT_SOURCE_ERRORS = [
    pytest.param(lambda: zipfile.BadZipFile("Bad CRC-32 for file 'x.sql.gpg'"), id="bad-crc"),
    pytest.param(lambda: EOFError(), id="member-cut-short-in-the-zip"),
    pytest.param(lambda: service_error("AccessDenied", 403), id="access-denied"),
]


def open_cut_stream(key: PipelineKey, source: CutSource) -> DecryptedStream:
    return DecryptedStream(
        key.gpg,
        cast(IO[bytes], source),
        passphrase=key.passphrase,
        max_plaintext_bytes=2 * PLAINTEXT_BYTES,
    )


def read_until_refused(stream: DecryptedStream) -> BaseException:
    buffer = bytearray(gpg_stream.CHUNK_BYTES)
    with pytest.raises(Exception) as refused:
        while stream.readinto(buffer):
            pass
    return refused.value


@pytest.mark.parametrize("make_error", TRANSIENT_SOURCE_ERRORS)
def test_a_network_failure_while_reading_ciphertext_is_retried_not_recorded(
    pipeline_key: PipelineKey, ciphertext: bytes, make_error: Any
) -> None:
    # Given a ciphertext whose connection fails after 2 MiB with an error that clears up by itself
    error = make_error()
    source = CutSource(ciphertext, good_bytes=2 * 1024 * 1024, error=error)
    stream = open_cut_stream(pipeline_key, source)

    # When the plaintext is read
    refused = read_until_refused(stream)

    # Then the read is refused with the error the state machine retries, not a verdict on the
    # file (which would be recorded against its ETag and never retried), and it says why
    assert type(refused) is TransientError
    assert refused.__cause__ is error
    assert "reading the ciphertext failed" in str(refused)
    assert source.failed_reads == 1
    # And a read after the refusal refuses again instead of looking like an end
    with pytest.raises(TransientError):
        stream.readinto(bytearray(16))
    # And gpg has exited and been reaped, and no thread of the stream is left running
    stream.close()
    process = stream._worker_gpg.process
    assert process is not None
    assert process.returncode is not None
    assert not stream._worker.is_alive()


@pytest.mark.parametrize("make_error", PERMANENT_SOURCE_ERRORS)
def test_a_source_that_is_itself_wrong_stays_a_permanent_failure(
    pipeline_key: PipelineKey, ciphertext: bytes, make_error: Any
) -> None:
    # Given a ciphertext whose reader fails after 2 MiB for a reason a retry cannot change
    source = CutSource(ciphertext, good_bytes=2 * 1024 * 1024, error=make_error())
    stream = open_cut_stream(pipeline_key, source)

    # When the plaintext is read
    refused = read_until_refused(stream)

    # Then the file is refused for good, as before
    assert isinstance(refused, gpg_stream.DecryptionFailedError)
    assert refused.code == "source-read-error"
    stream.close()
    process = stream._worker_gpg.process
    assert process is not None
    assert process.returncode is not None
