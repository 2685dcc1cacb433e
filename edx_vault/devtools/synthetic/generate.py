"""Generate a synthetic package on disk: encrypt every planned file and lay out the objects.

Each file's plaintext is generated lazily and streamed through ``gpg``
(:mod:`.encryption`) into ``{output_dir}/{bucket}/{key}``; a zip's members are encrypted to a
scratch directory first, then stored in the zip member by member (:mod:`.zip_records`).
Nothing plaintext is written to disk and a gigabyte event log never lives in memory. For every
unit the generated record (:mod:`.generated`) holds the plaintext digest and the output key the
package model gives its name.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from edx_vault.devtools.synthetic.encryption import PlaintextDigest, RecipientEncryptor
from edx_vault.devtools.synthetic.generated import GeneratedObject, GeneratedPackage, GeneratedUnit
from edx_vault.devtools.synthetic.layout import PlannedFile, PlannedZip, UnitIntent, package_layout
from edx_vault.devtools.synthetic.spec import PackageSpec
from edx_vault.devtools.synthetic.zip_records import with_zip64_end_records, write_zip
from edx_vault.package.member_names import PackageMember, parse_member_name
from edx_vault.package.output_keys import output_key
from edx_vault.package.source_keys import SourceObject, parse_source_key


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
        Where to write it: ``{output_dir}/{bucket}/{key}``, ready for
        :func:`~edx_vault.devtools.synthetic.upload.upload_package`.

    Returns
    -------
    GeneratedPackage
        The objects, and for every decryptable unit the plaintext digest and the output key
        the package model expects for it.
    """
    with RecipientEncryptor(recipient_public_keys, compress=spec.openpgp_compression) as encryptor:
        writer = _PackageWriter(spec=spec, encryptor=encryptor, root=output_dir)
        for bucket, planned in package_layout(spec):
            if isinstance(planned, PlannedZip):
                writer.zip_object(bucket, planned)
            else:
                writer.encrypted_object(bucket, planned)
    return GeneratedPackage(spec=spec, objects=tuple(writer.objects), units=tuple(writer.units))


@dataclass
class _PackageWriter:
    spec: PackageSpec
    encryptor: RecipientEncryptor
    root: Path
    objects: list[GeneratedObject] = field(default_factory=list)
    units: list[GeneratedUnit] = field(default_factory=list)

    def encrypted_object(self, bucket: str, planned: PlannedFile) -> None:
        """An object that is one encrypted file (event log, RDX archive)."""
        source = parse_source_key(bucket, planned.name)
        path = self._object_path(source)
        digest = self.encryptor.encrypt_chunks(planned.content(), path)
        self._add_object(source, path)
        self._add_unit(source, None, source, digest, planned.intent)

    def zip_object(self, bucket: str, planned: PlannedZip) -> None:
        """An unencrypted zip whose members are each encrypted on their own."""
        source = parse_source_key(bucket, planned.key)
        path = self._object_path(source)
        with tempfile.TemporaryDirectory(prefix="edxv-members-") as scratch:
            ciphertexts: list[tuple[str, Path]] = []
            for index, member in enumerate(planned.members):
                ciphertext = Path(scratch) / f"{index}.gpg"
                digest = self.encryptor.encrypt_chunks(member.content(), ciphertext)
                ciphertexts.append((member.name, ciphertext))
                reading = parse_member_name(source, member.name)
                self._add_unit(source, member.name, reading, digest, member.intent)
            write_zip(
                path,
                sorted(ciphertexts, key=lambda pair: pair[0]),
                folders=planned.folders,
                date=planned.date,
                force_zip64=self.spec.force_zip64,
            )
        if self.spec.force_zip64:
            path.write_bytes(with_zip64_end_records(path.read_bytes()))
        self._add_object(source, path)

    def _object_path(self, source: SourceObject) -> Path:
        path = self.root / source.bucket / source.key
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _add_object(self, source: SourceObject, path: Path) -> None:
        size = path.stat().st_size
        self.objects.append(GeneratedObject(source.bucket, source.key, path, size, source.kind))

    def _add_unit(
        self,
        source: SourceObject,
        member_name: str | None,
        reading: SourceObject | PackageMember,
        digest: PlaintextDigest,
        intent: UnitIntent,
    ) -> None:
        self.units.append(
            GeneratedUnit(
                source_bucket=source.bucket,
                source_key=source.key,
                member_name=member_name,
                plaintext_sha256=digest.sha256,
                plaintext_size=digest.size,
                output_key=output_key(reading),
                failed=isinstance(reading, PackageMember) and reading.failed,
                category=intent.category,
                table=intent.table,
                site=intent.site,
                entity=intent.entity,
            )
        )
