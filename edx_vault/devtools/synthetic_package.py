"""A realistic, synthetic edX research data package for tests, benchmarks and the demo.

It is built the way edX builds the real one (see ``../shared/edx-data-package.md``): gzip'd JSON
lines event logs, then encrypted; weekly zips whose every member is its own encrypted file in
``{org}-{date}/`` and ``{org}-{date}/ora/``; an email opt-in zip; optionally an RDX archive.
Every file is binary OpenPGP (not armored), encrypted to all the given recipients' public keys
with ``always_trust`` and no signature, by ``gpg`` through python-gnupg, from a temporary
GNUPGHOME that holds only those public keys.

**Deterministic plaintext, random ciphertext.** The same seed and spec give byte-identical
plaintexts (and so the same sha256 digests); the ciphertexts differ on every run because
OpenPGP draws a fresh random session key for each message. Tests therefore compare plaintext
digests, never ciphertext bytes.

**Streaming.** Plaintext is generated lazily and read straight into ``gpg``'s stdin by
python-gnupg's copier thread; ciphertext goes to a file. Nothing plaintext is written to disk
and a gigabyte event log never lives in memory (``PackageSpec.event_log_bytes`` is the size
knob). The weekly zip is built from the ciphertext files, member by member.

Nothing here is learner data: names come from small built-in lists, e-mail addresses use the
reserved ``example.edu``/``example.org`` domains and IP addresses the documentation ranges.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import gzip
import hashlib
import io
import json
import random
import shutil
import struct
import subprocess
import tarfile
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

import gnupg

from edx_vault.package.package_model import (
    ANALYTICS_NAME_BY_SITE,
    COURSE_EXPORT_TABLE,
    COURSE_STRUCTURE_TABLE,
    EMAIL_OPT_IN_TABLE,
    FORUMS_SUFFIX_BY_SITE,
    FORUMS_TABLE,
    ORA_FOLDER,
    SourceKind,
    email_opt_in_zip_key,
    event_log_key,
    output_key,
    parse_member_name,
    parse_source_key,
    weekly_zip_key,
)
from edx_vault.settings.config import DEFAULT_DATABASE_BUCKET, DEFAULT_EVENT_BUCKET
from edx_vault.settings.types import GrantCategory, Site

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

EMAIL_OPT_IN_HEADER: Final = (
    "user_id",
    "username",
    "email",
    "full_name",
    "course_id",
    "is_opted_in_for_email",
    "preference_set_datetime",
)
CREDENTIALS_HEADER: Final = ("User Name", "Access Key Id", "Secret Access Key")
FAILED_EXPORT_TEXT: Final = "An error occurred generating this file.\n"

# Tables a synthetic course exports by default (a table with no rows has no file, as at edX).
DEFAULT_TABLES: Final = (
    "auth_user",
    "auth_userprofile",
    "certificates_generatedcertificate",
    "courseware_studentmodule",
    "django_comment_client_role_users",
    "student_anonymoususerid",
    "student_courseaccessrole",
    "student_courseenrollment",
    "user_id_map",
    "grades_persistentcoursegrade",
    "wiki_articlerevision",
)
DEFAULT_ORA_TABLES: Final = (
    "assessment_assessment",
    "submissions_submission",
    "workflow_assessmentworkflow",
)
# The member that fails to export when PackageSpec.failed_member is on (or the first table, if
# this one is not exported): the table edX's exporter copies from another job's output, the one
# most likely to be missing.
FAILED_TABLE: Final = "courseware_studentmodule"

_CHUNK: Final = 64 * 1024


# --------------------------------------------------------------------------------------------
# What to generate
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticCourse:
    """One course run of an org.

    Attributes
    ----------
    org
        The org as the course key spells it (case kept, e.g. ``MITx``).
    course, run
        Course number and run; either may contain ``-`` (that is what makes names ambiguous).
    site
        The site the course runs on.
    ccx_id
        Makes this a CCX (custom course) of the run.
    shorten_to
        Cut the entity to this many characters and append ``-{md5}``, as edX does with
        over-long names.
    old_forums_spelling
        Name the forums file ``{entity}.mongo`` (older packages) instead of ``{entity}-prod``.
    """

    org: str
    course: str
    run: str
    site: Site = "edx"
    ccx_id: int | None = None
    shorten_to: int | None = None
    old_forums_spelling: bool = False

    @property
    def course_id(self) -> str:
        """The opaque course key, e.g. ``course-v1:MITx+6.002x+2012_Fall``."""
        if self.ccx_id is not None:
            return f"ccx-v1:{self.org}+{self.course}+{self.run}+ccx@{self.ccx_id}"
        return f"course-v1:{self.org}+{self.course}+{self.run}"

    @property
    def entity(self) -> str:
        """The course as edX's exporter spells it in file names."""
        parts = [self.org, self.course, self.run]
        if self.ccx_id is not None:
            parts += ["ccx", str(self.ccx_id)]
        # edX's exporter replaces every character above code point 128 with "_".
        entity = "".join("_" if ord(char) > 128 else char for char in "-".join(parts))
        if self.shorten_to is not None and len(entity) > self.shorten_to:
            digest = hashlib.md5(entity.encode(), usedforsecurity=False).hexdigest()
            entity = f"{entity[: self.shorten_to]}-{digest}"
        return entity


@dataclass(frozen=True)
class SyntheticOrg:
    """One org and its courses.

    Attributes
    ----------
    org_id
        The org id as edX's keys spell it (lower case).
    courses
        Its courses, on either site.
    folder_spelling
        The org as edX's exporter configuration spells it, used for the zip's inner folder
        (``MITx-2024-01-07/``); defaults to ``org_id``.
    """

    org_id: str
    courses: tuple[SyntheticCourse, ...]
    folder_spelling: str | None = None

    def sites(self) -> tuple[Site, ...]:
        """The sites this org has courses on."""
        return tuple(site for site in ("edx", "edge") if any(c.site == site for c in self.courses))


