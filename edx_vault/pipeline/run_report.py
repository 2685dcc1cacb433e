"""The run report: what a sync did, checked item by item, written to ``reports/{run_id}.json``.

The Report step does not trust the Distributed Maps (a Map succeeds even when its items fail):
it takes the planned work lists and looks for each item's own result in the results files. An
item without one (its batch's Lambda failed after every retry) is a failure with code
``no-result``, and its manifest row, if this run still holds it, is released so the next run
takes it up. A planned item that this run did not publish is never counted as a success: it is
a failure (with its code, e.g. ``held-by-another-run``), or, when it failed for the same version
in an earlier run and no retry was asked for, listed under ``previously_failed``. Only a unit
already published for this version (``skipped``) counts as done without being published by
this run.

The results come in batches, one file per Map iteration (:mod:`edx_vault.pipeline.run_files`): a
backfill's tens of thousands of items are read in a few hundred requests. Settling the sources
(:meth:`CheckedRun.settle`) is separate from checking the results, so the Report step can write
the report first and settle only once it is written.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Final

from edx_vault.engine.parallel import ordered_map
from edx_vault.package.bucket_layout import REPORTS_PREFIX
from edx_vault.pipeline.claims import HELD_BY_ANOTHER_RUN
from edx_vault.pipeline.cost_model import RunVolume, estimate_run_cost_usd
from edx_vault.pipeline.key_metadata import KEY_EXPIRY_WARNING_DAYS, KeyExpiry
from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.manifest_rows import NO_RESULT, ClaimOutcome, RowKey, object_row, unit_row
from edx_vault.pipeline.run_accounting import UNACCOUNTED, account, unaccounted_reason
from edx_vault.pipeline.run_files import (
    DECRYPT_ITEMS,
    MIRROR_ITEMS,
    PLAN_SUMMARY,
    RunFiles,
    results_of,
    work_items,
)
from edx_vault.pipeline.settle import mark_settled, settle_source

NO_RESULT_REASON: Final = (
    "the task failed after its retries and left no result; see the execution's history"
)
NOT_PROCESSED_REASON: Final = "this run did not process the file and did not say why"


def report_key(run_id: str) -> str:
    return f"{REPORTS_PREFIX}{run_id}.json"


def _failure(item: dict[str, Any], stage: str, code: str, reason: str) -> dict[str, Any]:
    return {
        "source_key": item["source_key"],
        "member": item.get("member"),
        "stage": stage,
        "code": code,
        "reason": reason,
    }


def _previously_failed(item: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """A unit or source that failed for this version in an earlier run, as the plan lists them."""
    return {
        "key": item["source_key"],
        "member": item.get("member"),
        "error_code": result.get("code"),
    }


def _not_processed(item: dict[str, Any], stage: str, result: dict[str, Any]) -> dict[str, Any]:
    """A result that is neither done, failed, nor explained: this run did not publish the file.

    This version's steps never write one (a held item is ``failed``), but a run that straddles
    an upgrade may hold an older step's "skipped because busy" result, and an unpublished file
    must not pass for a success.
    """
    busy = result.get("why") == ClaimOutcome.BUSY
    code = HELD_BY_ANOTHER_RUN if busy else "not-processed"
    return _failure(item, stage, code, result.get("reason") or NOT_PROCESSED_REASON)


@dataclass(frozen=True)
class CheckedRun:
    """A run's report, and how to settle its sources once the report is written.

    Attributes
    ----------
    report
        The report, as :func:`build_report` returns it.
    to_settle
        The sources whose rows must be read to settle them (:func:`settle_source`: a Query and
        maybe an UpdateItem each), in the mirror work list's order.
    settled_from_results
        Sources of one unit whose result is in hand and finished, with how many units failed
        (0 or 1): settling them needs no Query, only the UpdateItem.
    """

    report: dict[str, Any]
    to_settle: list[tuple[str, str]] = field(default_factory=list)
    settled_from_results: list[tuple[str, str, int]] = field(default_factory=list)

    def settle(self, manifest: Manifest) -> None:
        """Settle every source of the run, a few at a time; the first error is raised as is."""

        def settle_one(source: tuple[str, str]) -> bool:
            return settle_source(manifest.for_this_thread(), *source)

        def settle_known(source: tuple[str, str, int]) -> None:
            bucket, key, failed = source
            mark_settled(manifest.for_this_thread(), bucket, key, failed=failed)

        for _ in ordered_map(settle_one, self.to_settle):
            pass
        for _ in ordered_map(settle_known, self.settled_from_results):
            pass


# A single unit's result that leaves its row finished (done or failed) at the source's version,
# with whether it failed: what settle_source would read back from the rows.
def _finished_unit(result: dict[str, Any] | None) -> int | None:
    """1 if the unit's row is failed, 0 if done, ``None`` if unfinished or not known."""
    if result is None:
        return None
    if result["status"] == "done":
        return 0
    if result["status"] == "failed":
        return None if result.get("code") == HELD_BY_ANOTHER_RUN else 1
    if result["status"] == "skipped" and result.get("why") == ClaimOutcome.ALREADY_DONE:
        return 0
    if result["status"] == "skipped" and result.get("why") == ClaimOutcome.ALREADY_FAILED:
        return 1
    return None


