"""``edx-vault grants``: who can read what, and would this researcher be allowed this key?

``edx-vault grants`` lists every researcher grant of the configuration: what it covers
(category, the folders it is read from, orgs, courses, tables, sites, dates), which tier it
reads, its expiry and the days left, and the role to assume. A grant with ``identifiable =
true`` reads the original tier; one without it the de-identified tier only (its folders start
``deidentified/``). Course-limited events are read from ``events-by-course/`` only; events of
whole orgs also from ``events/`` (the de-identified tier has per-course files only).
``--patterns`` adds the key patterns it reads and the ``s3:prefix`` patterns it lists (a dated
grant's are its date prefixes: the prefixes a researcher's listing must lie within).
It reads the configuration only, through the same code (``edx_vault/access/grants.py``) the
access stack builds its policies from.

``edx-vault grants check RESEARCHER KEY`` synthesizes the app (as ``cdk synth`` would, without
cdk-nag and without building the Lambda layers) and evaluates the synthesized identity, bucket
and key policies with :mod:`edx_vault.access.policy_evaluator`: ``ALLOW`` or ``DENY``, and the
statements that decided. ``--list`` asks about a listing with ``KEY`` as the prefix instead;
``--at`` evaluates at another moment (the policies are still today's). A refusal shows the first
patterns the grant reads (or lists, with ``--list``), and the other tier's spelling of the key
when the grant reads that tier. Exit status: 0 for ALLOW, 1 for DENY (and for errors).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Final

from edx_vault.access.access_check import check_list, check_read
from edx_vault.access.grants import ResearcherGrant, compile_grants
from edx_vault.access.policy_evaluator import Decision
from edx_vault.access.readable_slices import ORG_WIDE_CATEGORIES, scope_prefixes
from edx_vault.access.researcher_roles import ACCESS_STACK_SUFFIX, GRANT_TAG
from edx_vault.access.template_policies import (
    VaultPolicies,
    load_vault_policies,
    read_assembly_templates,
)
from edx_vault.cli.context import CliContext
from edx_vault.cli.errors import EXIT_FAILURE, EXIT_OK, CliError, UsageError
from edx_vault.cli.tables import render_table
from edx_vault.package.bucket_layout import DEIDENTIFIED_PREFIX
from edx_vault.package.grant_patterns import RESEARCHER_PREFIXES
from edx_vault.settings.config import VaultConfig
from edx_vault.settings.stack_outputs import STORAGE_STACK_SUFFIX, stack_name
from edx_vault.settings.types import GrantCategory

# How many of a grant's key patterns a refusal shows, to hint at what is granted.
SHOWN_PATTERNS: Final = 8


# --------------------------------------------------------------------------------------------
# edx-vault grants
# --------------------------------------------------------------------------------------------


def _grants(context: CliContext) -> tuple[VaultConfig, tuple[ResearcherGrant, ...]]:
    config = context.config()
    today = context.now().date()
    return config, compile_grants(config, today=today, source=context.config_path)


def run_list(args: argparse.Namespace, context: CliContext) -> int:
    """``grants``: every researcher grant of the configuration, as a table or JSON."""
    config, grants = _grants(context)
    today = context.now().date()
    account = config.deployment.account
    if args.json:
        listing = [_grant_json(grant, account=account, today=today) for grant in grants]
        context.out(json.dumps({"today": today.isoformat(), "grants": listing}, indent=2))
        return 0
    if not grants:
        context.out("No researcher grants in the configuration.")
        return 0
    rows: list[tuple[object, ...]] = []
    for grant in grants:
        status = "EXPIRED" if grant.expired else f"{grant.days_left(today)}"
        identifiable = grant.config.identifiable
        for scope in grant.config.scopes:
            for category in scope.categories:
                rows.append(
                    (
                        grant.name,
                        category,
                        ",".join(scope_prefixes(scope, category, identifiable=identifiable)),
                        ",".join(scope.orgs),
                        _courses(scope.courses, category),
                        ",".join(scope.tables) if scope.tables and category in _TABLED else "*",
                        ",".join(scope.sites),
                        _dates(scope.date_from, scope.date_to),
                        grant.expires.isoformat(),
                        status,
                    )
                )
    headers = (
        "RESEARCHER",
        "CATEGORY",
        "FOLDERS",
        "ORGS",
        "COURSES",
        "TABLES",
        "SITES",
        "DATES",
        "EXPIRES",
        "DAYS LEFT",
    )
    for line in render_table(headers, rows):
        context.out(line)
    context.out("")
    for grant in grants:
        tier = (
            "identifiable data allowed: the original tier"
            if grant.config.identifiable
            else f"de-identified: the {DEIDENTIFIED_PREFIX} tier only"
        )
        context.out(f"{grant.name}: {grant.role_arn(account)} ({tier})")
        if args.patterns:
            for pattern in grant.key_patterns:
                context.out(f"    read  {pattern}")
            for pattern in grant.prefix_patterns:
                context.out(f"    list  {pattern}")
    expired = [grant.name for grant in grants if grant.expired]
    if expired:
        context.note(
            f"warning: expired grants read nothing; remove them from the configuration: "
            f"{', '.join(expired)}"
        )
    return 0


_TABLED: Final = ("database", "ora")


def _courses(courses: tuple[str, ...], category: GrantCategory) -> str:
    return "*" if category in ORG_WIDE_CATEGORIES else ",".join(courses)


def _dates(first: dt.date | None, last: dt.date | None) -> str:
    if first is None and last is None:
        return "all"
    return f"{first or '...'} to {last or '...'}"


def _grant_json(grant: ResearcherGrant, *, account: str, today: dt.date) -> dict[str, Any]:
    researcher = grant.config
    return {
        "name": grant.name,
        "role_arn": grant.role_arn(account),
        "principal": researcher.principal,
        "identifiable": researcher.identifiable,
        "mfa": researcher.mfa,
        "expires": grant.expires.isoformat(),
        "expired": grant.expired,
        "days_left": grant.days_left(today),
        "scopes": [
            {
                **scope.model_dump(mode="json"),
                "folders": {
                    c: list(scope_prefixes(scope, c, identifiable=researcher.identifiable))
                    for c in scope.categories
                },
            }
            for scope in researcher.scopes
        ],
        "key_patterns": list(grant.key_patterns),
        "list_prefix_patterns": list(grant.prefix_patterns),
    }


# --------------------------------------------------------------------------------------------
# edx-vault grants check
# --------------------------------------------------------------------------------------------


def parse_moment(text: str) -> dt.datetime:
    """``--at``: a date or time, UTC unless it names its zone."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date or time; write YYYY-MM-DD or 2027-06-29T23:59:59Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def synthesized_policies(
    config_path: Path, config: VaultConfig, *, today: dt.date
) -> VaultPolicies:
    """Synthesize the app for ``config_path`` and collect the policies that decide access.

    ``today`` is the synth's day: grants expired by then are roles that read nothing.

    The CDK is imported here, not at the top, so that the CLI's other commands never start it.

    Raises
    ------
    CliError
        When the CDK app cannot be imported (the CLI is not run from an edx-vault checkout).
    """
    # Before the CDK starts: its template validation costs seconds and judges nothing here.
    os.environ.setdefault("CDK_VALIDATION", "false")
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        from stacks.vault_app import build_vault_app
    except ImportError as error:
        raise CliError(
            f"cannot import the CDK app from {root} ({error}); `grants check` needs a checkout "
            "of edx-vault with `make setup` done"
        ) from None
    deployment = config.deployment
    with tempfile.TemporaryDirectory(prefix="edx-vault-grants-") as outdir:
        vault = build_vault_app(
            context={"config": str(config_path.resolve())},
            outdir=outdir,
            nag=False,
            bundle_assets=False,
            today=today,
        )
        vault.app.synth()
        templates = read_assembly_templates(outdir)
    return load_vault_policies(
        templates,
        storage_stack=stack_name(deployment.stack_prefix, STORAGE_STACK_SUFFIX),
        account=deployment.account,
        region=deployment.region,
    )