@dataclass(frozen=True)
class PackageSpec:
    """Everything that shapes a synthetic package. Same spec and seed: same plaintexts.

    Attributes
    ----------
    orgs
        The orgs and their courses.
    event_dates
        Days with an event log (one per org and site with courses on it).
    export_dates
        Dates of the weekly zips (and of the email opt-in zips).
    seed
        Seeds every generated value.
    event_log_bytes
        Target size of each decrypted event log (the ``.log.gz`` bytes), from a few bytes (one
        event) to gigabytes; generation streams, so memory stays flat.
    event_gzip_level
        zlib level of the event logs' gzip. Level 1 makes large files about twice as fast:
        roughly 5 MB/s of event log at level 1 and 3 MB/s at level 6 on a laptop-class core,
        so a 1 GB log takes a few minutes.
    openpgp_compression
        Let gpg compress before encrypting, as edX's exporter does (gpg's default). Off makes
        large files faster to generate and to decrypt, and less like edX's.
    rows_per_table
        Rows in each ``.sql`` table (and lines in each forums file).
    tables, ora_tables
        Which database and ORA tables each course exports.
    failed_member
        Ship one ``{file}.failed.gpg`` member (a traceback) in the first org's first zip.
    email_opt_in
        Ship the email opt-in report as its own zip under ``email-opt-in/`` (since 2017-11).
    email_opt_in_in_weekly_zip
        Also put it inside the weekly zip, as packages before 2017-11 did.
    rdx
        Ship one research data exchange archive for the first org.
    force_zip64
        Write zip64 records (local headers, central directory and end records) even for
        small zips, as edX's multi-gigabyte zips need them.
    prod_site_spelling
        Spell edx.org ``prod`` in event keys, as edX's documentation does, instead of ``edx``.
    event_bucket, database_bucket
        The edX bucket names the package is laid out for.
    """

    orgs: tuple[SyntheticOrg, ...]
    event_dates: tuple[dt.date, ...]
    export_dates: tuple[dt.date, ...]
    seed: int = 0
    event_log_bytes: int = 4096
    event_gzip_level: int = 6
    openpgp_compression: bool = True
    rows_per_table: int = 6
    tables: tuple[str, ...] = DEFAULT_TABLES
    ora_tables: tuple[str, ...] = DEFAULT_ORA_TABLES
    failed_member: bool = True
    email_opt_in: bool = True
    email_opt_in_in_weekly_zip: bool = False
    rdx: bool = False
    force_zip64: bool = False
    prod_site_spelling: bool = False
    event_bucket: str = DEFAULT_EVENT_BUCKET
    database_bucket: str = DEFAULT_DATABASE_BUCKET


def demo_package_spec(*, seed: int = 0, **overrides: object) -> PackageSpec:
    """A package with every awkward name edX produces.

    Three orgs; courses with ``-`` in the number and the run, a CCX, an md5-shortened entity,
    a non-ASCII course number, a mixed-case folder spelling, both sites, the old forums
    spelling; two days of event logs and one weekly export.

    Parameters
    ----------
    seed
        The seed.
    overrides
        Any other :class:`PackageSpec` field, e.g. ``event_log_bytes=10**9`` or ``rdx=True``.
    """
    mitx = SyntheticOrg(
        org_id="mitx",
        courses=(
            SyntheticCourse("MITx", "6.002x", "2012_Fall"),
            SyntheticCourse("MITx", "6.00.1x-2", "3T2024-A"),
            SyntheticCourse("MITx", "6.002x", "2012_Fall", ccx_id=7),
            SyntheticCourse(
                "MITx", "21G.1x", "2024_Spring_" + "Extended-Learners-Cohort" * 6, shorten_to=100
            ),
        ),
    )
    harvardx = SyntheticOrg(
        org_id="harvardx",
        folder_spelling="HarvardX",
        courses=(
            SyntheticCourse("HarvardX", "PH525.1x", "1T2020", site="edge"),
            SyntheticCourse("HarvardX", "Física101", "2T2023", old_forums_spelling=True),
        ),
    )
    delftx = SyntheticOrg(
        org_id="delftx",
        courses=(SyntheticCourse("DelftX", "TPM-1x", "1T-2022", site="edge"),),
    )
    spec = PackageSpec(
        orgs=(mitx, harvardx, delftx),
        event_dates=(dt.date(2024, 1, 6), dt.date(2024, 1, 7)),
        export_dates=(dt.date(2024, 1, 7),),
        seed=seed,
    )
    return _replace(spec, overrides)


def _replace(spec: PackageSpec, overrides: dict[str, object]) -> PackageSpec:
    return dataclasses.replace(spec, **overrides)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# What was generated
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratedObject:
    """One object for edX's buckets, on disk.

    Attributes
    ----------
    bucket, key
        Where it goes in edX's buckets.
    path
        The file holding its bytes (ciphertext, or an unencrypted zip of ciphertexts).
    size
        Its size in bytes.
    kind
        What it is.
    """

    bucket: str
    key: str
    path: Path
    size: int
    kind: SourceKind


@dataclass(frozen=True)
class GeneratedUnit:
    """One decryptable unit: an event log, RDX archive, or zip member; what decrypting gives.

    Attributes
    ----------
    source_bucket, source_key
        The object in edX's buckets holding it.
    member_name
        The zip member's name; ``None`` when the object itself is the unit.
    plaintext_sha256, plaintext_size
        Digest and size of the decrypted bytes.
    output_key
        Where the package model says the decrypted bytes go; ``None`` for a failed export.
    failed
        Whether this is a ``.failed.gpg`` member (a traceback, to be reported, not published).
    category
        The grant category it was generated as (``None`` for an RDX archive).
    table
        The table it was generated as (``None`` for event logs and RDX archives).
    site
        The site it was generated for (``None`` when the name does not say).
    entity
        The course entity it was generated for (the org for the email opt-in report).
    """

    source_bucket: str
    source_key: str
    member_name: str | None
    plaintext_sha256: str
    plaintext_size: int
    output_key: str | None
    failed: bool
    category: GrantCategory | None
    table: str | None
    site: Site | None
    entity: str | None


@dataclass(frozen=True)
class GeneratedPackage:
    """A generated package: its objects on disk and the expected result of decrypting them."""

    spec: PackageSpec
    objects: tuple[GeneratedObject, ...]
    units: tuple[GeneratedUnit, ...]

    def unit(self, source_key: str, member_name: str | None = None) -> GeneratedUnit:
        """The unit at a source key (and member name, for zip members)."""
        for unit in self.units:
            if unit.source_key == source_key and unit.member_name == member_name:
                return unit
        raise KeyError(f"no unit {source_key!r} {member_name!r}")

    @property
    def published_units(self) -> tuple[GeneratedUnit, ...]:
        """The units the pipeline must publish (everything but failed exports)."""
        return tuple(unit for unit in self.units if unit.output_key is not None)