def build_report(
    files: RunFiles,
    manifest: Manifest,
    *,
    finished: dt.datetime,
    key_expiry: KeyExpiry | None,
) -> dict[str, Any]:
    """Check every planned item's result, settle the sources, and summarise the run."""
    checked = check_run(files, manifest, finished=finished, key_expiry=key_expiry)
    checked.settle(manifest)
    return checked.report


def _read_results(files: RunFiles, stage: str, present: frozenset[str]) -> list[dict[str, Any]]:
    """Every result of one stage: each file under ``results/{stage}/`` (a batch's), in key order."""
    prefix = files.key("results", stage) + "/"
    keys = sorted(key for key in present if key.startswith(prefix))
    return [result for document in files.get_json_many(keys) for result in results_of(document)]


def check_run(
    files: RunFiles,
    manifest: Manifest,
    *,
    finished: dt.datetime,
    key_expiry: KeyExpiry | None,
) -> CheckedRun:
    """Check every planned item's result and summarise the run; settling is left to the caller.

    The results are read batch file by batch file, a few at a time
    (:func:`~edx_vault.engine.parallel.ordered_map`), and matched to the work lists' items by key: the
    report is the same whatever order the reads finish in. An item with no result is released
    here (its claim, if this run still holds it); a read or release that fails fails the check
    with its own error (the handler classifies it, the state machine retries the step).
    """
    summary = files.get_json(files.key(PLAN_SUMMARY))
    # The run's own files and its results; not its units/ (Collect's input), a folder as
    # large as the results that nothing here reads.
    present = files.existing_keys_in(("results", "mirror"), ("results", "decrypt"))
    mirror_items = work_items(files.get_json_or(files.key(MIRROR_ITEMS), [], present=present))
    decrypt_items = work_items(files.get_json_or(files.key(DECRYPT_ITEMS), [], present=present))
    mirror_results = {r["source_key"]: r for r in _read_results(files, "mirror", present)}
    decrypt_results = {
        (r["source_key"], r.get("member")): r for r in _read_results(files, "decrypt", present)
    }
    failures: list[dict[str, Any]] = []
    categories: dict[str, dict[str, int]] = defaultdict(lambda: {"count": 0, "bytes": 0})
    previously_failed: list[dict[str, Any]] = list(summary.get("previously_failed") or [])
    mirrored_bytes = 0
    skipped = 0

    run_id = summary["run_id"]
    lost: list[RowKey] = []  # the rows of items that left no result, to release
    units_of: dict[tuple[str, str], list[dict[str, Any] | None]] = defaultdict(list)

    for item in mirror_items:
        result = mirror_results.get(item["source_key"])
        if result is None:
            lost.append(object_row(item["source_bucket"], item["source_key"]))
            failures.append(_failure(item, "mirror", NO_RESULT, NO_RESULT_REASON))
        elif result["status"] == "failed":
            failures.append(_failure(item, result["stage"], result["code"], result["reason"]))
        elif result["status"] == "done":
            mirrored_bytes += int(result.get("bytes", 0))
        elif result.get("why") == ClaimOutcome.ALREADY_FAILED:
            previously_failed.append(_previously_failed(item, result))
        else:
            failures.append(_not_processed(item, "mirror", result))

    for item in decrypt_items:
        result = decrypt_results.get((item["source_key"], item.get("member")))
        units_of[(item["source_bucket"], item["source_key"])].append(result)
        if result is None:
            lost.append(unit_row(item["source_bucket"], item["source_key"], item.get("member")))
            failures.append(_failure(item, "decrypt", NO_RESULT, NO_RESULT_REASON))
        elif result["status"] == "failed":
            failures.append(_failure(item, "decrypt", result["code"], result["reason"]))
        elif result["status"] == "done":
            bucket = categories[result.get("category") or "unknown"]
            bucket["count"] += 1
            bucket["bytes"] += int(result.get("bytes", 0))
        elif result.get("why") == ClaimOutcome.ALREADY_DONE:
            skipped += 1  # published for this version by an earlier run or attempt
        elif result.get("why") == ClaimOutcome.ALREADY_FAILED:
            previously_failed.append(_previously_failed(item, result))
        else:
            failures.append(_not_processed(item, "decrypt", result))

    # Which sources settle from their results alone: one unit, mirrored by this run's result
    # and finished; every other source is settled from its rows, as settle_source reads them.
    to_settle: list[tuple[str, str]] = []
    settled_from_results: list[tuple[str, str, int]] = []
    for item in mirror_items:
        source = (item["source_bucket"], item["source_key"])
        mirror = mirror_results.get(item["source_key"])
        units = units_of.get(source, [])
        failed = _finished_unit(units[0]) if len(units) == 1 else None
        if mirror is not None and mirror["status"] == "done" and failed is not None:
            settled_from_results.append((*source, failed))
        else:
            to_settle.append(source)

    def release(row: RowKey) -> None:
        manifest.for_this_thread().release(row, run_id=run_id, reason=NO_RESULT_REASON)

    for _ in ordered_map(release, lost):
        pass

    accounting = account(
        listed=summary.get("listed"),
        up_to_date=int(summary["up_to_date"]),
        planned_keys=(item["source_key"] for item in mirror_items),
        failures=failures,
        previously_failed=previously_failed,
        unknown=summary.get("unknown") or [],
    )
    if accounting["unaccounted"]:
        # Some file edX listed is neither published nor explained: not a success.
        failures.append(
            {
                "source_key": None,
                "member": None,
                "stage": "report",
                "code": UNACCOUNTED,
                "reason": unaccounted_reason(accounting),
            }
        )

    started = dt.datetime.fromisoformat(summary["started"])
    decrypted = sum(c["count"] for c in categories.values())
    expiry = None
    if key_expiry is not None:
        expiry = {
            "fingerprint": key_expiry.fingerprint,
            "expires": key_expiry.expires.isoformat() if key_expiry.expires else None,
            "days_left": key_expiry.days_left(finished.date()),
            "problem": key_expiry.problem,
        }
    report = {
        "run_id": run_id,
        "started": summary["started"],
        "finished": finished.isoformat(),
        "status": "failed" if failures else "succeeded",
        "window": {"first_date": summary["first_date"], "last_date": summary["last_date"]},
        "planned": summary["planned"],
        "up_to_date": summary["up_to_date"],
        "skipped": skipped,
        "files": dict(sorted(categories.items())),
        "failures": failures,
        "previously_failed": previously_failed,
        "missing": summary["missing"],
        "unknown": summary["unknown"],
        "accounting": accounting,
        "key_expiry": expiry,
        "duration_seconds": round((finished - started).total_seconds(), 1),
        "estimated_cost_usd": estimate_run_cost_usd(
            RunVolume(
                mirrored_objects=len(mirror_items),
                mirrored_bytes=mirrored_bytes,
                decrypted_units=decrypted,
                decrypted_bytes=sum(c["bytes"] for c in categories.values()),
            )
        ),
    }
    return CheckedRun(report, to_settle, settled_from_results)


