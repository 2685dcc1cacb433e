"""The contents of the synthetic package's files: each kind has edX's format, event logs reach
their size knob in flat memory, and gpg's compression can be turned off.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import tarfile
import tracemalloc
from pathlib import Path

from edx_vault.devtools.synthetic.generate import generate_package
from edx_vault.devtools.synthetic.generated import GeneratedPackage, GeneratedUnit
from edx_vault.devtools.synthetic.keys import ThrowawayKeyPair
from edx_vault.devtools.synthetic.reports import (
    CREDENTIALS_HEADER,
    EMAIL_OPT_IN_HEADER,
    FAILED_EXPORT_TEXT,
    credentials_csv,
)
from edx_vault.devtools.synthetic.spec import SyntheticCourse, SyntheticOrg
from tests.devtools.conftest import (
    Decryptor,
    needs_gpg,
    plaintext_of,
    small_spec,
    unit_ciphertext,
    units_where,
)

pytestmark = needs_gpg


def test_sql_members_follow_the_tsv_conventions(package: GeneratedPackage, czar: Decryptor) -> None:
    # Given a decrypted .sql member
    unit = units_where(package, table="auth_userprofile", entity="MITx-6.002x-2012_Fall")[0]
    text = plaintext_of(package, czar, unit).decode("utf-8")
    lines = text.split("\n")
    # Then it has a header row, "\n" line ends, every row as wide as the header (no raw tab or newline)
    assert lines[0].split("\t")[:4] == ["id", "user_id", "name", "language"]
    assert lines[-1] == "" and "\r" not in text
    assert {line.count("\t") for line in lines[:-1]} == {lines[0].count("\t")}
    # Literal NULL, and the two-character escapes for tab, newline, CR and backslash
    cells = [cell for line in lines[1:-1] for cell in line.split("\t")]
    assert "NULL" in cells
    body = "\n".join(lines[1:])
    for escape in ("\\t", "\\n", "\\r", "\\\\"):
        assert escape in body, escape
    # and no quoting
    assert not any(cell.startswith('"') and cell.endswith('"') and len(cell) > 1 for cell in cells)


def test_event_logs_are_gzip_json_lines_with_the_documented_fields(
    package: GeneratedPackage, czar: Decryptor
) -> None:
    # Given a decrypted event log
    unit = next(u for u in package.units if u.category == "events" and u.site == "edx")
    lines = gzip.decompress(plaintext_of(package, czar, unit)).decode().splitlines()
    events = [json.loads(line) for line in lines]
    # Then every line is an event with the documented fields, in time order within its day
    for event in events:
        assert {"event_type", "time", "username", "event_source", "ip", "agent", "event"} <= set(
            event
        )
        assert {"course_id", "org_id", "user_id"} <= set(event["context"])
        assert event["time"].endswith("+00:00")
    times = [dt.datetime.fromisoformat(event["time"]) for event in events]
    assert times == sorted(times)
    assert {time.date() for time in times} == {dt.date(2024, 1, 6)}
    assert any(event["context"]["course_id"] == "" for event in events)
    assert {event["event_source"] for event in events} >= {"browser", "server"}


def test_the_event_size_knob_reaches_its_target(czar_key: ThrowawayKeyPair, tmp_path: Path) -> None:
    for target in (1, 50_000):
        # Given event logs asked for at this size
        spec = small_spec(event_log_bytes=target, tables=(), ora_tables=(), email_opt_in=False)
        generated = generate_package(spec, [czar_key.public_key], tmp_path / str(target))
        sizes = [u.plaintext_size for u in generated.units if u.category == "events"]
        # Then each holds at least one event, and is within a few hundred bytes of the target
        assert all(target <= size < target + 1024 for size in sizes), sizes


def test_openpgp_compression_can_be_turned_off(
    czar_key: ThrowawayKeyPair, czar: Decryptor, tmp_path: Path
) -> None:
    # Given the same compressible table generated with gpg's compression on (edX's way) and off
    def table_unit(compress: bool) -> tuple[GeneratedPackage, GeneratedUnit]:
        spec = small_spec(rows_per_table=300, openpgp_compression=compress, email_opt_in=False)
        generated = generate_package(spec, [czar_key.public_key], tmp_path / str(compress))
        return generated, units_where(generated, table="auth_user", site="edx")[0]

    compressed_package, compressed = table_unit(True)
    stored_package, stored = table_unit(False)
    # Then both decrypt to the same plaintext, but only the first is smaller than it
    assert compressed.plaintext_sha256 == stored.plaintext_sha256
    assert plaintext_of(stored_package, czar, stored) == plaintext_of(
        compressed_package, czar, compressed
    )
    assert len(unit_ciphertext(compressed_package, compressed)) < compressed.plaintext_size
    assert len(unit_ciphertext(stored_package, stored)) > stored.plaintext_size


def test_large_event_logs_stream_in_flat_memory_without_plaintext_on_disk(
    czar_key: ThrowawayKeyPair, tmp_path: Path
) -> None:
    def generate_traced(target: int) -> tuple[GeneratedUnit, int, Path]:
        spec = small_spec(
            orgs=(SyntheticOrg("mitx", (SyntheticCourse("MITx", "6.002x", "2012_Fall"),)),),
            event_log_bytes=target,
            event_gzip_level=1,  # keeps the test quick
            export_dates=(),
            email_opt_in=False,
        )
        output = tmp_path / str(target)
        tracemalloc.start()
        try:
            generated = generate_package(spec, [czar_key.public_key], output)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return generated.units[0], peak, output

    # Given event logs of 0.5 MB and 2 MB, generated while Python allocations are traced
    small, small_peak, _ = generate_traced(512 * 1024)
    large, large_peak, output = generate_traced(2 * 1024 * 1024)
    # Then each reaches its size, yet the larger one needed no more memory than the smaller
    assert small.plaintext_size >= 512 * 1024 and large.plaintext_size >= 2 * 1024 * 1024
    assert large_peak < small_peak + 512 * 1024, (small_peak, large_peak)
    # And no plaintext reached the disk: only ciphertext
    assert [p.suffix for p in output.rglob("*") if p.is_file()] == [".gpg"]


def test_forums_course_files_and_reports_have_their_formats(
    package: GeneratedPackage, czar: Decryptor
) -> None:
    # Given each other kind of file, decrypted / Then it has its format: forums as extended
    # JSON lines, the course structure as JSON blocks, the course export as a tar.gz
    forums = plaintext_of(package, czar, units_where(package, category="forums")[0])
    documents = [json.loads(line) for line in forums.decode().splitlines()]
    assert "$oid" in documents[0]["_id"] and "$date" in documents[0]["created_at"]

    structure = units_where(package, category="course-structure")[0]
    blocks = json.loads(plaintext_of(package, czar, structure))
    assert any(block["category"] == "course" for block in blocks.values())

    export = units_where(package, category="course-export")[0]
    with tarfile.open(fileobj=io.BytesIO(plaintext_of(package, czar, export))) as archive:
        assert "course/course.xml" in archive.getnames()

    # And the email opt-in report as a CSV with its header
    report = next(u for u in package.units if u.category == "email-opt-in")
    rows = list(csv.reader(io.StringIO(plaintext_of(package, czar, report).decode())))
    assert tuple(rows[0]) == EMAIL_OPT_IN_HEADER
    assert len(rows) > 1 and all(len(row) == len(EMAIL_OPT_IN_HEADER) for row in rows)

    # And a failed export as a traceback, not published
    failed = next(u for u in package.units if u.failed)
    assert failed.output_key is None
    assert plaintext_of(package, czar, failed).decode().startswith(FAILED_EXPORT_TEXT)
    assert "Traceback" in plaintext_of(package, czar, failed).decode()

    # And the RDX archive as a tar.gz
    rdx = next(u for u in package.units if "/rdx/" in u.source_key)
    with tarfile.open(fileobj=io.BytesIO(plaintext_of(package, czar, rdx))) as archive:
        assert "grades.csv" in archive.getnames()


def test_credentials_csv_is_a_header_and_one_row() -> None:
    # Given the default credentials.csv / Then it is the header and one row of example keys
    rows = list(csv.reader(io.StringIO(credentials_csv().decode())))
    assert tuple(rows[0]) == CREDENTIALS_HEADER
    assert len(rows) == 2 and rows[1][1].startswith("AKIA")