# --------------------------------------------------------------------------------------------
# OpenPGP, as edX uses it: encrypt to public keys only
# --------------------------------------------------------------------------------------------


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
        self._gpg.buffer_size = _CHUNK
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
        _forget_gnupg_home(self._home)

    def encrypt_chunks(self, chunks: Iterable[bytes], output: Path) -> PlaintextDigest:
        """Stream generated plaintext through gpg into ``output``.

        Returns
        -------
        PlaintextDigest
            sha256 and size of the plaintext that went in.
        """
        reader = _CountingReader(chunks)
        result = self._gpg.encrypt_file(
            io.BufferedReader(reader, buffer_size=_CHUNK),
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


@dataclass(frozen=True)
class ThrowawayKeyPair:
    """An unprotected OpenPGP key pair for tests and demos only: never for real data."""

    public_key: str
    secret_key: str
    fingerprint: str


def generate_throwaway_key_pair(*, email: str = "synthetic-czar@example.edu") -> ThrowawayKeyPair:
    """Make an ed25519/cv25519 key pair without a passphrase, in a GNUPGHOME deleted after.

    Fast enough for a test fixture. The secret key is unprotected: use it for synthetic data
    only.

    Parameters
    ----------
    email
        The key's user id e-mail (edX asks for an official institutional address).
    """
    home = Path(tempfile.mkdtemp(prefix="edxv-key-"))
    try:
        gpg = gnupg.GPG(gnupghome=str(home))
        key_input = gpg.gen_key_input(
            key_type="EDDSA",
            key_curve="ed25519",
            key_usage="sign",
            subkey_type="ECDH",
            subkey_curve="cv25519",
            subkey_usage="encrypt",
            name_real="Synthetic data czar",
            name_email=email,
            expire_date="1y",
            no_protection=True,
        )
        key = gpg.gen_key(key_input)
        if not key.fingerprint:
            raise RuntimeError(f"gpg could not generate a key: {key.stderr}")
        public_key = gpg.export_keys(key.fingerprint)
        secret_key = gpg.export_keys(key.fingerprint, secret=True, expect_passphrase=False)
        return ThrowawayKeyPair(
            public_key=str(public_key), secret_key=str(secret_key), fingerprint=key.fingerprint
        )
    finally:
        _forget_gnupg_home(home)


def _forget_gnupg_home(home: Path) -> None:
    """Stop the agent gpg may have started for this home (only this home's), then delete it."""
    gpgconf = shutil.which("gpgconf")
    if gpgconf:
        subprocess.run(  # noqa: S603 - fixed arguments, our own temporary directory
            [gpgconf, "--homedir", str(home), "--kill", "all"],
            check=False,
            capture_output=True,
        )
    shutil.rmtree(home, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Synthetic people (never learner data)
# --------------------------------------------------------------------------------------------

_FIRST_NAMES: Final = ("Ada", "Zoë", "José", "Ngozi", "Wei", "Émile", "Priya", "Oğuz", "Saanvi")
_LAST_NAMES: Final = ("Lovelace", "Núñez", "O'Brien", "Okafor", "Zhang", "Müller", "Østergaard")
# Free text that exercises the TSV escapes (tab, newline, carriage return, backslash) and CSV
# quoting (comma, quote).
_AWKWARD_TEXTS: Final = (
    "first line\nsecond line",
    "a\ttabbed\tanswer",
    "windows line\r\nend",
    "C:\\Users\\learner\\answer.txt",
    'She said "hello, world"',
    "plain answer",
    "naïve café résumé",
)
_AGENTS: Final = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 Version/17.2 Safari/605.1.15",
    "edX/org.edx.mobile (2.26.1; OS Version 14 (Build UQ1A.240105.004))",
    "python-requests/2.31.0",
)


@dataclass(frozen=True)
class _Learner:
    user_id: int
    username: str
    email: str
    full_name: str


def _rng(spec: PackageSpec, *scope: object) -> random.Random:
    """A generator for one piece of the package: adding a piece never changes another."""
    # Seeded on purpose: synthetic values must repeat, and nothing here is a secret.
    return random.Random("/".join(str(part) for part in (spec.seed, *scope)))  # noqa: S311


def _learners(spec: PackageSpec, org: SyntheticOrg) -> tuple[_Learner, ...]:
    rng = _rng(spec, "learners", org.org_id)
    learners = []
    for index in range(max(3, spec.rows_per_table)):
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        user_id = 1000 + index * 17 + rng.randrange(17)
        ascii_first = unicodedata.normalize("NFKD", first).encode("ascii", "ignore").decode()
        learners.append(
            _Learner(
                user_id=user_id,
                username=f"{ascii_first.lower()}_{index}{rng.randrange(100)}",
                email=f"learner{user_id}@{rng.choice(('example.edu', 'example.org'))}",
                full_name=f"{first} {last}",
            )
        )
    return tuple(learners)


def _timestamp(rng: random.Random, day: dt.date, *, sep: str = " ") -> str:
    seconds = rng.randrange(86400)
    moment = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) + dt.timedelta(
        seconds=seconds, microseconds=rng.randrange(1_000_000)
    )
    return moment.strftime(f"%Y-%m-%d{sep}%H:%M:%S.%f")


# --------------------------------------------------------------------------------------------
# Event logs: gzip'd JSON lines, streamed
# --------------------------------------------------------------------------------------------

_BROWSER_EVENTS: Final = ("play_video", "pause_video", "seq_goto", "page_close", "problem_show")
_SERVER_EVENTS: Final = (
    "problem_check",
    "edx.course.enrollment.activated",
    "showanswer",
    "edx.forum.thread.created",
)


# Distinct events per file; beyond this, lines reuse a random earlier event with a new time, so
# gigabyte files stream at zlib's speed rather than at json.dumps's.
_EVENT_POOL_SIZE: Final = 4096
_TIME_PLACEHOLDER: Final = "@@time@@"
_MICROSECONDS_PER_DAY: Final = 86_400 * 1_000_000
# About what one event costs once gzip'd: used only to spread a file's events over its day.
_GZIPPED_BYTES_PER_EVENT: Final = 25


