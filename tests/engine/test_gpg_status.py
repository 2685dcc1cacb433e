"""gpg's status lines read in one place: the verdicts of edx_vault.engine.gpg_status.

The status lines are gpg 2.2's own, as python-gnupg collects them on stderr (the real gpg
behind them is exercised by tests/integration/test_gpg_stream.py and the CLI's tests).
"""

from __future__ import annotations

import pytest

from edx_vault.engine.gpg_status import GpgStatus, decryption_failure, result_summary

OURS = "19F0D98246DB42C5"
THEIRS = "39D7D53575D85D4E"
# gpg 2.2 with loopback pinentry: a refused passphrase is GPG_ERR_BAD_PASSPHRASE (source 1, 11).
BAD_PASSPHRASE = "ERROR pkdecrypt_failed 67108875"
INTACT = ("BEGIN_DECRYPTION", "PLAINTEXT 62 0", "DECRYPTION_OKAY", "GOODMDC", "END_DECRYPTION")


def stderr(*status: str, messages: tuple[str, ...] = ()) -> str:
    """gpg's stderr: its status lines, then its own messages."""
    return "\n".join([*(f"[GNUPG:] {line}" for line in status), *(f"gpg: {m}" for m in messages)])


def code_of(text: str, returncode: int = 2) -> str | None:
    failure = decryption_failure(GpgStatus.parse(text), returncode)
    return None if failure is None else failure.code


@pytest.mark.parametrize(
    ("status", "returncode", "code"),
    [
        # intact, to our key alone or beside someone else's
        ((f"ENC_TO {OURS} 1 0", *INTACT), 0, None),
        ((f"ENC_TO {THEIRS} 1 0", f"ENC_TO {OURS} 1 0", f"NO_SECKEY {THEIRS}", *INTACT), 0, None),
        # gpg said it was intact but did not exit 0
        ((f"ENC_TO {OURS} 1 0", *INTACT), 2, "gpg-error"),
        # for someone else only
        (
            (
                f"ENC_TO {THEIRS} 1 0",
                f"NO_SECKEY {THEIRS}",
                "BEGIN_DECRYPTION",
                "DECRYPTION_FAILED",
            ),
            2,
            "wrong-recipient",
        ),
        # our key, a passphrase that does not unlock it
        (
            (f"ENC_TO {OURS} 1 0", BAD_PASSPHRASE, "BEGIN_DECRYPTION", "DECRYPTION_FAILED"),
            2,
            "bad-passphrase",
        ),
        # the same beside someone else's key: still the passphrase, not the recipient
        (
            (
                f"ENC_TO {OURS} 1 0",
                f"ENC_TO {THEIRS} 1 0",
                BAD_PASSPHRASE,
                f"NO_SECKEY {THEIRS}",
                "BEGIN_DECRYPTION",
                "DECRYPTION_FAILED",
            ),
            2,
            "bad-passphrase",
        ),
        # a modified message beside someone else's key: about the file, not the recipient
        (
            (
                f"ENC_TO {THEIRS} 1 0",
                f"ENC_TO {OURS} 1 0",
                f"NO_SECKEY {THEIRS}",
                "BEGIN_DECRYPTION",
                "PLAINTEXT 62 0",
            ),
            2,
            "corrupt",
        ),
        # one key of the keyring refused its passphrase, another decrypted the file intact
        ((f"ENC_TO {THEIRS} 1 0", f"ENC_TO {OURS} 1 0", BAD_PASSPHRASE, *INTACT), 0, None),
        ((f"ENC_TO {OURS} 1 0", "BEGIN_DECRYPTION", "BADMDC", "DECRYPTION_FAILED"), 2, "tampered"),
        ((f"ENC_TO {OURS} 1 0", "BEGIN_DECRYPTION", "DECRYPTION_FAILED"), 2, "decryption-failed"),
        (("NODATA 1", "NODATA 2", "FAILURE decrypt 4294967295"), 2, "not-openpgp"),
    ],
    ids=[
        "intact",
        "intact-among-others",
        "intact-but-gpg-failed",
        "for-someone-else",
        "bad-passphrase",
        "bad-passphrase-among-others",
        "corrupt-among-others",
        "intact-after-a-refused-passphrase",
        "tampered",
        "decryption-failed",
        "not-openpgp",
    ],
)
def test_each_outcome_has_one_verdict(
    status: tuple[str, ...], returncode: int, code: str | None
) -> None:
    # Given gpg's status lines for one decryption
    # When they are read
    # Then the verdict is the one failure code (or None: the plaintext may be used)
    assert code_of(stderr(*status), returncode) == code


def test_the_recipients_are_read_in_order_without_repeats() -> None:
    # Given a message to two keys, one named twice
    text = stderr(f"ENC_TO {THEIRS} 1 0", f"ENC_TO {OURS} 1 0", f"ENC_TO {THEIRS} 1 0")
    # When it is read
    status = GpgStatus.parse(text)
    # Then each recipient is named once
    assert status.recipients == (THEIRS, OURS)


def test_a_summary_quotes_gpgs_last_lines_but_none_about_a_passphrase() -> None:
    # Given gpg's messages, one about the passphrase
    text = stderr(
        BAD_PASSPHRASE,
        messages=(
            "encrypted with 2048-bit RSA key, ID 19F0D98246DB42C5",
            "public key decryption failed: Bad passphrase",
            "decryption failed: No secret key",
        ),
    )
    # When a failed result is summarised
    summary = result_summary(type("Result", (), {"stderr": text, "status": "decryption failed"})())
    # Then gpg's own lines are quoted, the passphrase line left out
    assert (
        summary
        == "encrypted with 2048-bit RSA key, ID 19F0D98246DB42C5; decryption failed: No secret key"
    )


def test_a_summary_without_gpg_messages_falls_back_to_python_gnupgs_status() -> None:
    # Given a result whose stderr holds status lines only
    result = type("Result", (), {"stderr": stderr("NODATA 1"), "status": "no data was provided"})()
    # When it is summarised
    # Then python-gnupg's word for it is what is said
    assert result_summary(result) == "no data was provided"
