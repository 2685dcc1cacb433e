"""The de-identified tier after the shared vault's first sync, on the strict embedded AWS.

The Deidentify function ran as its own role (IAM enforced: it reads only what it copies and
writes only deidentified/), so this checks the wiring end to end: every published course file of
a copied kind has its copy, nothing that identifies as a whole has one, the run report counts
the copies with no failure, and no synthetic learner's username, email or IP address is in any
byte of the tier (event copies decompressed).
"""

from __future__ import annotations

import gzip
import re
from typing import Final

import pytest

from edx_vault.devtools.synthetic.people import learners
from edx_vault.engine.parallel import ordered_map
from edx_vault.package.bucket_layout import DEIDENTIFIED_PREFIX, PUBLISHED_PREFIXES
from edx_vault.pipeline.deidentify_plan import has_copy
from tests.local.synced_vault import Synced

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The synthetic events' IP addresses: documentation ranges (RFC 5737), one random host each.
SYNTHETIC_IPS: Final = re.compile(rb"(?:203\.0\.113|198\.51\.100|192\.0\.2)\.\d{1,3}")


def _keys(synced: Synced, prefix: str) -> list[str]:
    s3 = synced.aws.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=synced.bucket, Prefix=prefix)
    return [entry["Key"] for page in pages for entry in page.get("Contents", [])]


def test_every_copied_file_has_its_copy_and_the_tier_names_no_learner(synced: Synced) -> None:
    # Given the first sync, which succeeded
    assert synced.first_sync_status == 0
    published = [key for prefix in PUBLISHED_PREFIXES for key in _keys(synced, prefix)]
    copies = set(_keys(synced, DEIDENTIFIED_PREFIX))
    # Then every published file of a copied kind has its copy, and nothing else has one
    wanted = {DEIDENTIFIED_PREFIX + key for key in published if has_copy(key)}
    assert wanted
    assert copies == wanted
    assert any("/course=_none/" in key for key in copies)  # a whole-org grant's events
    assert not any(key.startswith(f"{DEIDENTIFIED_PREFIX}forums/") for key in copies)
    # And the run report counts them, with no failure
    section = synced.report(synced.latest_run_id())["deidentified"]
    assert (section["written"] + section["up_to_date"], section["failed"]) == (len(wanted), 0)
    # And no learner's username, email or IP address is in any byte of the tier
    s3 = synced.aws.client("s3")

    def read(key: str) -> bytes:
        body: bytes = s3.get_object(Bucket=synced.bucket, Key=key)["Body"].read()
        return gzip.decompress(body) if key.endswith(".gz") else body

    tier = b"".join(ordered_map(read, sorted(copies)))
    people = [
        learner
        for org in synced.seeded.package.spec.orgs
        for learner in learners(synced.seeded.package.spec, org)
    ]
    assert people
    found = [
        value
        for learner in people
        for value in (learner.username, learner.email)
        if value.encode() in tier
    ]
    assert found == []
    assert SYNTHETIC_IPS.findall(tier) == []
    # And the originals do hold them (the check would see them)
    originals = b"".join(read(key) for key in published if key.startswith("events-by-course/"))
    assert SYNTHETIC_IPS.search(originals)