def _event_template(
    rng: random.Random, learners: Sequence[_Learner], courses: Sequence[SyntheticCourse], host: str
) -> tuple[bytes, bytes]:
    """One tracking-log event, split around its ``time`` value."""
    learner = rng.choice(learners)
    course = rng.choice(courses)
    # Some events happen outside any course (the dashboard): course_id is then empty.
    in_course = rng.random() > 0.1
    course_id = course.course_id if in_course else ""
    course_key = course.course_id.split(":", 1)[1]
    roll = rng.random()
    event: object
    if roll < 0.55:
        source = "browser"
        event_type = rng.choice(_BROWSER_EVENTS)
        # Browser events carry their payload as a JSON string, not an object.
        event = json.dumps({"id": f"block-{rng.randrange(10**6)}", "code": "html5"})
        page: str | None = f"https://{host}/courses/{course_id}/courseware/"
    elif roll < 0.9:
        source = "server"
        event_type = rng.choice(_SERVER_EVENTS)
        event = {
            "problem_id": f"block-v1:{course_key}+type@problem+block@p{rng.randrange(50)}",
            "attempts": rng.randrange(1, 4),
            "answers": {"input_1": rng.choice(_AWKWARD_TEXTS)},
            "success": rng.choice(("correct", "incorrect")),
        }
        page = None
    else:
        source = "server"
        # Implicit events are named after the URL they served.
        event_type = f"/courses/{course_id}/courseware/" if in_course else "/dashboard"
        event = {"GET": {}, "POST": {}}
        page = None
    record: dict[str, object] = {
        "username": learner.username if rng.random() > 0.05 else "",
        "event_type": event_type,
        "ip": f"203.0.113.{rng.randrange(1, 255)}",
        "agent": rng.choice(_AGENTS),
        "host": host,
        "referer": f"https://{host}/dashboard",
        "accept_language": "en-US,en;q=0.9",
        "event": event,
        "event_source": source,
        "context": {
            "course_id": course_id,
            "org_id": course.org if in_course else "",
            "user_id": learner.user_id,
            "path": event_type if event_type.startswith("/") else "/event",
        },
        "time": _TIME_PLACEHOLDER,
        "page": page,
    }
    before, after = (json.dumps(record) + "\n").split(_TIME_PLACEHOLDER)
    return before.encode(), after.encode()


def _event_lines(spec: PackageSpec, org: SyntheticOrg, site: Site, day: dt.date) -> Iterator[bytes]:
    """Endless tracking-log lines for one org, site and day, in time order within the day."""
    rng = _rng(spec, "events", org.org_id, site, day)
    learners = _learners(spec, org)
    courses = [course for course in org.courses if course.site == site]
    host = "courses.edx.org" if site == "edx" else "edge.edx.org"
    expected_events = max(1, spec.event_log_bytes // _GZIPPED_BYTES_PER_EVENT)
    mean_gap = max(2, _MICROSECONDS_PER_DAY // expected_events)
    date_text = day.isoformat().encode()
    pool: list[tuple[bytes, bytes]] = []
    clock = 0
    # rng.random() rather than randrange(): this loop runs millions of times for large files.
    draw = rng.random
    while True:
        clock = min(_MICROSECONDS_PER_DAY - 1, clock + 1 + int(draw() * 2 * mean_gap))
        if len(pool) < _EVENT_POOL_SIZE:
            pool.append(_event_template(rng, learners, courses, host))
            before, after = pool[-1]
        else:
            before, after = pool[int(draw() * _EVENT_POOL_SIZE)]
        seconds, micros = divmod(clock, 1_000_000)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        stamp = b"%sT%02d:%02d:%02d.%06d+00:00" % (date_text, hour, minute, second, micros)
        yield before + stamp + after


def _gzip_to_target(lines: Iterator[bytes], target: int, level: int) -> Iterator[bytes]:
    """Gzip lines until the compressed stream reaches about ``target`` bytes (at least one line).

    The gzip header carries no name and a zero mtime, so the bytes depend on the lines only.
    """
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    emitted = 0
    # Below a few MB, zlib's internal buffer is a large share of the output: measure it by
    # flushing a copy. Above that, the bytes already emitted are a close enough measure.
    measure_buffered = target < 8 * 1024 * 1024
    batch = 1 if target < 64 * 1024 else 256
    while True:
        out = compressor.compress(b"".join([next(lines) for _ in range(batch)]))
        if out:
            emitted += len(out)
            yield out
        reached = emitted + (len(compressor.copy().flush()) if measure_buffered else 0)
        if reached >= target:
            break
    yield compressor.flush()


# --------------------------------------------------------------------------------------------
# Weekly zip members
# --------------------------------------------------------------------------------------------


def _columns(names: str) -> tuple[str, ...]:
    return tuple(names.split())


# Column names per table (edX's exports keep the source tables' columns).
_TABLE_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "auth_user": _columns(
        "id username first_name last_name email password is_staff is_active is_superuser "
        "last_login date_joined status email_key"
    ),
    "auth_userprofile": _columns(
        "id user_id name language location meta courseware gender mailing_address "
        "year_of_birth level_of_education goals country bio"
    ),
    "certificates_generatedcertificate": _columns(
        "id user_id download_url grade course_id key distinction status name created_date "
        "modified_date error_reason mode"
    ),
    "courseware_studentmodule": _columns(
        "id module_type module_id student_id state grade created modified max_grade done course_id"
    ),
    "django_comment_client_role_users": _columns("course_id user_id name"),
    "student_anonymoususerid": _columns("id user_id anonymous_user_id course_id"),
    "student_courseaccessrole": _columns("org course_id user_id role"),
    "student_courseenrollment": _columns("id user_id course_id created is_active mode"),
    "user_id_map": _columns("hash_id id username"),
    "grades_persistentcoursegrade": _columns(
        "course_id user_id grading_policy_hash percent_grade letter_grade "
        "passed_timestamp created modified"
    ),
    "wiki_articlerevision": _columns(
        "id revision_number user_message automatic_log ip_address modified created "
        "deleted locked article_id content title user_id"
    ),
}
_GENERIC_COLUMNS: Final = ("id", "uuid", "course_id", "user_id", "created_at", "raw_answer")


def _tsv_escape(value: str) -> str:
    """edX's .sql convention: backslash, tab, newline and CR as two-character escapes."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _cell(
    column: str,
    row: int,
    rng: random.Random,
    learner: _Learner,
    course: SyntheticCourse,
    day: dt.date,
) -> str | None:
    """One value, by column name: realistic enough for parsers, never real."""
    # Offset by column so that a table with a few text columns shows every awkward text in
    # its first rows, whatever rows_per_table is.
    awkward = _AWKWARD_TEXTS[(row + len(column)) % len(_AWKWARD_TEXTS)]
    if column in ("id", "revision_number"):
        return str(row + 1)
    if column in ("user_id", "student_id"):
        return str(learner.user_id)
    if column == "username":
        return learner.username
    if column == "email":
        return learner.email
    if column in ("name", "first_name"):
        return learner.full_name if column == "name" else learner.full_name.split()[0]
    if column == "last_name":
        return learner.full_name.split()[-1]
    if column == "course_id":
        return course.course_id
    if column == "org":
        return course.org
    if column in ("state", "goals", "bio", "mailing_address", "content", "raw_answer", "meta"):
        return awkward
    if column in ("year_of_birth", "level_of_education") and row % 2:
        return None  # often left blank by learners: NULL in the export
    if column.startswith(("is_", "done", "distinction", "deleted", "locked")):
        return str(rng.randrange(2))
    if column in ("email_key", "error_reason", "download_url") or (
        column in ("last_login", "passed_timestamp") and row % 3 == 0
    ):
        return None
    if column in ("created", "modified", "created_at", "created_date", "modified_date") or (
        column in ("last_login", "date_joined", "passed_timestamp")
    ):
        return _timestamp(rng, day)
    if column in ("uuid", "anonymous_user_id", "hash_id", "key", "grading_policy_hash"):
        return hashlib.md5(
            f"{column}{row}{learner.user_id}".encode(), usedforsecurity=False
        ).hexdigest()
    if column in ("grade", "percent_grade", "max_grade"):
        return f"{rng.random():.2f}"
    if column == "ip_address":
        return f"198.51.100.{rng.randrange(1, 255)}"
    return rng.choice(("audit", "verified", "honor", "m", "f", "o", "", "staff", "Student"))


def _table_lines(
    spec: PackageSpec, org: SyntheticOrg, course: SyntheticCourse, table: str, day: dt.date
) -> Iterator[bytes]:
    columns = _TABLE_COLUMNS.get(table, _GENERIC_COLUMNS)
    rng = _rng(spec, "table", org.org_id, course.entity, table, day)
    learners = _learners(spec, org)
    yield ("\t".join(columns) + "\n").encode()
    for row in range(spec.rows_per_table):
        learner = learners[row % len(learners)]
        cells = (_cell(column, row, rng, learner, course, day) for column in columns)
        line = "\t".join("NULL" if value is None else _tsv_escape(value) for value in cells)
        yield (line + "\n").encode()


def _forums_lines(
    spec: PackageSpec, org: SyntheticOrg, course: SyntheticCourse, day: dt.date
) -> Iterator[bytes]:
    """mongoexport extended-JSON lines: threads and their comments."""
    rng = _rng(spec, "forums", org.org_id, course.entity, day)
    learners = _learners(spec, org)
    thread_id = ""
    for index in range(spec.rows_per_table):
        learner = rng.choice(learners)
        oid = f"{rng.getrandbits(96):024x}"
        document: dict[str, object] = {
            "_id": {"$oid": oid},
            "_type": "CommentThread" if index % 3 == 0 else "Comment",
            "author_id": str(learner.user_id),
            "author_username": learner.username,
            "body": _AWKWARD_TEXTS[index % len(_AWKWARD_TEXTS)],
            "course_id": course.course_id,
            "anonymous": False,
            "votes": {"up": [], "down": [], "up_count": 0, "down_count": 0, "count": 0},
            "created_at": {"$date": _timestamp(rng, day, sep="T")[:23] + "Z"},
            "updated_at": {"$date": _timestamp(rng, day, sep="T")[:23] + "Z"},
        }
        if index % 3 == 0:
            thread_id = oid
            document["title"] = f"Question {index} about week {rng.randrange(1, 13)}"
            document["thread_type"] = "discussion"
            document["commentable_id"] = f"course_{course.run}"
        else:
            document["comment_thread_id"] = {"$oid": thread_id}
        yield (json.dumps(document) + "\n").encode()


def _course_structure(course: SyntheticCourse) -> bytes:
    """One JSON object keyed by block id, as ``dump_course_structure`` writes it."""
    base = course.course_id.split(":", 1)[1]
    root = f"block-v1:{base}+type@course+block@course"
    blocks: dict[str, object] = {
        root: {
            "category": "course",
            "children": [f"block-v1:{base}+type@chapter+block@week{n}" for n in (1, 2)],
            "metadata": {"display_name": f"{course.course} {course.run}", "start": "2024-01-01"},
        }
    }
    for week in (1, 2):
        chapter = f"block-v1:{base}+type@chapter+block@week{week}"
        problem = f"block-v1:{base}+type@problem+block@p{week}"
        blocks[chapter] = {
            "category": "chapter",
            "children": [problem],
            "metadata": {"display_name": f"Week {week}"},
        }
        blocks[problem] = {"category": "problem", "children": [], "metadata": {"weight": 1.0}}
    return json.dumps(blocks, indent=2, sort_keys=True).encode()


def _deterministic_tar_gz(files: Sequence[tuple[str, bytes]], mtime: int) -> bytes:
    """A real ``.tar.gz`` whose bytes depend on its contents only."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, content in files:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(content), mtime, 0o644
            archive.addfile(info, io.BytesIO(content))
    return gzip.compress(tar_bytes.getvalue(), mtime=0)


def _course_export(course: SyntheticCourse, day: dt.date) -> bytes:
    """A small OLX course export, as ``export_olx`` writes it."""
    mtime = int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp())
    files = [
        (
            "course/course.xml",
            f'<course url_name="{course.run}" org="{course.org}" course="{course.course}"/>\n',
        ),
        (
            f"course/course/{course.run}.xml",
            f'<course display_name="{course.course}">\n  <chapter url_name="week1"/>\n</course>\n',
        ),
        ("course/chapter/week1.xml", '<chapter display_name="Week 1"/>\n'),
        (f"course/policies/{course.run}/policy.json", '{"course/' + course.run + '": {}}\n'),
    ]
    return _deterministic_tar_gz([(name, text.encode()) for name, text in files], mtime)