def run_check(args: argparse.Namespace, context: CliContext) -> int:
    """``grants check``: ALLOW or DENY for one researcher and key, and the deciding statements."""
    config, grants = _grants(context)
    by_name = {grant.name: grant for grant in grants}
    if args.researcher not in by_name:
        known = ", ".join(sorted(by_name)) or "none"
        raise UsageError(f"no researcher {args.researcher!r} in the configuration (known: {known})")
    grant = by_name[args.researcher]
    key = args.key.removeprefix("/")
    at = args.at or context.now()
    policies = synthesized_policies(context.config_path, config, today=context.now().date())
    role = policies.role_tagged(GRANT_TAG, grant.name)
    region = config.deployment.region
    if args.list:
        decision = check_list(policies, role, key or None, at=at)
        verdict = decision.allowed
        parts = {"s3:ListBucket": decision}
    else:
        read = check_read(policies, role, key, at=at, region=region)
        verdict = read.allowed
        parts = {"s3:GetObject": read.s3, "kms:Decrypt": read.kms}
    if args.json:
        context.out(
            json.dumps(
                {
                    "researcher": grant.name,
                    "role_arn": role.arn,
                    "stack": stack_name(config.deployment.stack_prefix, ACCESS_STACK_SUFFIX),
                    "key": key,
                    "list": bool(args.list),
                    "at": at.isoformat(),
                    "decision": "ALLOW" if verdict else "DENY",
                    "requests": {name: _decision_json(d) for name, d in parts.items()},
                },
                indent=2,
            )
        )
        return EXIT_OK if verdict else EXIT_FAILURE
    target = (
        f"list s3://{_bucket(policies)}/{key}" if args.list else f"s3://{_bucket(policies)}/{key}"
    )
    context.out(f"{'ALLOW' if verdict else 'DENY'}  {grant.name}  {target}  at {at.isoformat()}")
    for name, decision in parts.items():
        context.out(f"  {name}: {decision.outcome} ({decision.note})")
        for statement in decision.deciding:
            context.out(f"    {statement.effect} {statement.label}")
    if not verdict and not any(d.outcome == "explicit-deny" for d in parts.values()):
        if grant.expired:
            context.out(f"  the grant expired on {grant.expires}: its role reads nothing")
        elif at >= dt.datetime.combine(grant.expires, dt.time(), dt.UTC):
            context.out(f"  the grant ends at {grant.expiry_timestamp}: access stops then")
        elif args.list:
            # A dated grant lists its date prefixes only, never the folder above them.
            context.out("  the grant lists (first s3:prefix patterns):")
            for pattern in _nearest(grant.prefix_patterns, key):
                context.out(f"    {pattern}")
        else:
            context.out("  the grant covers (first patterns):")
            for pattern in _nearest(grant.key_patterns, key):
                context.out(f"    {pattern}")
        other_tier = None if grant.expired else _other_tier_hint(grant, key)
        if other_tier:
            context.out(f"  {other_tier}")
    return EXIT_OK if verdict else EXIT_FAILURE


