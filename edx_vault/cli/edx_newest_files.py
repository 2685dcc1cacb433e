"""Which keys edX encrypts to now: the pieces ``doctor`` and ``keygen --retire`` share.

edX encrypts each file to the data czar keys registered for the org when it exports it, so an
org's newest file says which keys edX encrypts to today (:mod:`edx_vault.engine.edx_recipients` finds
it and reads its session key packets). Both questions asked of it compare those packets' key
ids with the pipeline's stored keys:

- ``doctor``: is the newest file encrypted to the pipeline's primary key?
- ``keygen --retire``: is it still encrypted to the key about to be removed?

Nothing here decrypts or needs the passphrase: a key id is public.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from edx_vault.engine.edx_recipients import (
    EdxFile,
    FileRecipients,
    UnreadableFileError,
    newest_event_log,
    newest_file,
    newest_weekly_zip,
    read_recipients,
)
from edx_vault.engine.errors import TransientError, describe
from edx_vault.engine.openpgp_keys import OpenPgpError, private_home
from edx_vault.package.edx_spellings import EDX_SITE_SPELLINGS
from edx_vault.settings.config import EdxConfig
from edx_vault.settings.secret_formats import PipelineKeyring

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def newest_of(
    edx_s3: S3Client, edx: EdxConfig, org_ids: tuple[str, ...], *, this_year: int
) -> EdxFile | None:
    """An org's most recently written event log or weekly zip, across its ids.

    Parameters
    ----------
    edx_s3
        An S3 client with edX's keys.
    edx
        The configuration's ``[edx]`` table: sites, categories, buckets, first date.
    org_ids
        The org's id and aliases.
    this_year
        The current year: event log folders are listed from the next year back (a log edX
        dated ahead, a new year's first, counts too) to the first date's.

    Returns
    -------
    EdxFile or None
        The newest file, or ``None`` when edX has none for the org yet.
    """
    spellings = [spelling for site in edx.sites for spelling in EDX_SITE_SPELLINGS[site]]
    candidates: list[EdxFile | None] = []
    for org_id in org_ids:
        if "events" in edx.categories:
            candidates.append(
                newest_event_log(
                    edx_s3,
                    bucket=edx.source_buckets.events,
                    org=org_id,
                    site_spellings=spellings,
                    first_year=edx.backfill_from.year,
                    last_year=this_year + 1,
                )
            )
        if "database" in edx.categories:
            candidates.append(
                newest_weekly_zip(edx_s3, bucket=edx.source_buckets.database, org=org_id)
            )
    return newest_file(candidates)


@dataclass(frozen=True)
class OrgNewest:
    """Who one org's newest file at edX is encrypted to, as far as could be told.

    Attributes
    ----------
    org
        The configured org (its primary id).
    found
        The newest file and its recipients; ``None`` when there is no file, or it could not
        be read.
    problem
        Why it could not be read (edX refused, the network failed, the bytes are no encrypted
        message); ``None`` otherwise.
    """

    org: str
    found: FileRecipients | None
    problem: str | None = None


def newest_recipients(edx_s3: S3Client, edx: EdxConfig, *, this_year: int) -> Iterator[OrgNewest]:
    """Each configured org's newest file at edX (:func:`newest_of`) and who it is encrypted to.

    A refused or failed listing or read is that org's :attr:`OrgNewest.problem`, never the end:
    the other orgs are still read.
    """
    for org in edx.orgs:
        try:
            newest = newest_of(edx_s3, edx, org.all_ids, this_year=this_year)
            found = None if newest is None else read_recipients(edx_s3, newest)
        except (ClientError, BotoCoreError, UnreadableFileError, TransientError) as error:
            reason = str(error) if isinstance(error, UnreadableFileError) else describe(error)
            yield OrgNewest(org.id, None, reason)
            continue
        yield OrgNewest(org.id, found)


def key_ids_by_key(keyring: PipelineKeyring) -> dict[str, frozenset[str]]:
    """Each stored key's fingerprint, to the ids of its primary key and subkeys.

    The keys are listed by gpg without being imported (``--dry-run --import-options
    import-show``), in a throwaway home, and without the passphrase: a key id is public.

    Raises
    ------
    OpenPgpError
        When gpg is missing or cannot read a stored key.
    """
    ids: dict[str, frozenset[str]] = {}
    with private_home() as home:
        gpg = home.gpg()
        for key in keyring.keys:
            scanned = gpg.scan_keys_mem(key.armored_private_key)
            if not scanned:
                raise OpenPgpError(f"gpg cannot read the stored key {key.fingerprint}")
            found: set[str] = set()
            for listing in scanned:
                found.add(str(listing["keyid"]).upper())
                found.update(str(subkey_id).upper() for subkey_id in listing.get("subkey_info", {}))
            ids[key.fingerprint] = frozenset(found)
    return ids


def pipeline_key_ids(keyring: PipelineKeyring) -> dict[str, str]:
    """Every key id of the stored keys (primary keys and subkeys), to the stored key's fingerprint.

    Raises
    ------
    OpenPgpError
        When gpg is missing or cannot read a stored key.
    """
    return {
        key_id: fingerprint
        for fingerprint, key_ids in key_ids_by_key(keyring).items()
        for key_id in key_ids
    }