def _email_opt_in(spec: PackageSpec, org: SyntheticOrg, day: dt.date) -> bytes:
    rng = _rng(spec, "email-opt-in", org.org_id, day)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(EMAIL_OPT_IN_HEADER)
    for learner in _learners(spec, org):
        for course in org.courses:
            if course.site != "edx":
                continue  # the report covers edx.org only
            writer.writerow(
                (
                    learner.user_id,
                    learner.username,
                    learner.email,
                    # A comma and a quote in some names: the CSV must be quoted correctly.
                    f'{learner.full_name}, "Jr"' if learner.user_id % 5 == 0 else learner.full_name,
                    course.course_id,
                    rng.choice(("True", "False")),
                    _timestamp(rng, day) + "+00:00",
                )
            )
    return text.getvalue().encode()


def _failed_export_text(file_name: str) -> bytes:
    return (
        FAILED_EXPORT_TEXT
        + "Traceback (most recent call last):\n"
        + '  File "/edx/app/exporter/exporter/main.py", line 151, in _run_task\n'
        + "    task.run(filename, dry_run, **kwargs)\n"
        + f"exporter.tasks.FatalTaskError: Unable to copy {file_name}\n"
    ).encode()


def credentials_csv(
    access_key_id: str = "AKIAIOSFODNN7EXAMPLE",
    secret_access_key: str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # noqa: S107 - AWS's doc example
    user_name: str = "edx-data-czar-example",
) -> bytes:
    """The plaintext of edX's ``credentials.csv.gpg``: a header and one row.

    Defaults are AWS's documented example keys, which open nothing. Encrypt the result with
    :func:`encrypt_to_recipients` to get the ``.gpg`` a czar receives.
    """
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CREDENTIALS_HEADER)
    writer.writerow((user_name, access_key_id, secret_access_key))
    return text.getvalue().encode()


