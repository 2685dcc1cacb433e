"""Keys and packages for the synthetic package's tests.

One throwaway ed25519/cv25519 key pair (fast to make) plays the data czar, with its side (a
GNUPGHOME holding the secret key) to decrypt with, and a stranger's pair beside it. The demo
package (every awkward name) is generated once per session, encrypted to the czar's key;
``small_spec`` makes a small one for the tests that generate their own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import gnupg
import pytest

from edx_vault.devtools.synthetic.encryption import forget_gnupg_home
from edx_vault.devtools.synthetic.generate import generate_package
from edx_vault.devtools.synthetic.generated import GeneratedPackage, GeneratedUnit
from edx_vault.devtools.synthetic.keys import ThrowawayKeyPair, generate_throwaway_key_pair
from edx_vault.devtools.synthetic.spec import (
    PackageSpec,
    SyntheticCourse,
    SyntheticOrg,
    demo_package_spec,
)

needs_gpg = pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg is not installed")

DAY = dt.date(2024, 1, 7)


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


@pytest.fixture(scope="session")
def package(
    czar_key: ThrowawayKeyPair, tmp_path_factory: pytest.TempPathFactory
) -> GeneratedPackage:
    spec = demo_package_spec(email_opt_in_in_weekly_zip=True, rdx=True, prod_site_spelling=True)
    return generate_package(spec, [czar_key.public_key], tmp_path_factory.mktemp("package"))


def small_spec(**overrides: object) -> PackageSpec:
    """One org, a course on each site, one day of everything, two tables and one ORA table."""
    spec = PackageSpec(
        orgs=(
            SyntheticOrg(
                "mitx",
                (
                    SyntheticCourse("MITx", "6.002x", "2012_Fall"),
                    SyntheticCourse("MITx", "8.01-x", "1T-2024", site="edge"),
                ),
            ),
        ),
        event_dates=(DAY,),
        export_dates=(DAY,),
        rows_per_table=3,
        tables=("auth_user", "courseware_studentmodule"),
        ora_tables=("submissions_submission",),
    )
    return dataclasses.replace(spec, **overrides)  # type: ignore[arg-type]


def unit_ciphertext(package: GeneratedPackage, unit: GeneratedUnit) -> bytes:
    """The unit's encrypted bytes: its object's file, or its member in the object's zip."""
    obj = next(o for o in package.objects if o.key == unit.source_key)
    if unit.member_name is None:
        return obj.path.read_bytes()
    with zipfile.ZipFile(obj.path) as archive:
        return archive.read(unit.member_name)


def plaintext_of(package: GeneratedPackage, czar: Decryptor, unit: GeneratedUnit) -> bytes:
    return czar.decrypt(unit_ciphertext(package, unit))


def units_where(package: GeneratedPackage, **fields: object) -> list[GeneratedUnit]:
    """The units whose fields have these values."""
    return [
        unit
        for unit in package.units
        if all(getattr(unit, name) == value for name, value in fields.items())
    ]
