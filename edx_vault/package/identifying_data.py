"""Which published data is identifying: names people outright, or holds their own words.

One answer for the grants (only a researcher with ``identifiable = true`` may read it:
:mod:`edx_vault.access.readable_slices`) and for the read audit (which lists reads of it: the
CLI's :mod:`edx_vault.access.audit` and the Report step's weekly summary,
:mod:`edx_vault.pipeline.read_audit`, which runs in Lambda and so cannot import the access
package).

Identifying: the ``email-opt-in`` report (names and emails, kept to contact learners), ``forums``
and ``ora`` (free-text posts, answers and peer feedback), and the ``database`` tables in
:data:`IDENTIFYING_TABLES`. Nothing in the package is anonymous: usernames, user ids and IP
addresses are everywhere (event logs carry every learner's username and IP address, and most
tables a user id), so every grant is for personal data and needs an approval; this marks the
data that names people outright.

This is about the original, published files. The de-identified tier (``deidentified/``,
docs/deidentification.md) builds on the same answer: the identifying categories have no
de-identified copy at all, and what is kept of each table, column by column, is
:mod:`edx_vault.package.identifying_columns` (which imports :data:`IDENTIFYING_CATEGORIES` from
here, and whose tests check that every table in :data:`IDENTIFYING_TABLES` loses its
identifying columns there). A grant without ``identifiable = true`` reads only that tier, so
what it may be granted is what has a copy (``has_deidentified_copy``); a copy is never
identifying data here, whatever its original is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from edx_vault.package.bucket_layout import (
    DEIDENTIFIED_PREFIX,
    GRANT_CATEGORY_PREFIXES,
    TABLE_CATEGORIES,
)

if TYPE_CHECKING:
    from edx_vault.settings.types import GrantCategory

# Categories that name learners or hold their own free text.
IDENTIFYING_CATEGORIES: Final[frozenset[GrantCategory]] = frozenset(
    {"email-opt-in", "forums", "ora"}
)
# database tables with names or emails (auth_user, auth_userprofile, the certificate's name)
# or free text with the author's IP address (wiki revisions).
IDENTIFYING_TABLES: Final = frozenset(
    {
        "auth_user",
        "auth_userprofile",
        "certificates_generatedcertificate",
        "wiki_articlerevision",
    }
)


def is_identifying(category: GrantCategory, table: str = "*") -> bool:
    """Whether a category (or one of its tables; ``"*"`` for all) is identifying data."""
    if category in IDENTIFYING_CATEGORIES:
        return True
    if category == "database":
        return table == "*" or table in IDENTIFYING_TABLES
    return False


def identifying_key(key: str) -> bool:
    """Whether an object of the data bucket holds identifying data, from its key alone.

    A de-identified copy (``deidentified/...``) never does: its identifying columns and fields
    are gone, and the categories identifying as a whole have no copy.
    """
    if key.startswith(DEIDENTIFIED_PREFIX):
        return False
    for category, prefix in GRANT_CATEGORY_PREFIXES.items():
        if key.startswith(prefix):
            # database/{table}/... and ora/{table}/...: the table is the folder below.
            folder = key[len(prefix) :].split("/", 1)[0]
            table = folder if category in TABLE_CATEGORIES and "=" not in folder else "*"
            return is_identifying(category, table)
    return False
