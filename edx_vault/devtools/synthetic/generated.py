"""What a generated package is: its objects on disk, and what decrypting each unit must give.

Tests compare the pipeline's output with these records: plaintext digests (ciphertexts differ
on every run), the output key the package model expects, and what each unit was generated as,
so that the model's reading of every name can be checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edx_vault.devtools.synthetic.spec import PackageSpec
from edx_vault.package.source_keys import SourceKind
from edx_vault.settings.types import GrantCategory, Site


@dataclass(frozen=True)
class GeneratedObject:
    """One object for edX's buckets, on disk.

    ``bucket`` and ``key`` say where it goes; ``path`` is the file holding its bytes
    (ciphertext, or an unencrypted zip of ciphertexts), ``size`` their count, and ``kind`` what
    the package model reads its key as.
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