# --------------------------------------------------------------------------------------------
# Zip structure: writing zip64 records, reading the central directory
# --------------------------------------------------------------------------------------------

_LOCAL_HEADER = struct.Struct("<4sHHHHHLLLHH")
_CENTRAL_HEADER = struct.Struct("<4sHHHHHHLLLHHHHHLL")
_END_RECORD = struct.Struct("<4sHHHHLLH")
_ZIP64_END_RECORD = struct.Struct("<4sQHHLLQQQQ")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
LOCAL_HEADER_SIGNATURE: Final = b"PK\x03\x04"
CENTRAL_HEADER_SIGNATURE: Final = b"PK\x01\x02"
END_RECORD_SIGNATURE: Final = b"PK\x05\x06"
ZIP64_END_RECORD_SIGNATURE: Final = b"PK\x06\x06"
ZIP64_LOCATOR_SIGNATURE: Final = b"PK\x06\x07"
ZIP64_EXTRA_ID: Final = 0x0001
_MAX32: Final = 0xFFFFFFFF
_ZIP64_VERSION: Final = 45


@dataclass(frozen=True)
class CentralDirectoryEntry:
    """One central directory record, with zip64 fields resolved.

    Attributes
    ----------
    name
        The member name as stored (not sanitised).
    record_offset
        Where the record starts in the zip.
    local_header_offset
        Where the member's local header starts.
    compressed_size, uncompressed_size
        As the central directory states them.
    compression
        0 stored, 8 deflated.
    zip64
        Whether the record carries a zip64 extra field.
    """

    name: str
    record_offset: int
    local_header_offset: int
    compressed_size: int
    uncompressed_size: int
    compression: int
    zip64: bool


@dataclass(frozen=True)
class CentralDirectory:
    """A zip's central directory and how its end was recorded."""

    entries: tuple[CentralDirectoryEntry, ...]
    offset: int
    size: int
    has_zip64_end_record: bool


def read_central_directory(data: bytes) -> CentralDirectory:
    """Read a zip's central directory from its bytes (zip64 included), as a ranged reader would.

    Raises
    ------
    ValueError
        If there is no end record or a record's signature is wrong.
    """
    end = data.rfind(END_RECORD_SIGNATURE)
    if end < 0:
        raise ValueError("no end of central directory record")
    _, _, _, _, count, size, offset, _ = _END_RECORD.unpack_from(data, end)
    locator = end - _ZIP64_LOCATOR.size
    has_zip64 = locator >= 0 and data[locator : locator + 4] == ZIP64_LOCATOR_SIGNATURE
    if has_zip64:
        _, _, record_offset, _ = _ZIP64_LOCATOR.unpack_from(data, locator)
        signature, *_, count, size, offset = _ZIP64_END_RECORD.unpack_from(data, record_offset)
        if signature != ZIP64_END_RECORD_SIGNATURE:
            raise ValueError("bad zip64 end of central directory record")
    entries = []
    position = offset
    for _ in range(count):
        fields = _CENTRAL_HEADER.unpack_from(data, position)
        if fields[0] != CENTRAL_HEADER_SIGNATURE:
            raise ValueError(f"bad central directory record at {position}")
        compression, compressed, uncompressed = fields[5], fields[8], fields[9]
        name_length, extra_length, comment_length, header_offset = (
            fields[10],
            fields[11],
            fields[12],
            fields[16],
        )
        name_start = position + _CENTRAL_HEADER.size
        name_bytes = data[name_start : name_start + name_length]
        extra = data[name_start + name_length : name_start + name_length + extra_length]
        zip64_values = _zip64_extra_values(extra)
        values = iter(zip64_values or ())
        if uncompressed == _MAX32:
            uncompressed = next(values)
        if compressed == _MAX32:
            compressed = next(values)
        if header_offset == _MAX32:
            header_offset = next(values)
        utf8 = bool(fields[3] & 0x800)
        entries.append(
            CentralDirectoryEntry(
                name=name_bytes.decode("utf-8" if utf8 else "cp437"),
                record_offset=position,
                local_header_offset=header_offset,
                compressed_size=compressed,
                uncompressed_size=uncompressed,
                compression=compression,
                zip64=zip64_values is not None,
            )
        )
        position = name_start + name_length + extra_length + comment_length
    return CentralDirectory(
        entries=tuple(entries), offset=offset, size=size, has_zip64_end_record=has_zip64
    )


def _extra_fields(extra: bytes) -> Iterator[tuple[int, bytes]]:
    position = 0
    while position + 4 <= len(extra):
        header_id, length = struct.unpack_from("<HH", extra, position)
        yield header_id, extra[position + 4 : position + 4 + length]
        position += 4 + length


def _zip64_extra_values(extra: bytes) -> tuple[int, ...] | None:
    for header_id, body in _extra_fields(extra):
        if header_id == ZIP64_EXTRA_ID:
            return struct.unpack_from(f"<{len(body) // 8}Q", body)
    return None


def promote_to_zip64_end_records(path: Path) -> None:
    """Rewrite a small zip's central directory and end records in zip64 form.

    Python's ``zipfile`` writes zip64 local headers on request (``force_zip64``) but writes the
    central directory in zip64 form only past 4 GiB. edX's real zips are that big; this gives a
    small zip the same shape, so zip64 readers can be tested without gigabytes. Every central
    record's sizes and offset move into a zip64 extra field (the 32-bit fields become
    0xFFFFFFFF), and a zip64 end record and locator precede the classic end record, whose
    fields become 0xFFFF/0xFFFFFFFF.
    """
    data = path.read_bytes()
    directory = read_central_directory(data)
    records = bytearray()
    for entry in directory.entries:
        fields = list(_CENTRAL_HEADER.unpack_from(data, entry.record_offset))
        name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
        start = entry.record_offset + _CENTRAL_HEADER.size
        name = data[start : start + name_length]
        old_extra = data[start + name_length : start + name_length + extra_length]
        comment = data[
            start + name_length + extra_length : start + name_length + extra_length + comment_length
        ]
        kept = b"".join(
            struct.pack("<HH", header_id, len(body)) + body
            for header_id, body in _extra_fields(old_extra)
            if header_id != ZIP64_EXTRA_ID
        )
        zip64_extra = struct.pack(
            "<HHQQQ",
            ZIP64_EXTRA_ID,
            24,
            entry.uncompressed_size,
            entry.compressed_size,
            entry.local_header_offset,
        )
        fields[1] = max(fields[1] & 0xFF, _ZIP64_VERSION) | (fields[1] & 0xFF00)
        fields[2] = max(fields[2], _ZIP64_VERSION)
        fields[8] = fields[9] = fields[16] = _MAX32
        fields[11] = len(zip64_extra) + len(kept)
        records += _CENTRAL_HEADER.pack(*fields) + name + zip64_extra + kept + comment
    count = len(directory.entries)
    zip64_end_offset = directory.offset + len(records)
    tail = (
        bytes(records)
        + _ZIP64_END_RECORD.pack(
            ZIP64_END_RECORD_SIGNATURE,
            _ZIP64_END_RECORD.size - 12,
            _ZIP64_VERSION,
            _ZIP64_VERSION,
            0,
            0,
            count,
            count,
            len(records),
            directory.offset,
        )
        + _ZIP64_LOCATOR.pack(ZIP64_LOCATOR_SIGNATURE, 0, zip64_end_offset, 1)
        + _END_RECORD.pack(END_RECORD_SIGNATURE, 0, 0, 0xFFFF, 0xFFFF, _MAX32, _MAX32, 0)
    )
    with path.open("r+b") as archive:
        archive.seek(directory.offset)
        archive.write(tail)
        archive.truncate()


