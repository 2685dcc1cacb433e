"""The members of edX's weekly and email opt-in zips: which names are safe, which folder each
lies in, and what each member is (:class:`PackageMember`).

The decrypt step parses each member name of a zip with :func:`parse_member_name`; what the
decrypted file's own name says is read by :mod:`edx_vault.package.data_file_names`.

Decisions (see ``../shared/edx-data-package.md`` for the facts they rest on):

* **Unsafe names** (absolute, ``..``, a backslash, a control character...) and names outside
  the zip's ``{org}-{date}/`` folder raise :class:`UnsafeMemberNameError` before anything else
  is read from them.
* **Org in paths.** ``org=`` is the org of the package (the zip's org, lower-cased), because that
  is what a data-sharing agreement and the planner's configuration name. The course's own org,
  which may be an alias of it, is in :attr:`~edx_vault.package.data_file_names.CourseParts.org`.
* **Failed exports.** ``{file}.failed.gpg`` is parsed like ``{file}.gpg`` and marked ``failed``;
  it has no output key: it is reported, never published as data.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from edx_vault.package.data_file_names import CourseParts, read_data_file_name
from edx_vault.package.edx_spellings import (
    FAILED_SUFFIX,
    GPG_SUFFIX,
    ORA_FOLDER,
    UnknownNameError,
    UnsafeMemberNameError,
)
from edx_vault.package.source_keys import SourceKind, SourceObject
from edx_vault.settings.types import GrantCategory, Site


@dataclass(frozen=True)
class PackageMember:
    """One encrypted member of a weekly or email opt-in zip.

    Attributes
    ----------
    source
        The zip it is in.
    member_name
        The member's full name in the zip, e.g. ``mitx-2024-01-07/ora/...sql.gpg``.
    org
        The package's org id, lower-cased: the ``org=`` partition.
    entity, course, table, category, site, entity_digest
        What the decrypted file's name says, as
        :class:`~edx_vault.package.data_file_names.DataFileName` has them.
    export_date
        The date of the zip.
    failed
        Whether this is a ``.failed.gpg`` marker: a traceback, never data.
    plaintext_name
        The decrypted file's name: the member's base name without ``.gpg``.
    """

    source: SourceObject
    member_name: str
    org: str
    entity: str
    course: CourseParts | None
    table: str
    category: GrantCategory
    site: Site | None
    export_date: dt.date
    failed: bool
    plaintext_name: str
    entity_digest: str | None = None


def is_directory_entry(member_name: str) -> bool:
    """Whether a zip entry is a folder (``zip -r`` writes them); folders are not members."""
    return member_name.endswith("/")


def parse_member_name(source: SourceObject, member_name: str) -> PackageMember:
    """Describe one member of a weekly or email opt-in zip.

    Parameters
    ----------
    source
        The zip, as :func:`~edx_vault.package.source_keys.parse_source_key` described it.
    member_name
        The member's name as the zip's central directory spells it.

    Returns
    -------
    PackageMember

    Raises
    ------
    UnsafeMemberNameError
        If the name is absolute, has ``..`` / ``.`` / empty components, a backslash, NUL or
        another control character, or lies outside the zip's ``{org}-{date}/`` folder.
    UnknownNameError
        If the name is not one of edX's member spellings (this includes directory entries:
        skip those with :func:`is_directory_entry`).
    ValueError
        If ``source`` is not a zip.
    """
    if not source.is_zip or source.date is None:
        raise ValueError(f"{source.key!r} is a {source.kind}, not a zip: it has no members")
    _reject_unsafe(member_name)
    if is_directory_entry(member_name):
        raise UnknownNameError(
            f"{member_name!r} is a directory entry, not a member: skip it (is_directory_entry)"
        )
    base_name, in_ora_folder = _locate(source, member_name)
    if not base_name.endswith(GPG_SUFFIX):
        raise UnknownNameError(
            f"{member_name!r} does not end in .gpg: every member of an edX zip is encrypted"
        )
    plaintext_name = base_name.removesuffix(GPG_SUFFIX)
    failed = plaintext_name.endswith(FAILED_SUFFIX)
    data_name = plaintext_name.removesuffix(FAILED_SUFFIX)
    try:
        name = read_data_file_name(source, data_name, in_ora_folder=in_ora_folder)
    except UnknownNameError as error:
        raise UnknownNameError(f"{member_name!r}: {error}") from None
    return PackageMember(
        source=source,
        member_name=member_name,
        org=source.org,
        entity=name.entity,
        course=name.course,
        table=name.table,
        category=name.category,
        site=name.site,
        export_date=source.date,
        failed=failed,
        plaintext_name=plaintext_name,
        entity_digest=name.entity_digest,
    )


# What makes a member name unsafe, in the order it is checked, and how the error says it.
_UNSAFE: Final[tuple[tuple[Callable[[str], bool], str], ...]] = (
    (lambda name: not name, "it is empty"),
    (lambda name: "\x00" in name, "it holds a NUL character"),
    (lambda name: "\\" in name, "it holds a backslash"),
    (
        lambda name: any(ord(char) < 0x20 or ord(char) == 0x7F for char in name),
        "it holds a control character",
    ),
    (
        lambda name: name.startswith("/") or re.match(r"^[A-Za-z]:", name) is not None,
        "it is an absolute path",
    ),
    (
        lambda name: any(part in ("", ".", "..") for part in name.removesuffix("/").split("/")),
        "it has an empty, '.' or '..' component",
    ),
)


def _reject_unsafe(member_name: str) -> None:
    for unsafe, why in _UNSAFE:
        if unsafe(member_name):
            raise UnsafeMemberNameError(f"{member_name!r} is not a safe member name: {why}")


def _locate(source: SourceObject, member_name: str) -> tuple[str, bool]:
    """Check the member's folder; return its base name and whether it is in ``ora/``."""
    assert source.date is not None
    folder = f"{source.org}-{source.date.isoformat()}"
    parts = member_name.split("/")
    # The folder carries the org as the exporter's configuration spells it: compare without case.
    in_folder = len(parts) >= 2 and parts[0].lower() == folder
    if source.kind is SourceKind.EMAIL_OPT_IN_ZIP and len(parts) == 1:
        return parts[0], False
    if not in_folder:
        raise UnsafeMemberNameError(
            f"{member_name!r} is outside the zip's folder {folder}/: every member of "
            f"{source.key} must be under it"
        )
    if len(parts) == 2:
        return parts[1], False
    if source.kind is SourceKind.WEEKLY_ZIP and len(parts) == 3 and parts[1] == ORA_FOLDER:
        return parts[2], True
    raise UnknownNameError(
        f"{member_name!r} is in an unexpected folder: a {source.kind} holds files in "
        f"{folder}/" + (f" and {folder}/ora/" if source.kind is SourceKind.WEEKLY_ZIP else "")
    )
