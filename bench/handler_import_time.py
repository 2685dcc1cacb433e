#!/usr/bin/env python3
"""How long each Lambda handler module takes to import in a fresh interpreter (a cold start's
import phase), in this checkout and, side by side, in another revision.

Prints one JSON document: for every handler under ``lambdas/``, the median, minimum and maximum
import time in milliseconds over ``--runs`` fresh interpreters, and with ``--baseline REV`` the
same for that revision (checked out into a temporary git worktree) and the ratio of the two
medians (this checkout / baseline; below 1 is faster). The two sides run alternately in the same
rounds, so load on this shared machine falls on both alike.

What is measured: ``python -c`` timing ``importlib.import_module("lambdas.<name>")`` with the
checkout as the working directory (which comes first on ``sys.path``, before the editable
install), the same interpreter and packages for both sides, and the environment a Lambda has at
import (region, Powertools service name; tracing off, as no X-Ray daemon runs here). Left out:
Lambda's own init (runtime start, layer extraction) and the first call's work.

Usage: ``.venv/bin/python bench/handler_import_time.py [--runs 15] [--baseline REV]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMER = (
    "import importlib, time\n"
    "started = time.perf_counter()\n"
    "importlib.import_module({module!r})\n"
    "print(time.perf_counter() - started)\n"
)


def handler_modules(checkout: Path) -> list[str]:
    return sorted(
        f"lambdas.{path.stem}"
        for path in (checkout / "lambdas").glob("*.py")
        if path.stem != "__init__"
    )


def import_seconds(checkout: Path, module: str) -> float:
    environment = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "edx-vault",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PYTHONDONTWRITEBYTECODE": "",
    }
    environment.pop("PYTHONPATH", None)
    output = subprocess.run(
        [sys.executable, "-c", TIMER.format(module=module)],
        cwd=checkout,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(output.stdout.strip().splitlines()[-1])


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(samples) * 1000, 1),
        "min_ms": round(min(samples) * 1000, 1),
        "max_ms": round(max(samples) * 1000, 1),
    }


def measure(sides: dict[str, Path], runs: int) -> dict[str, dict[str, list[float]]]:
    modules = {name: handler_modules(checkout) for name, checkout in sides.items()}
    samples: dict[str, dict[str, list[float]]] = {
        name: {module: [] for module in found} for name, found in modules.items()
    }
    for name, checkout in sides.items():  # warm the bytecode caches of both sides first
        for module in modules[name]:
            import_seconds(checkout, module)
    for _ in range(runs):
        for name, checkout in sides.items():
            for module in modules[name]:
                samples[name][module].append(import_seconds(checkout, module))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--baseline", help="a git revision to measure side by side")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edx-vault-import-baseline-") as scratch:
        sides = {"this_checkout": ROOT}
        if arguments.baseline:
            baseline = Path(scratch) / "baseline"
            subprocess.run(
                [
                    "git",
                    "worktree",
                    "add",
                    "--detach",
                    "--quiet",
                    str(baseline),
                    arguments.baseline,
                ],
                cwd=ROOT,
                check=True,
            )
            sides["baseline"] = baseline
        try:
            samples = measure(sides, arguments.runs)
        finally:
            if arguments.baseline:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(sides["baseline"])],
                    cwd=ROOT,
                    check=True,
                )
    report: dict[str, object] = {
        "measured": "import time of each lambdas/ handler module in a fresh interpreter",
        "runs": arguments.runs,
        "python": sys.version.split()[0],
        "this_checkout": {
            module: summary(times) for module, times in samples["this_checkout"].items()
        },
    }
    if arguments.baseline:
        report["baseline"] = {
            "revision": arguments.baseline,
            **{module: summary(times) for module, times in samples["baseline"].items()},
        }
        report["ratio_of_medians"] = {
            module: round(
                statistics.median(samples["this_checkout"][module])
                / statistics.median(samples["baseline"][module]),
                3,
            )
            for module in samples["this_checkout"]
            if module in samples["baseline"]
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