@dataclass(frozen=True)
class _PendingMember:
    name: str
    ciphertext: Path


def _write_zip(
    path: Path,
    folders: Sequence[str],
    members: Sequence[_PendingMember],
    *,
    date: dt.date,
    force_zip64: bool,
) -> None:
    """An unencrypted zip of ciphertext files (stored: ciphertext does not compress)."""
    stamp = (date.year, date.month, date.day, 0, 0, 0)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        # `zip -r` writes a directory entry for each folder: readers must skip them.
        for folder in folders:
            info = zipfile.ZipInfo(folder, date_time=stamp)
            info.external_attr = 0o40755 << 16 | 0x10
            archive.writestr(info, b"")
        for member in sorted(members, key=lambda m: m.name):
            info = zipfile.ZipInfo(member.name, date_time=stamp)
            info.external_attr = 0o100644 << 16
            with (
                member.ciphertext.open("rb") as source,
                archive.open(info, "w", force_zip64=force_zip64) as target,
            ):
                shutil.copyfileobj(source, target, _CHUNK)
    if force_zip64:
        promote_to_zip64_end_records(path)


# --------------------------------------------------------------------------------------------
# The package
# --------------------------------------------------------------------------------------------


@dataclass
class _Builder:
    spec: PackageSpec
    encryptor: RecipientEncryptor
    root: Path
    objects: list[GeneratedObject] = field(default_factory=list)
    units: list[GeneratedUnit] = field(default_factory=list)

    def object_path(self, bucket: str, key: str) -> Path:
        path = self.root / bucket / key
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def add_object(self, bucket: str, key: str, path: Path) -> None:
        kind = parse_source_key(bucket, key).kind
        self.objects.append(
            GeneratedObject(bucket=bucket, key=key, path=path, size=path.stat().st_size, kind=kind)
        )

    def encrypted_object(
        self,
        bucket: str,
        key: str,
        chunks: Iterable[bytes],
        *,
        category: GrantCategory | None,
        site: Site | None,
    ) -> None:
        """An object that is one encrypted file (event log, RDX archive)."""
        path = self.object_path(bucket, key)
        digest = self.encryptor.encrypt_chunks(chunks, path)
        self.add_object(bucket, key, path)
        source = parse_source_key(bucket, key)
        self.units.append(
            GeneratedUnit(
                source_bucket=bucket,
                source_key=key,
                member_name=None,
                plaintext_sha256=digest.sha256,
                plaintext_size=digest.size,
                output_key=output_key(source),
                failed=False,
                category=category,
                table=None,
                site=site,
                entity=None,
            )
        )

    def zip_object(
        self,
        key: str,
        date: dt.date,
        folder: str,
        members: Sequence[tuple[str, Callable[[], Iterable[bytes]], _Intent]],
    ) -> None:
        """An unencrypted zip whose members are each encrypted on their own."""
        bucket = self.spec.database_bucket
        source = parse_source_key(bucket, key)
        pending: list[_PendingMember] = []
        with tempfile.TemporaryDirectory(prefix="edxv-members-") as scratch:
            for index, (name, chunks, intent) in enumerate(members):
                ciphertext = Path(scratch) / f"{index}.gpg"
                digest = self.encryptor.encrypt_chunks(chunks(), ciphertext)
                pending.append(_PendingMember(name=name, ciphertext=ciphertext))
                member = parse_member_name(source, name)
                self.units.append(
                    GeneratedUnit(
                        source_bucket=bucket,
                        source_key=key,
                        member_name=name,
                        plaintext_sha256=digest.sha256,
                        plaintext_size=digest.size,
                        output_key=output_key(member),
                        failed=member.failed,
                        category=intent.category,
                        table=intent.table,
                        site=intent.site,
                        entity=intent.entity,
                    )
                )
            folders = sorted(
                {name.rsplit("/", 1)[0] + "/" for name, _, _ in members if "/" in name}
            )
            path = self.object_path(bucket, key)
            _write_zip(path, folders, pending, date=date, force_zip64=self.spec.force_zip64)
        self.add_object(bucket, key, path)


@dataclass(frozen=True)
class _Intent:
    """What a member was generated as, so tests can check the package model's reading of it."""

    category: GrantCategory
    table: str
    site: Site | None
    entity: str


def generate_package(
    spec: PackageSpec, recipient_public_keys: Sequence[str], output_dir: Path
) -> GeneratedPackage:
    """Generate, encrypt and lay out a synthetic package on disk.

    Parameters
    ----------
    spec
        What to generate.
    recipient_public_keys
        ASCII-armored public keys; every file is encrypted to all of them.
    output_dir
        Where to write it: ``{output_dir}/{bucket}/{key}``, ready for :func:`upload_package`.

    Returns
    -------
    GeneratedPackage
        The objects, and for every decryptable unit the plaintext digest and the output key
        the package model expects for it.
    """
    with RecipientEncryptor(recipient_public_keys, compress=spec.openpgp_compression) as encryptor:
        builder = _Builder(spec=spec, encryptor=encryptor, root=output_dir)
        for org in spec.orgs:
            _add_event_logs(builder, org)
            for export_date in spec.export_dates:
                _add_weekly_zip(builder, org, export_date, first=org is spec.orgs[0])
                if spec.email_opt_in and "edx" in org.sites():
                    _add_email_opt_in_zip(builder, org, export_date)
        if spec.rdx and spec.orgs:
            _add_rdx_archive(builder, spec.orgs[0])
    return GeneratedPackage(spec=spec, objects=tuple(builder.objects), units=tuple(builder.units))


