"""The synthetic package, checked against the real gpg and the package model: every unit
decrypts to its recorded digest, every name reads back as what it was generated as, the same
seed gives the same plaintexts, the zips have edX's layout, and upload fills edX's buckets.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import boto3
from moto import mock_aws

from edx_vault.devtools.synthetic.ciphertext_faults import (
    PUBLIC_KEY_ENCRYPTED_SESSION_KEY_TAG,
    SYMMETRICALLY_ENCRYPTED_MDC_TAG,
    openpgp_packets,
)
from edx_vault.devtools.synthetic.generate import generate_package
from edx_vault.devtools.synthetic.generated import GeneratedPackage
from edx_vault.devtools.synthetic.keys import ThrowawayKeyPair
from edx_vault.devtools.synthetic.upload import upload_package
from edx_vault.devtools.synthetic.zip_records import read_central_directory
from edx_vault.package.edx_spellings import ORA_FOLDER
from edx_vault.package.member_names import is_directory_entry, parse_member_name
from edx_vault.package.output_keys import output_key
from edx_vault.package.source_keys import parse_source_key
from tests.devtools.conftest import (
    Decryptor,
    needs_gpg,
    small_spec,
    unit_ciphertext,
)

pytestmark = needs_gpg

SESSION_KEY = PUBLIC_KEY_ENCRYPTED_SESSION_KEY_TAG


# --------------------------------------------------------------------------------------------
# Encryption of every unit
# --------------------------------------------------------------------------------------------


def test_every_unit_is_binary_openpgp_that_decrypts_to_the_recorded_digest(
    package: GeneratedPackage, czar: Decryptor
) -> None:
    # Given every decryptable unit of the generated package
    assert len(package.units) > 100
    for unit in package.units:
        ciphertext = unit_ciphertext(package, unit)
        # Then it is binary OpenPGP (not armored): session keys first, then MDC-protected data
        assert not ciphertext.startswith(b"-----BEGIN")
        tags = [packet.tag for packet in openpgp_packets(ciphertext)]
        assert tags == [SESSION_KEY, SYMMETRICALLY_ENCRYPTED_MDC_TAG], unit.member_name
        # And the czar's secret key opens it, to exactly the plaintext the generator recorded
        plaintext = czar.decrypt(ciphertext)
        assert hashlib.sha256(plaintext).hexdigest() == unit.plaintext_sha256
        assert len(plaintext) == unit.plaintext_size


# --------------------------------------------------------------------------------------------
# Names: every generated name reads back as what was generated
# --------------------------------------------------------------------------------------------


def test_every_generated_name_parses_to_what_it_was_generated_as(package: GeneratedPackage) -> None:
    # Given every unit, and what it was generated as
    # Then the package model reads its key (and member name) back as exactly that
    for unit in package.units:
        source = parse_source_key(unit.source_bucket, unit.source_key)
        if unit.member_name is None:
            assert output_key(source) == unit.output_key
            if unit.category == "events":
                assert source.site == unit.site
            continue
        member = parse_member_name(source, unit.member_name)
        assert (member.category, member.table, member.site, member.entity) == (
            unit.category,
            unit.table,
            unit.site,
            unit.entity,
        ), unit.member_name
        assert output_key(member) == unit.output_key
        assert member.failed == unit.failed


def test_the_demo_package_has_every_awkward_name(package: GeneratedPackage) -> None:
    # Given the demo package's entities and members as the model reads them
    entities = {unit.entity for unit in package.units if unit.entity}
    members = [
        parse_member_name(parse_source_key(u.source_bucket, u.source_key), u.member_name)
        for u in package.units
        if u.member_name
    ]
    # Then there are dashes in course and run, a CCX, an md5-shortened entity, a non-ASCII
    # course number
    assert "MITx-6.00.1x-2-3T2024-A" in entities
    assert "MITx-6.002x-2012_Fall-ccx-7" in entities
    assert any(m.entity_digest for m in members)
    assert "HarvardX-F_sica101-2T2023" in entities
    # Both sites, the old forums spelling, a failed export, the docs' "prod" site folder
    assert {m.site for m in members} >= {"edx", "edge", None}
    assert any(m.failed for m in members)
    assert any("/prod/events/" in unit.source_key for unit in package.units)
    # And every category, plus an RDX archive
    categories = {unit.category for unit in package.units}
    assert categories >= {
        "events",
        "database",
        "ora",
        "forums",
        "course-structure",
        "course-export",
        "email-opt-in",
    }
    assert None in categories  # the RDX archive


def test_output_keys_are_unique(package: GeneratedPackage) -> None:
    # Given the output keys of every unit to publish
    keys = [unit.output_key for unit in package.published_units]
    duplicates = {key for key in keys if keys.count(key) > 1}
    # Then only the email opt-in report repeats: it ships twice on purpose (old and new place),
    # with the same key and the same bytes
    for key in duplicates:
        assert key is not None and key.startswith("email-opt-in/")
        digests = {u.plaintext_sha256 for u in package.published_units if u.output_key == key}
        assert len(digests) == 1


# --------------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------------


def test_same_seed_and_spec_give_the_same_plaintexts_but_fresh_ciphertexts(
    czar_key: ThrowawayKeyPair, tmp_path: Path
) -> None:
    # Given one spec generated twice
    first = generate_package(small_spec(), [czar_key.public_key], tmp_path / "one")
    second = generate_package(small_spec(), [czar_key.public_key], tmp_path / "two")
    # Then every plaintext digest is the same
    assert [(u.source_key, u.member_name, u.plaintext_sha256) for u in first.units] == [
        (u.source_key, u.member_name, u.plaintext_sha256) for u in second.units
    ]
    # But the ciphertexts differ: OpenPGP draws a fresh session key per message
    event_first = next(o for o in first.objects if o.key.endswith(".log.gz.gpg"))
    event_second = next(o for o in second.objects if o.key == event_first.key)
    assert event_first.path.read_bytes() != event_second.path.read_bytes()


def test_another_seed_gives_other_plaintexts(czar_key: ThrowawayKeyPair, tmp_path: Path) -> None:
    # Given two seeds
    first = generate_package(small_spec(seed=1), [czar_key.public_key], tmp_path / "one")
    second = generate_package(small_spec(seed=2), [czar_key.public_key], tmp_path / "two")

    def seeded(package: GeneratedPackage) -> set[str]:
        # Course structure and export follow from the course alone; a traceback is fixed text.
        return {
            u.plaintext_sha256
            for u in package.units
            if not u.failed and u.category not in ("course-structure", "course-export")
        }

    # Then no seeded plaintext is shared
    assert seeded(first) and seeded(first).isdisjoint(seeded(second))


# --------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------


def test_the_weekly_zip_has_the_documented_folder_layout(package: GeneratedPackage) -> None:
    zip_object = next(o for o in package.objects if o.key == "harvardx-2024-01-07.zip")
    with zipfile.ZipFile(zip_object.path) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    # Given the folder as edX's exporter configuration spells the org
    folder = "HarvardX-2024-01-07/"
    # Then the zip holds the folder and its ora/ subfolder as directory entries
    assert [n for n in names if is_directory_entry(n)] == [folder, f"{folder}{ORA_FOLDER}/"]
    source = parse_source_key(zip_object.bucket, zip_object.key)
    files = [info for info in infos if not info.is_dir()]
    assert files
    for info in files:
        # Every file is in the folder or ora/, is its own .gpg, is stored, and is not zip-encrypted
        relative = info.filename.removeprefix(folder)
        assert info.filename.startswith(folder)
        assert relative.count("/") == (1 if relative.startswith("ora/") else 0)
        assert info.filename.endswith(".gpg")
        assert info.compress_type == zipfile.ZIP_STORED
        assert not info.flag_bits & 0x1
        # And exactly the ORA tables are in ora/
        in_ora = parse_member_name(source, info.filename).category == "ora"
        assert in_ora == relative.startswith(f"{ORA_FOLDER}/"), info.filename


def test_zip64_can_be_forced_for_small_zips(czar_key: ThrowawayKeyPair, tmp_path: Path) -> None:
    # Given the same small package with and without forced zip64
    plain = generate_package(small_spec(), [czar_key.public_key], tmp_path / "plain")
    forced = generate_package(small_spec(force_zip64=True), [czar_key.public_key], tmp_path / "z64")
    plain_zip = next(o for o in plain.objects if o.key == "mitx-2024-01-07.zip")
    forced_zip = next(o for o in forced.objects if o.key == "mitx-2024-01-07.zip")
    # Then only the forced one has zip64 end records and zip64 fields on every entry
    assert not read_central_directory(plain_zip.path.read_bytes()).has_zip64_end_record
    directory = read_central_directory(forced_zip.path.read_bytes())
    assert directory.has_zip64_end_record
    assert all(entry.zip64 for entry in directory.entries)
    # And it is still a valid zip, whose members are the same as in the plain one
    with zipfile.ZipFile(forced_zip.path) as archive, zipfile.ZipFile(plain_zip.path) as other:
        assert archive.testzip() is None
        assert archive.namelist() == other.namelist()
        data = forced_zip.path.read_bytes()
        for info, entry in zip(archive.infolist(), directory.entries, strict=True):
            assert (info.filename, info.header_offset) == (entry.name, entry.local_header_offset)
            # Local headers carry the zip64 extra field too (id 0x0001 right after the name)
            extra_at = entry.local_header_offset + 30 + len(entry.name.encode())
            if not info.is_dir():
                assert data[extra_at : extra_at + 2] == b"\x01\x00"


@mock_aws
def test_upload_puts_every_object_in_the_edx_buckets(package: GeneratedPackage) -> None:
    # Given an empty (moto) S3
    s3 = boto3.client("s3", region_name="us-east-1")
    # When the package is uploaded
    upload_package(package, s3, create_buckets=True)
    # Then each bucket holds exactly the generated keys, byte for byte in size
    for bucket in {o.bucket for o in package.objects}:
        listed = {
            item["Key"]: item["Size"]
            for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        }
        assert listed == {o.key: o.size for o in package.objects if o.bucket == bucket}