def published_count(report: dict[str, Any]) -> int:
    """How many files the run published."""
    return sum(int(totals["count"]) for totals in report["files"].values())


def summary_text(report: dict[str, Any]) -> str:
    """A short plain-text summary for email (counts and reasons; no learner data)."""
    lines = [
        f"edx-vault sync {report['run_id']}: {report['status'].upper()}",
        f"window {report['window']['first_date']} .. {report['window']['last_date']}, "
        f"{report['planned']} new or changed files, {report['up_to_date']} already up to date",
    ]
    for category, totals in report["files"].items():
        lines.append(f"  published {category}: {totals['count']} files, {totals['bytes']} bytes")
    if report["failures"]:
        lines.append(f"{len(report['failures'])} failures:")
        lines.extend(
            f"  {f['code']}: {f['source_key']}{' :: ' + f['member'] if f['member'] else ''}"
            f" ({f['reason']})"
            for f in report["failures"][:50]
        )
    if report["missing"]:
        lines.append(f"{len(report['missing'])} expected files missing at edX")
    new_data = report.get("new_data")
    if new_data and not published_count(report):
        lines.append(
            f"nothing new published since {new_data['last']} ({new_data['days_since']} days)"
        )
    expiry = report["key_expiry"]
    if expiry and expiry.get("problem"):
        lines.append(f"WARNING: the pipeline key's expiry is unknown: {expiry['problem']}")
    if expiry and expiry["days_left"] is not None and expiry["days_left"] < KEY_EXPIRY_WARNING_DAYS:
        lines.append(
            f"WARNING: the pipeline key expires in {expiry['days_left']} days ({expiry['expires']}):"
            " edX stops exporting to expired keys; run edx-vault keygen --rotate"
        )
    lines.append(f"estimated cost: ${report['estimated_cost_usd']}")
    return "\n".join(lines)