def _add_event_logs(builder: _Builder, org: SyntheticOrg) -> None:
    spec = builder.spec
    for site in org.sites():
        spelling = "prod" if site == "edx" and spec.prod_site_spelling else site
        for day in spec.event_dates:
            builder.encrypted_object(
                spec.event_bucket,
                event_log_key(org.org_id, spelling, day),
                _gzip_to_target(
                    _event_lines(spec, org, site, day), spec.event_log_bytes, spec.event_gzip_level
                ),
                category="events",
                site=site,
            )


def _add_weekly_zip(builder: _Builder, org: SyntheticOrg, day: dt.date, *, first: bool) -> None:
    spec = builder.spec
    folder = f"{org.folder_spelling or org.org_id}-{day.isoformat()}"
    members: list[tuple[str, Callable[[], Iterable[bytes]], _Intent]] = []
    failed_pending = spec.failed_member and first and day == spec.export_dates[0]
    failed_table = FAILED_TABLE if FAILED_TABLE in spec.tables else next(iter(spec.tables), None)

    def add(name: str, chunks: Callable[[], Iterable[bytes]], intent: _Intent) -> None:
        members.append((name, chunks, intent))

    for course in org.courses:
        entity, site = course.entity, course.site
        analytics = ANALYTICS_NAME_BY_SITE[site]
        for table in spec.tables:
            file_name = f"{entity}-{table}-{analytics}.sql"
            intent = _Intent("database", table, site, entity)
            if failed_pending and table == failed_table:
                # edX removes the data file and ships "{file}.failed" in its place.
                failed_pending = False
                add(
                    f"{folder}/{file_name}.failed.gpg",
                    _once(_failed_export_text(file_name)),
                    intent,
                )
                continue
            add(
                f"{folder}/{file_name}.gpg",
                _lazy(_table_lines, spec, org, course, table, day),
                intent,
            )
        for table in spec.ora_tables:
            add(
                f"{folder}/{ORA_FOLDER}/{entity}-{table}-{analytics}.sql.gpg",
                _lazy(_table_lines, spec, org, course, table, day),
                _Intent("ora", table, site, entity),
            )
        forums_name = (
            f"{entity}.mongo"
            if course.old_forums_spelling
            else f"{entity}-{FORUMS_SUFFIX_BY_SITE[site]}.mongo"
        )
        add(
            f"{folder}/{forums_name}.gpg",
            _lazy(_forums_lines, spec, org, course, day),
            _Intent("forums", FORUMS_TABLE, None if course.old_forums_spelling else site, entity),
        )
        add(
            f"{folder}/{entity}-course_structure-{analytics}.json.gpg",
            _once(_course_structure(course)),
            _Intent("course-structure", COURSE_STRUCTURE_TABLE, site, entity),
        )
        add(
            f"{folder}/{entity}-course-{analytics}.xml.tar.gz.gpg",
            _once(_course_export(course, day)),
            _Intent("course-export", COURSE_EXPORT_TABLE, site, entity),
        )
    if spec.email_opt_in_in_weekly_zip and "edx" in org.sites():
        report = _email_opt_in_name(org)
        add(
            f"{folder}/{report}.gpg",
            _once(_email_opt_in(spec, org, day)),
            _Intent("email-opt-in", EMAIL_OPT_IN_TABLE, "edx", _email_entity(org)),
        )
    builder.zip_object(weekly_zip_key(org.org_id, day), day, folder, members)


def _email_entity(org: SyntheticOrg) -> str:
    return org.folder_spelling or org.org_id


def _email_opt_in_name(org: SyntheticOrg) -> str:
    return f"{_email_entity(org)}-{EMAIL_OPT_IN_TABLE}-{ANALYTICS_NAME_BY_SITE['edx']}.csv"


def _add_email_opt_in_zip(builder: _Builder, org: SyntheticOrg, day: dt.date) -> None:
    folder = f"{org.folder_spelling or org.org_id}-{day.isoformat()}"
    builder.zip_object(
        email_opt_in_zip_key(org.org_id, day),
        day,
        folder,
        [
            (
                f"{folder}/{_email_opt_in_name(org)}.gpg",
                _once(_email_opt_in(builder.spec, org, day)),
                _Intent("email-opt-in", EMAIL_OPT_IN_TABLE, "edx", _email_entity(org)),
            )
        ],
    )


def _add_rdx_archive(builder: _Builder, org: SyntheticOrg) -> None:
    course = org.courses[0]
    rng = _rng(builder.spec, "rdx", org.org_id)
    request_id = f"rdx-{rng.randrange(10**4):04d}"
    file_name = f"{org.org_id}_{course.course}_{course.run}.tar.gz"
    rows = "".join(
        f"{learner.user_id},{rng.random():.3f}\n" for learner in _learners(builder.spec, org)
    )
    archive = _deterministic_tar_gz(
        [
            ("README.txt", f"Research data exchange request {request_id}\n".encode()),
            ("grades.csv", ("user_id,grade\n" + rows).encode()),
        ],
        mtime=0,
    )
    builder.encrypted_object(
        builder.spec.event_bucket,
        f"{org.org_id}/rdx/{request_id}/{file_name}.gpg",
        [archive],
        category=None,
        site=None,
    )


def _once(content: bytes) -> Callable[[], Iterable[bytes]]:
    return lambda: [content]


def _lazy(produce: Callable[..., Iterator[bytes]], *args: object) -> Callable[[], Iterable[bytes]]:
    return lambda: produce(*args)


def upload_package(
    package: GeneratedPackage, s3_client: S3Client, *, create_buckets: bool = False
) -> None:
    """Put a generated package into (fake or test) edX buckets.

    The bucket names are the spec's ``event_bucket`` and ``database_bucket`` (edX's
    ``edx-course-data`` and ``course-data`` by default). Files are streamed from disk, in
    multipart uploads when large.

    Parameters
    ----------
    package
        What :func:`generate_package` returned.
    s3_client
        A boto3 S3 client (moto's in tests).
    create_buckets
        Create the buckets first (for an empty moto server).
    """
    if create_buckets:
        existing = {bucket["Name"] for bucket in s3_client.list_buckets().get("Buckets", [])}
        region = s3_client.meta.region_name
        for bucket in sorted({obj.bucket for obj in package.objects} - existing):
            if region in (None, "us-east-1"):
                s3_client.create_bucket(Bucket=bucket)
            else:
                s3_client.create_bucket(
                    Bucket=bucket,
                    CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
                )
    for obj in package.objects:
        s3_client.upload_file(str(obj.path), obj.bucket, obj.key)
