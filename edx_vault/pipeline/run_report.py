"""The run report: what a sync did, checked item by item, written to ``reports/{run_id}.json``.

The Report step does not trust the Distributed Maps (a Map succeeds even when its items fail):
it takes the planned work lists and looks for each item's own result in the results files, and
counts it (:class:`~edx_vault.pipeline.run_accounting.ItemTally`: never a success unless this run,
or an earlier one for this version, published it). An item without a result (its batch's
Lambda failed after every retry) is a failure with code ``no-result``, and its manifest row, if
this run still holds it, is released so the next run takes it up.

The work lists and results are read as the typed items and results of
:mod:`edx_vault.pipeline.work_items`, the results leniently (:class:`RecordedResult`: a run that
straddles an upgrade holds another release's). A file that does not validate fails the report
with :class:`~edx_vault.pipeline.run_files.MalformedRunFileError`, which names it: an item is never
dropped because its result could not be read.

The results come in batches, one file per Map iteration (:mod:`edx_vault.pipeline.run_files`): a
backfill's tens of thousands of items are read in a few hundred requests. Settling the sources
(:meth:`CheckedRun.settle`) is separate from checking the results, so the Report step can write
the report first and settle only once it is written.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, TypeVar

from edx_vault.engine.parallel import ordered_map
from edx_vault.package.bucket_layout import REPORTS_PREFIX
from edx_vault.pipeline.claims import HELD_BY_ANOTHER_RUN
from edx_vault.pipeline.cost_model import RunVolume, estimate_run_cost_usd
from edx_vault.pipeline.deidentify_report import summary_line as deidentified_summary
from edx_vault.pipeline.key_metadata import KEY_EXPIRY_WARNING_DAYS, KeyExpiry
from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.manifest_rows import ClaimOutcome, RowKey, object_row, split_row, unit_row
from edx_vault.pipeline.run_accounting import (
    COURSE_EVENTS_CATEGORY,
    NO_RESULT_REASON,
    UNACCOUNTED,
    ItemKey,
    ItemTally,
    account,
    failure,
    unaccounted_reason,
)
from edx_vault.pipeline.run_files import (
    DECRYPT_ITEMS,
    MIRROR_ITEMS,
    PLAN_SUMMARY,
    SPLIT_ITEMS,
    RunFiles,
    parsed_entries,
)
from edx_vault.pipeline.settle import mark_settled, settle_source
from edx_vault.pipeline.work_items import (
    DecryptBatch,
    MirrorBatch,
    MirrorItem,
    RecordedResult,
    SplitBatch,
    Stage,
)

Batch = TypeVar("Batch", MirrorBatch, DecryptBatch, SplitBatch)
SourceRef = tuple[str, str]  # a source object's bucket and key
# A source to settle from its rows: its bucket and key, and whether it is split by course.
SourceToSettle = tuple[str, str, bool]
EVENT_LOG_KIND = "event-log"


def report_key(run_id: str) -> str:
    return f"{REPORTS_PREFIX}{run_id}.json"


@dataclass(frozen=True)
class CheckedRun:
    """A run's report, and how to settle its sources once the report is written.

    Attributes
    ----------
    report
        The report, as :func:`build_report` returns it.
    to_settle
        The sources whose rows must be read to settle them (:func:`settle_source`: a Query and
        maybe an UpdateItem each), in the mirror work list's order, each with whether it is an
        event log (settled only once its split by course is).
    settled_from_results
        Sources of one unit whose result (and for an event log, its split's) is in hand and
        finished, with how many failed and whether it is an event log: settling them needs no
        Query, only the UpdateItem.
    """

    report: dict[str, Any]
    to_settle: list[SourceToSettle] = field(default_factory=list)
    settled_from_results: list[tuple[str, str, int, bool]] = field(default_factory=list)

    def settle(self, manifest: Manifest) -> None:
        """Settle every source of the run, a few at a time; the first error is raised as is."""

        def settle_one(source: SourceToSettle) -> bool:
            bucket, key, needs_split = source
            return settle_source(manifest.for_this_thread(), bucket, key, needs_split=needs_split)

        def settle_known(source: tuple[str, str, int, bool]) -> None:
            bucket, key, failed, is_event_log = source
            mark_settled(
                manifest.for_this_thread(),
                bucket,
                key,
                failed=failed,
                split_settled=is_event_log or None,
            )

        for _ in ordered_map(settle_one, self.to_settle):
            pass
        for _ in ordered_map(settle_known, self.settled_from_results):
            pass


# A single unit's result that leaves its row finished (done or failed) at the source's version,
# with whether it failed: what settle_source would read back from the rows.
def _finished_unit(result: RecordedResult | None) -> int | None:
    """1 if the unit's row is failed, 0 if done, ``None`` if unfinished or not known."""
    if result is None:
        return None
    if result.status == "done":
        return 0
    if result.status == "failed":
        return None if result.code == HELD_BY_ANOTHER_RUN else 1
    if result.why == ClaimOutcome.ALREADY_DONE:
        return 0
    if result.why == ClaimOutcome.ALREADY_FAILED:
        return 1
    return None


def _settling(
    mirror_items: list[MirrorItem],
    mirror_results: dict[ItemKey, RecordedResult],
    units_of: dict[SourceRef, list[RecordedResult | None]],
    splits_of: dict[SourceRef, RecordedResult],
) -> tuple[list[SourceToSettle], list[tuple[str, str, int, bool]]]:
    """Which sources settle from their results alone, and which from their rows.

    From its results: a source of one unit, mirrored by this run's result and finished, and
    for an event log whose unit was published, its split finished too. Every other source is
    settled from its rows, as settle_source reads them.
    """
    to_settle: list[SourceToSettle] = []
    settled_from_results: list[tuple[str, str, int, bool]] = []
    for item in mirror_items:
        source = (item.source_bucket, item.source_key)
        is_event_log = item.kind == EVENT_LOG_KIND
        mirror = mirror_results.get((item.source_key, None))
        units = units_of.get(source, [])
        failed = _finished_unit(units[0]) if len(units) == 1 else None
        if is_event_log and failed == 0:
            split_failed = _finished_unit(splits_of.get(source))
            failed = None if split_failed is None else split_failed
        if mirror is not None and mirror.status == "done" and failed is not None:
            settled_from_results.append((*source, failed, is_event_log))
        else:
            to_settle.append((*source, is_event_log))
    return to_settle, settled_from_results


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
    present = files.existing_keys_in(
        ("results", "mirror"), ("results", "decrypt"), ("results", "split")
    )
    mirror_batches = _work_list(files, MIRROR_ITEMS, MirrorBatch, present)
    unit_batches = _work_list(files, DECRYPT_ITEMS, DecryptBatch, present)
    split_batches = _work_list(files, SPLIT_ITEMS, SplitBatch, present)
    mirror_items = [item for batch in mirror_batches for item in batch.items]
    units = [unit for batch in unit_batches for unit in batch.items]
    logs = [log for batch in split_batches for log in batch.items]
    mirror_results = _read_results(files, "mirror", present)
    decrypt_results = _read_results(files, "decrypt", present)
    split_results = _read_results(files, "split", present)

    tally = ItemTally(previously_failed=list(summary.get("previously_failed") or []))
    units_of: dict[SourceRef, list[RecordedResult | None]] = defaultdict(list)
    for item in mirror_items:
        key: ItemKey = (item.source_key, None)
        row = object_row(item.source_bucket, item.source_key)
        tally.count("mirror", row, key, mirror_results.get(key))
    for unit in units:
        key = (unit.source_key, unit.member)
        row = unit_row(unit.source_bucket, unit.source_key, unit.member)
        units_of[(unit.source_bucket, unit.source_key)].append(decrypt_results.get(key))
        tally.count("decrypt", row, key, decrypt_results.get(key))
    splits_of: dict[SourceRef, RecordedResult] = {}
    for log in logs:
        key = (log.source_key, None)
        split = split_results.get(key)
        tally.count("split", split_row(log.source_bucket, log.source_key), key, split)
        if split is not None:
            splits_of[(log.source_bucket, log.source_key)] = split

    def release(row: RowKey) -> None:
        manifest.for_this_thread().release(row, run_id=summary["run_id"], reason=NO_RESULT_REASON)

    for _ in ordered_map(release, tally.lost):
        pass
    planned = [item.source_key for item in mirror_items]
    report = _report(summary, tally, planned, finished=finished, key_expiry=key_expiry)
    return CheckedRun(report, *_settling(mirror_items, mirror_results, units_of, splits_of))


def _work_list(
    files: RunFiles, name: str, batch: type[Batch], present: frozenset[str]
) -> list[Batch]:
    """A work list's batches of typed items; none if the run has no such list."""
    key = files.key(name)
    return parsed_entries(batch, files.get_json_or(key, [], present=present), key=key)


def _read_results(
    files: RunFiles, stage: Stage, present: frozenset[str]
) -> dict[ItemKey, RecordedResult]:
    """Every result of one stage by its item: each file under ``results/{stage}/``, in key order.

    A result another release wrote reads too (:class:`RecordedResult`); one that does not
    validate fails the check with :class:`~edx_vault.pipeline.run_files.MalformedRunFileError`.
    """
    prefix = files.key("results", stage) + "/"
    keys = sorted(key for key in present if key.startswith(prefix))
    context = {"stage": stage}
    return {
        (result.source_key, result.member): result
        for key, document in zip(keys, files.get_json_many(keys), strict=True)
        for result in parsed_entries(RecordedResult, document, key=key, context=context)
    }


def _report(
    summary: dict[str, Any],
    tally: ItemTally,
    planned: list[str],
    *,
    finished: dt.datetime,
    key_expiry: KeyExpiry | None,
) -> dict[str, Any]:
    """The report: the plan's summary, the items' tally and the run's accounting."""
    failures = tally.failures
    accounting = account(
        listed=summary.get("listed"),
        up_to_date=int(summary["up_to_date"]),
        planned_keys=planned,
        failures=failures,
        previously_failed=tally.previously_failed,
        unknown=summary.get("unknown") or [],
    )
    if accounting["unaccounted"]:
        # Some file edX listed is neither published nor explained: not a success.
        reason = unaccounted_reason(accounting)
        failures.append(failure((None, None), "report", UNACCOUNTED, reason))
    started = dt.datetime.fromisoformat(summary["started"])
    categories = tally.files
    decrypted = {
        category: totals
        for category, totals in categories.items()
        if category != COURSE_EVENTS_CATEGORY
    }
    course_files = categories.get(COURSE_EVENTS_CATEGORY, {"count": 0, "bytes": 0})
    return {
        "run_id": summary["run_id"],
        "started": summary["started"],
        "finished": finished.isoformat(),
        "status": "failed" if failures else "succeeded",
        "window": {"first_date": summary["first_date"], "last_date": summary["last_date"]},
        "planned": summary["planned"],
        "up_to_date": summary["up_to_date"],
        "skipped": tally.skipped,
        "files": dict(sorted(categories.items())),
        "course_split": tally.course_split,
        "failures": failures,
        "previously_failed": tally.previously_failed,
        "missing": summary["missing"],
        "unknown": summary["unknown"],
        "accounting": accounting,
        "key_expiry": _key_expiry(key_expiry, finished),
        "duration_seconds": round((finished - started).total_seconds(), 1),
        "estimated_cost_usd": estimate_run_cost_usd(
            RunVolume(
                mirrored_objects=len(planned),
                mirrored_bytes=tally.mirrored_bytes,
                decrypted_units=sum(c["count"] for c in decrypted.values()),
                decrypted_bytes=sum(c["bytes"] for c in decrypted.values()),
                split_logs=tally.course_split["logs"],
                course_files=course_files["count"],
                course_file_bytes=course_files["bytes"],
            )
        ),
    }


def _key_expiry(key_expiry: KeyExpiry | None, finished: dt.datetime) -> dict[str, Any] | None:
    if key_expiry is None:
        return None
    return {
        "fingerprint": key_expiry.fingerprint,
        "expires": key_expiry.expires.isoformat() if key_expiry.expires else None,
        "days_left": key_expiry.days_left(finished.date()),
        "problem": key_expiry.problem,
    }


def published_count(report: dict[str, Any]) -> int:
    """How many of edX's files the run published (decrypted); the course files its splits
    published are counted in ``course_split``, not here."""
    return sum(
        int(totals["count"])
        for category, totals in report["files"].items()
        if category != COURSE_EVENTS_CATEGORY
    )


def summary_text(report: dict[str, Any]) -> str:
    """A short plain-text summary for email (counts and reasons; no learner data)."""
    lines = [
        f"edx-vault sync {report['run_id']}: {report['status'].upper()}",
        f"window {report['window']['first_date']} .. {report['window']['last_date']}, "
        f"{report['planned']} new or changed files, {report['up_to_date']} already up to date",
    ]
    for category, totals in report["files"].items():
        lines.append(f"  published {category}: {totals['count']} files, {totals['bytes']} bytes")
    split = report.get("course_split")
    if split and split["logs"]:
        lines.append(
            f"  split {split['logs']} event logs by course: {split['course_files']} course files, "
            f"{split['unassigned']} events without a course, {split['unparsed']} lines not JSON"
        )
    if report["failures"]:
        lines.append(f"{len(report['failures'])} failures:")
        lines.extend(
            f"  {f['code']}: {f['source_key']}{' :: ' + f['member'] if f['member'] else ''}"
            f" ({f['reason']})"
            for f in report["failures"][:50]
        )
    if report["missing"]:
        lines.append(f"{len(report['missing'])} expected files missing at edX")
    catalog = report.get("catalog")
    if catalog and (catalog["created"] or catalog["updated"]):
        lines.append(
            f"research catalog: {len(catalog['created'])} tables created, "
            f"{len(catalog['updated'])} updated from the newest exports' header lines"
        )
    if deidentified := deidentified_summary(report):
        lines.append(deidentified)
    audit = report.get("audit")
    if audit and audit["unexpected_reader_count"]:
        lines.append(
            f"WARNING: the read audit ({audit['key']}) found {audit['unexpected_reader_count']} "
            f"unexpected reader(s) of the data bucket: {', '.join(audit['unexpected_readers'])}. "
            "Check it and report a possible incident to edX within 24 hours"
        )
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
