"""The run report: what a sync did, checked item by item, written to ``reports/{run_id}.json``.

The Report step does not trust the Distributed Maps (a Map succeeds even when its items fail):
it takes the planned work lists and looks for each item's own result file. An item without one
(its Lambda failed after every retry) is a failure with code ``no-result``, and its manifest
row, if this run still holds it, is released so the next run takes it up. A planned item that
this run did not publish is never counted as a success: it is a failure (with its code, e.g.
``held-by-another-run``), or, when it failed for the same version in an earlier run and no retry
was asked for, listed under ``previously_failed``. Only a unit already published for this
version (``skipped``) counts as done without being published by this run.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final

from edx_vault.bucket_layout import REPORTS_PREFIX, WORK_PREFIX
from edx_vault.cost_model import RunVolume, estimate_run_cost_usd
from edx_vault.manifest import NO_RESULT, ClaimOutcome, Manifest, object_row, unit_row
from edx_vault.parallel import ordered_map
from edx_vault.run_files import DECRYPT_ITEMS, MIRROR_ITEMS, PLAN_SUMMARY, RunFiles
from edx_vault.sync_steps import HELD_BY_ANOTHER_RUN, settle_source

NO_RESULT_REASON: Final = (
    "the task failed after its retries and left no result; see the execution's history"
)
NOT_PROCESSED_REASON: Final = "this run did not process the file and did not say why"
KEY_EXPIRY_WARNING_DAYS: Final = 30
# When a run last published something, kept across runs for the NoNewData alarm. In the
# pipeline's scratch space, which only the pipeline's roles may read or write.
NEW_DATA_STATE_KEY: Final = f"{WORK_PREFIX}new-data.json"
SECONDS_PER_DAY: Final = 86_400
# The metric the Report step emits with the days since new data; the NoNewData alarm reads it.
DAYS_SINCE_NEW_DATA_METRIC: Final = "DaysSinceNewData"


@dataclass(frozen=True)
class KeyExpiry:
    """The pipeline key's expiry as its secret's tags record it.

    Attributes
    ----------
    fingerprint
        The primary key's fingerprint.
    expires
        Its expiry date; ``None`` when it never expires or when the expiry is unknown.
    problem
        Why the expiry is unknown (a malformed tag), or ``None`` when it is known.
    """

    fingerprint: str
    expires: dt.date | None
    problem: str | None = None

    def days_left(self, today: dt.date) -> int | None:
        return None if self.expires is None else (self.expires - today).days


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


def build_report(
    files: RunFiles,
    manifest: Manifest,
    *,
    finished: dt.datetime,
    key_expiry: KeyExpiry | None,
) -> dict[str, Any]:
    """Check every planned item's result, settle the sources, and summarise the run.

    A backfill has tens of thousands of items, each with a result file to read and (a
    mirror item) a source to settle, a manifest Query and an UpdateItem: those requests run a
    few at a time (:func:`~edx_vault.parallel.ordered_map`), and the results are taken in the
    work lists' order, so the report is the same as if they ran one after another. A request
    that fails fails the report (the handler classifies it, the state machine retries it).
    """
    summary = files.get_json(files.key(PLAN_SUMMARY))
    # The run's own files and its results; not its units/ (Collect's input), a folder as
    # large as the results that nothing here reads.
    present = files.existing_keys_in(("results", "mirror"), ("results", "decrypt"))
    mirror_items = files.get_json_or(files.key(MIRROR_ITEMS), [], present=present)
    decrypt_items = files.get_json_or(files.key(DECRYPT_ITEMS), [], present=present)
    failures: list[dict[str, Any]] = []
    categories: dict[str, dict[str, int]] = defaultdict(lambda: {"count": 0, "bytes": 0})
    previously_failed: list[dict[str, Any]] = list(summary.get("previously_failed") or [])
    mirrored_bytes = 0
    skipped = 0

    run_id = summary["run_id"]

    def mirror_result(item: dict[str, Any]) -> dict[str, Any] | None:
        """The item's result, after settling its source (on this thread's own manifest)."""
        key = files.result_key("mirror", item["source_key"])
        result: dict[str, Any] | None = files.get_json_or(key, None, present=present)
        own = manifest.for_this_thread()
        if result is None:
            row = object_row(item["source_bucket"], item["source_key"])
            own.release(row, run_id=run_id, reason=NO_RESULT_REASON)
        settle_source(own, item["source_bucket"], item["source_key"])
        return result

    def decrypt_result(item: dict[str, Any]) -> dict[str, Any] | None:
        key = files.result_key("decrypt", item["source_key"], item.get("member"))
        result: dict[str, Any] | None = files.get_json_or(key, None, present=present)
        if result is None:
            row = unit_row(item["source_bucket"], item["source_key"], item.get("member"))
            manifest.for_this_thread().release(row, run_id=run_id, reason=NO_RESULT_REASON)
        return result

    mirror_results = ordered_map(mirror_result, mirror_items)
    for item, result in zip(mirror_items, mirror_results, strict=True):
        if result is None:
            failures.append(_failure(item, "mirror", NO_RESULT, NO_RESULT_REASON))
        elif result["status"] == "failed":
            failures.append(_failure(item, result["stage"], result["code"], result["reason"]))
        elif result["status"] == "done":
            mirrored_bytes += int(result.get("bytes", 0))
        elif result.get("why") == ClaimOutcome.ALREADY_FAILED:
            previously_failed.append(_previously_failed(item, result))
        else:
            failures.append(_not_processed(item, "mirror", result))

    for item, result in zip(decrypt_items, ordered_map(decrypt_result, decrypt_items), strict=True):
        if result is None:
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
    return {
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


def published_count(report: dict[str, Any]) -> int:
    """How many files the run published."""
    return sum(int(totals["count"]) for totals in report["files"].values())


def new_data_since(
    last_new_data: dt.datetime | None, *, published: int, finished: dt.datetime
) -> tuple[dt.datetime, float]:
    """When new data last arrived, and how many days ago, as of a run that finished now.

    This is the NoNewData alarm's gauge (``DaysSinceNewData``). CloudWatch alarms look back at
    most seven days (PutMetricAlarm: Period x EvaluationPeriods <= 604,800 s), so "nothing
    published for N days" (N up to 90) cannot be a sum of ``PublishedFiles`` over N days: the
    days are counted here, and the alarm only compares the latest run's count with N.

    Parameters
    ----------
    last_new_data
        When a run last published something, from the previous runs; ``None`` before the first
        run (counting then starts now).
    published
        How many files this run published.
    finished
        When this run finished.

    Returns
    -------
    tuple[datetime, float]
        The new "last new data" moment, and the days since it (two decimals).
    """
    since = finished if published > 0 or last_new_data is None else last_new_data
    days = max(0.0, (finished - since).total_seconds() / SECONDS_PER_DAY)
    return since, round(days, 2)


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
