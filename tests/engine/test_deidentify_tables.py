"""De-identifying edX's TSV tables: columns by header name, escapes, and rows that do not fit."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from edx_vault.engine import deidentify_tables
from edx_vault.engine.deidentify_tables import (
    TableDeidentifier,
    TableNotCopiedError,
    deidentified_stream,
    deidentify_table,
    tsv_unescape,
)
from edx_vault.engine.pseudonyms import Pseudonymizer

PSEUDONYMS = Pseudonymizer(b"t" * 32)


def _tsv(*rows: str) -> list[bytes]:
    return [(row + "\n").encode() for row in rows]


def test_columns_are_chosen_by_header_name_in_any_order() -> None:
    # Given an enrollment table whose columns moved and grew (SELECT * drifts)
    lines = _tsv(
        "mode\tnew_column\tuser_id\tid\tcourse_id",
        "audit\tsecret@example.edu\t1017\t1\tcourse-v1:X+Y+Z",
    )
    # When it is de-identified
    out = list(deidentify_table("student_courseenrollment", lines, PSEUDONYMS))
    # Then the header keeps the allowlisted names in the file's order, the rest is gone
    assert out[0] == b"mode\tuser_id\tcourse_id\n"
    assert out[1] == f"audit\t{PSEUDONYMS.user_id(1017)}\tcourse-v1:X+Y+Z\n".encode()


def test_null_and_empty_stay_and_escaped_values_are_pseudonymized_unescaped() -> None:
    # Given credit eligibility rows: a username with an escaped tab, a NULL, an empty one
    lines = _tsv("username\tcourse_id", "ada\\tb\t1", "NULL\t2", "\t3")
    # When de-identified
    out = list(deidentify_table("credit_crediteligibility", lines, PSEUDONYMS))
    # Then the username's pseudonym is of its value (the tab), and NULL/empty are left as they are
    assert out[1] == PSEUDONYMS.username("ada\tb").encode() + b"\t1\n"
    assert out[2:] == [b"NULL\t2\n", b"\t3\n"]


def test_not_copied_tables_refuse_before_reading() -> None:
    # Given a table that is identifying as a whole, and lines that fail if read
    def untouchable() -> Iterator[bytes]:
        raise AssertionError("read")
        yield b""

    # Then the refusal comes at once, with its reason
    for table in ("user_id_map", "submissions_submission", "assessment_brand_new", "mystery"):
        with pytest.raises(TableNotCopiedError, match="not copied") as refused:
            deidentify_table(table, untouchable(), PSEUDONYMS)
        assert refused.value.table == table and refused.value.reason


def test_rows_that_do_not_match_the_header_are_dropped_and_counted() -> None:
    # Given rows with a raw tab and a raw newline (no escapes), and a row not UTF-8
    transform = TableDeidentifier("courseware_studentmodule", PSEUDONYMS)
    header = "student_id\tstate\tgrade"
    lines = _tsv(header, "7\t{}\t1", "7\t{'a':\t'b'}\t1", "7\t{'a':", "'b'}\t1")
    lines.append(b"\xff\tx\t1\n")
    # When de-identified
    out = [transform(line) for line in lines]
    # Then only the good row is written, without the state column
    assert [line for line in out if line is not None] == [
        b"student_id\tgrade\n",
        f"{PSEUDONYMS.user_id(7)}\t1\n".encode(),
    ]
    assert transform.counts.by_reason == {"cell-count": 3, "not-utf8": 1}
    assert transform.dropped_columns == ("state",)


def test_tsv_unescape_undoes_edx_escapes() -> None:
    assert tsv_unescape(r"a\tb\nc\rd\\e") == "a\tb\nc\rd\\e"
    assert tsv_unescape("plain") == "plain"


def test_the_stream_matches_the_lines_and_drops_over_long_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a short row limit, and a table with one row longer than it (and no final newline)
    monkeypatch.setattr(deidentify_tables, "MAX_ROW_BYTES", 64)
    body = b"".join(_tsv("user_id\tcourse_id", "1\tc", "2\t" + "x" * 200, "3\tc"))
    # When it is read as a stream, as the decrypt step would upload it
    stream, transform = deidentified_stream(
        "student_courseenrollment", io.BytesIO(body[:-1]), PSEUDONYMS
    )
    data = stream.read()
    # Then it is the de-identified table without the long row, which is counted
    assert data.splitlines() == [
        b"user_id\tcourse_id",
        f"{PSEUDONYMS.user_id(1)}\tc".encode(),
        f"{PSEUDONYMS.user_id(3)}\tc".encode(),
    ]
    assert transform.counts.by_reason == {"too-long": 1}
    assert transform.counts.lines == 4