def _other_tier_hint(grant: ResearcherGrant, key: str) -> str | None:
    """For a refused key of the tier the grant does not read, the same file in the tier it does."""
    if grant.config.identifiable and key.startswith(DEIDENTIFIED_PREFIX):
        return (
            "the grant has identifiable = true and reads the original tier, not its "
            f"de-identified copies: the original is {key.removeprefix(DEIDENTIFIED_PREFIX)}"
        )
    published = key.startswith(RESEARCHER_PREFIXES) and not key.startswith(DEIDENTIFIED_PREFIX)
    if not grant.config.identifiable and published:
        return (
            "the grant is not identifiable and reads the de-identified tier only: its copy "
            f"of this file, if it has one, is {DEIDENTIFIED_PREFIX}{key}"
        )
    return None


def _nearest(patterns: tuple[str, ...], key: str) -> list[str]:
    """The first :data:`SHOWN_PATTERNS` patterns, those sharing the longest start with ``key``
    first (the same category, table, org and course), so a refusal shows what was meant."""

    def shared(pattern: str) -> int:
        # Characters, not path levels: "course=ExampleX-CS101-*" shares "course=ExampleX-CS1".
        return next(
            (i for i, (a, b) in enumerate(zip(pattern, key, strict=False)) if a != b),
            min(len(pattern), len(key)),
        )

    return sorted(patterns, key=shared, reverse=True)[:SHOWN_PATTERNS]


def _bucket(policies: VaultPolicies) -> str:
    return policies.bucket_arn.rsplit(":", 1)[1]


def _decision_json(decision: Decision) -> dict[str, Any]:
    return {
        "outcome": decision.outcome,
        "note": decision.note,
        "statements": [
            {"effect": s.effect, "source": s.source, "sid": s.sid} for s in decision.deciding
        ],
    }
