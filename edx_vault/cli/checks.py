"""A check's verdict (PASS, WARN, FAIL or SKIP, with evidence and fix) and how a list of them prints.

``edx-vault doctor`` (:mod:`edx_vault.cli.doctor`) and ``edx-vault keygen --retire``
(:mod:`edx_vault.cli.key_retirement`) both answer with checks, printed as one table::

    PASS  Storage stack  vault-Storage CREATE_COMPLETE in 123456789012/us-east-1; ...
    WARN  Schedule       vault-sync ENABLED: cron(0 6 * * ? *) (UTC); the configuration says ...
                         fix: npx cdk deploy -c config=config/example.toml vault-Pipeline

Details (one line per org, per file...) and the fix are indented under the evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal, Protocol

if TYPE_CHECKING:
    from edx_vault.cli.context import CliContext

Status = Literal["PASS", "WARN", "FAIL", "SKIP"]
STATUSES: Final[tuple[Status, ...]] = ("PASS", "WARN", "FAIL", "SKIP")
# The status column: four letters and two spaces.
_STATUS_WIDTH: Final = 6


@dataclass(frozen=True)
class Check:
    """One check's verdict.

    Attributes
    ----------
    name
        A stable identifier for scripts (``storage-stack``, ``edx-credentials``...).
    title
        What was checked, for people.
    status
        ``PASS``, ``WARN``, ``FAIL`` or ``SKIP``.
    evidence
        One line: what was found.
    fix
        What to do (a command or a docs section); ``None`` when it passed.
    details
        Further lines (one per org, per file...), shown indented.
    """

    name: str
    title: str
    status: Status
    evidence: str
    fix: str | None = None
    details: tuple[str, ...] = field(default_factory=tuple)


class Verdict(Protocol):
    """Makes one check's :class:`Check`, its name and title already given."""

    def __call__(
        self,
        status: Status,
        evidence: str,
        *,
        fix: str | None = None,
        details: tuple[str, ...] = (),
    ) -> Check: ...


def verdict_for(name: str, title: str) -> Verdict:
    """The :class:`Verdict` of the check ``name`` (``title`` for people)."""

    def verdict(
        status: Status, evidence: str, *, fix: str | None = None, details: tuple[str, ...] = ()
    ) -> Check:
        return Check(name, title, status, evidence, fix=fix, details=details)

    return verdict


def print_checks(context: CliContext, checks: Sequence[Check]) -> None:
    """One line per check (status, title, evidence), its details and fix indented below."""
    width = max(len(check.title) for check in checks)
    indent = " " * (_STATUS_WIDTH + width + 2)
    for check in checks:
        context.out(f"{check.status:<4}  {check.title:<{width}}  {check.evidence}")
        for line in check.details:
            context.out(f"{indent}{line}")
        if check.fix:
            context.out(f"{indent}fix: {check.fix}")
