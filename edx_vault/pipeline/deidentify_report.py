"""The run report's ``deidentified`` section: what the de-identify step did, and its failures.

Every copy the plan found due must have a result: a copy that failed, or whose batch left no
result (its task failed after its retries), is a failure of the run, naming the file, so a run
never reports success while a file it saw has no current copy. A plan that could not run (the
pseudonym key not set yet) is a failure of the run too, with the command that fixes it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Final

from edx_vault.pipeline.deidentify_items import DEIDENTIFY_STAGE, DeidentifyResult
from edx_vault.pipeline.manifest_rows import NO_RESULT
from edx_vault.pipeline.run_accounting import NO_RESULT_REASON, failure
from edx_vault.pipeline.run_files import RunFiles, parsed_entries
from edx_vault.pipeline.steps.deidentify import DEIDENTIFY_PLAN, RESULTS_FOLDER

# The metric of copies that failed for good, per batch (lambdas/deidentify.py).
FAILED_COPIES_METRIC: Final = "DeidentifiedCopiesFailed"
PLAN_NO_RESULT_REASON: Final = (
    "the de-identify plan step failed after its retries and left no plan; see the execution's "
    "history. The next run plans the whole tier again"
)


def deidentified_report(
    files: RunFiles, *, expected: bool
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The run's ``deidentified`` section and the failures it makes.

    Parameters
    ----------
    files
        The run's files.
    expected
        Whether the deployment has the step (its functions name the pseudonym key): a missing
        plan is then a failure; otherwise there is no section.
    """
    own = files.existing_keys(recursive=False)
    plan_key = files.key(DEIDENTIFY_PLAN)
    if plan_key not in own:
        if not expected:
            return None, []
        return None, [failure((None, None), DEIDENTIFY_STAGE, NO_RESULT, PLAN_NO_RESULT_REASON)]
    plan = files.get_json(plan_key)
    if "error" in plan:
        error = plan["error"]
        section = {"error": error, "written": 0, "removed": 0, "up_to_date": 0, "failed": 0}
        return section, [failure((None, None), DEIDENTIFY_STAGE, error["code"], error["reason"])]
    found: dict[str, DeidentifyResult] = {}
    for key in sorted(files.existing_keys("results", RESULTS_FOLDER)):
        for entry in parsed_entries(DeidentifyResult, files.get_json(key), key=key):
            found[entry.key] = entry
    failures = []
    dropped: Counter[str] = Counter()
    written = skipped = lines = unknown_types = size = 0
    for key in plan["due"]:
        result = found.get(key)
        if result is None:
            failures.append(failure((key, None), DEIDENTIFY_STAGE, NO_RESULT, NO_RESULT_REASON))
        elif result.status == "failed":
            failures.append(failure((key, None), DEIDENTIFY_STAGE, result.code, result.reason))
        elif result.status == "skipped":
            skipped += 1
        else:
            written += 1
            size += result.size or 0
            lines += result.lines or 0
            unknown_types += result.unknown_types or 0
            dropped.update(result.dropped or {})
    section = {
        "version": plan["version"],
        "written": written,
        "bytes": size,
        "removed": len(plan["removed"]),
        "up_to_date": plan["up_to_date"],
        "skipped": skipped,
        "failed": len(failures),
        "lines": lines,
        "dropped": dict(sorted(dropped.items())),
        "unknown_types": unknown_types,
        # What the originals of the due copies weighed, for the run's cost estimate.
        "original_bytes": int(plan.get("due_bytes", 0)),
    }
    return section, failures


def summary_line(report: dict[str, Any]) -> str | None:
    """The run email's line for the tier, or ``None`` without a section."""
    section = report.get("deidentified")
    if not section or "error" in section:
        return None
    dropped = sum(section["dropped"].values())
    return (
        f"de-identified tier: {section['written']} copies written, {section['removed']} removed, "
        f"{section['up_to_date']} up to date, {section['failed']} failed; {dropped} lines dropped"
    )
