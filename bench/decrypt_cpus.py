#!/usr/bin/env python3
"""Decrypt speed per dollar: the engine and plain gpg on one CPU and on two, priced on Lambda.

Prints one JSON document:

- ``measured``: for each CPU count, the decrypt throughput of the engine
  (:class:`edx_vault.engine.gpg_stream.DecryptedStream` from a local file into an 8 MiB-part sink, as in
  ``bench/decrypt_throughput.py``) and of ``gpg --decrypt > /dev/null`` on the same file, both
  pinned to the same CPUs, their ratio, and the CPU time each spends per GiB (this process, its
  reaped children and the gpg-agent). Pinning is ``sched_setaffinity`` on every thread of this
  process and of the agent; gpg and python-gnupg's threads, started afterwards, inherit it. All
  measures run in the same rounds, in an order that shifts each round, after a warm-up round;
  the one-CPU runs take the machine's CPUs in turn; figures are medians.
- ``s3_client``: the CPU boto3 itself spends per GiB streaming a GET body and sending a
  multipart upload the way :mod:`edx_vault.engine.publish` does, against moto server in a process of
  its own (plain HTTP: TLS not included). The in-process figures above have no S3 at all.
- ``lambda_model``: what that means for the decrypt function at candidate memory sizes, at the
  list price of the stack's architecture (:mod:`edx_vault.pipeline.cost_model`). The rule is AWS's
  documented one, CPU in proportion to memory: "at 1,769 MB, a function has the equivalent of
  one vCPU (one vCPU-second of credits per second)"
  (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html). How many cores a
  function sees is not documented; the model gives it one core up to 1,769 MB and two from
  1,770 MB (the figures AWS showed at re:Invent 2020). A size decrypts at the engine's speed on
  that many CPUs of its own, unless its share of CPU time (memory / 1,769 vCPU-seconds per
  second) cannot pay for the CPU the engine burns at that speed:
  MiB/s = min(engine alone on n cores, share / engine CPU-seconds per MiB) (``engine_only``).
  ``with_s3`` adds the S3 client's CPU to the engine's and caps the speed at one GET stream
  (85 MB/s, AWS's S3 guidance; the decrypt reads its ciphertext through one).
  ``two_cores_at_every_size`` is ``engine_only`` if every size up to 3,008 MB sees two throttled
  cores, as a third-party measurement reports (github.com/rwnx/lambda-cpuinfo).

The machine is shared and noisy: wall times include waiting for CPUs other work holds (the
output says how many CPUs it kept busy). The model therefore uses "alone" speeds, derived from
what that disturbs least: gpg is one single-threaded process, so on a CPU of its own it decrypts
1 GiB per its CPU-seconds per GiB; so does the engine on one CPU, where gpg and Python take
turns; on two, the engine alone is the measured ratio times gpg alone, which errs low when
other work is heavy (the engine needs two CPUs at once, gpg one).

Left out: TLS (AES-GCM both ways), Lambda's own network limits, and that Lambda's CPUs are not
this one.

Usage: ``.venv/bin/python bench/decrypt_cpus.py [--mb 256] [--runs 15]
[--memory-mb 1024 1769 2048 2560 3008 3538]``; one to two minutes at the defaults on 2 CPUs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import gnupg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.decrypt_throughput import (  # noqa: E402
    free_port,
    make_ciphertext,
    make_key,
    time_engine,
    time_gpg_cli,
)
from edx_vault.engine.gnupg_home import GnupgHome  # noqa: E402
from edx_vault.engine.gpg_stream import CHUNK_BYTES  # noqa: E402
from edx_vault.engine.publish import transfer_config  # noqa: E402
from edx_vault.pipeline import cost_model  # noqa: E402

DEFAULT_MEMORY_MB: Final = (1024, 1769, 2048, 2560, 3008, 3538)
# New accounts may be refused more than this ("MemorySize ... must have value less than or equal
# to 3008") until AWS raises their quota.
NEW_ACCOUNT_MAX_MEMORY_MB: Final = 3008
MIB_PER_GIB: Final = 1024
MOTO_START_SECONDS: Final = 20.0


@dataclass(frozen=True)
class Sample:
    wall_seconds: float
    cpu_seconds: float
    # CPUs kept busy meanwhile by everything else on the machine (other users' work).
    others_cpus_busy: float


def pin(cpus: set[int], agent_pid: int | None) -> None:
    """Run every thread of this process and of the gpg-agent on ``cpus`` only."""
    for pid in (os.getpid(), agent_pid):
        if pid is None:
            continue
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(ProcessLookupError):  # a thread that has just ended
                os.sched_setaffinity(int(task.name), cpus)


def cpu_seconds(agent_pid: int | None) -> float:
    """CPU used so far by this process, its reaped children (gpg) and the agent."""
    used = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        used += usage.ru_utime + usage.ru_stime
    if agent_pid is not None:
        fields = Path(f"/proc/{agent_pid}/stat").read_text().rsplit(")", 1)[1].split()
        used += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return used


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent on anything but idling and waiting for I/O."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, iowait = fields[3], fields[4]
    guest = sum(fields[8:10])  # already counted in user and nice
    return (sum(fields) - idle - iowait - guest) / os.sysconf("SC_CLK_TCK")


def measure(
    run: Callable[[], float], cpus: set[int], agent_pid: int | None
) -> Callable[[], Sample]:
    def pinned() -> Sample:
        pin(cpus, agent_pid)
        before, machine_before = cpu_seconds(agent_pid), machine_busy_seconds()
        wall = run()
        ours = cpu_seconds(agent_pid) - before
        others = machine_busy_seconds() - machine_before - ours
        return Sample(wall, ours, max(others, 0.0) / wall)

    return pinned


def rounds(runs: int, measures: dict[str, Callable[[], Sample]]) -> dict[str, list[Sample]]:
    """Every measure once per round, the order shifted by one each round, after a warm-up round."""
    names = list(measures)
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for round_ in range(-1, runs):
        shift = max(round_, 0) % len(names)
        for name in names[shift:] + names[:shift]:
            sample = measures[name]()
            if round_ >= 0:
                samples[name].append(sample)
    return samples


@dataclass(frozen=True)
class Figures:
    """One CPU count's medians, per GiB of ciphertext."""

    cpus: int
    cpus_pinned: list[list[int]]
    gpg_seconds: float
    engine_seconds: float
    paired_ratio: float
    gpg_cpu_seconds: float
    engine_cpu_seconds: float
    others_cpus_busy: float

    @property
    def ratio(self) -> float:
        return self.gpg_seconds / self.engine_seconds

    @property
    def gpg_alone_mib_per_s(self) -> float:
        """gpg on a CPU of its own: it is one single-threaded process, so its CPU time is it."""
        return MIB_PER_GIB / self.gpg_cpu_seconds

    @property
    def engine_alone_mib_per_s(self) -> float:
        """The engine on CPUs of its own.

        The machine is shared: wall times include waiting for CPUs that other work holds, CPU
        times much less so. On one CPU gpg and Python take turns, so the engine runs at 1 GiB
        per its CPU-seconds per GiB. On more, it is the measured ratio times gpg alone (both
        sides waited in the same rounds, but the engine, needing two CPUs at once, waits more:
        this errs low when other work is heavy), at most what its CPU time allows.
        """
        by_cpu_time = self.cpus * MIB_PER_GIB / self.engine_cpu_seconds
        if self.cpus == 1:
            return by_cpu_time
        return min(self.ratio * self.gpg_alone_mib_per_s, by_cpu_time)

    def as_json(self) -> dict[str, object]:
        return {
            "cpus_pinned": self.cpus_pinned,
            "gpg_mib_per_s": round(MIB_PER_GIB / self.gpg_seconds, 1),
            "engine_mib_per_s": round(MIB_PER_GIB / self.engine_seconds, 1),
            "ratio": round(self.ratio, 3),
            "ratio_median_of_rounds": round(self.paired_ratio, 3),
            "cpu_time_ratio": round(self.gpg_cpu_seconds / self.engine_cpu_seconds, 3),
            "gpg_cpu_seconds_per_gib": round(self.gpg_cpu_seconds, 2),
            "engine_cpu_seconds_per_gib": round(self.engine_cpu_seconds, 2),
            "engine_cpus_busy": round(self.engine_cpu_seconds / self.engine_seconds, 2),
            "gpg_alone_mib_per_s": round(self.gpg_alone_mib_per_s, 1),
            "engine_alone_mib_per_s": round(self.engine_alone_mib_per_s, 1),
            "other_work_cpus_busy": round(self.others_cpus_busy, 2),
        }


def figures(
    count: int, megabytes: int, gpg: list[Sample], engine: list[Sample], cpus: list[set[int]]
) -> Figures:
    per_gib = MIB_PER_GIB / megabytes
    return Figures(
        cpus=count,
        cpus_pinned=[sorted(c) for c in sorted({tuple(sorted(c)) for c in cpus})],
        gpg_seconds=statistics.median(s.wall_seconds for s in gpg) * per_gib,
        engine_seconds=statistics.median(s.wall_seconds for s in engine) * per_gib,
        paired_ratio=statistics.median(
            g.wall_seconds / e.wall_seconds for g, e in zip(gpg, engine, strict=True)
        ),
        gpg_cpu_seconds=statistics.median(s.cpu_seconds for s in gpg) * per_gib,
        engine_cpu_seconds=statistics.median(s.cpu_seconds for s in engine) * per_gib,
        others_cpus_busy=statistics.median(s.others_cpus_busy for s in [*gpg, *engine]),
    )


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto server in a process of its own, so that this process's CPU is the client's only."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + MOTO_START_SECONDS
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("moto server did not start")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def s3_client_cpu(megabytes: int, runs: int) -> dict[str, float]:
    """boto3's own CPU per GiB for a streamed GET body and a multipart upload (medians)."""
    import boto3

    logging.getLogger("botocore").setLevel(logging.ERROR)
    data = os.urandom(megabytes << 20)
    per_gib = MIB_PER_GIB / megabytes
    get_cpu: list[float] = []
    upload_cpu: list[float] = []
    with moto_server() as endpoint:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        s3.create_bucket(Bucket="bench-bucket")
        s3.put_object(Bucket="bench-bucket", Key="in", Body=data)
        for _ in range(runs):
            before = cpu_seconds(None)
            body = s3.get_object(Bucket="bench-bucket", Key="in")["Body"]
            while body.read(CHUNK_BYTES):  # as python-gnupg's feeder reads it
                pass
            get_cpu.append((cpu_seconds(None) - before) * per_gib)
            before = cpu_seconds(None)
            s3.upload_fileobj(io.BytesIO(data), "bench-bucket", "out", Config=transfer_config())
            upload_cpu.append((cpu_seconds(None) - before) * per_gib)
    return {
        "get_cpu_seconds_per_gib": round(statistics.median(get_cpu), 2),
        "upload_cpu_seconds_per_gib": round(statistics.median(upload_cpu), 2),
    }


@dataclass(frozen=True)
class Model:
    """What a memory size gives, per GiB of ciphertext."""

    memory_mb: int
    mib_per_s: float
    limited_by: str
    price: float

    @property
    def seconds_per_gib(self) -> float:
        return MIB_PER_GIB / self.mib_per_s

    @property
    def usd_per_gib(self) -> float:
        return self.seconds_per_gib * self.memory_mb / 1024 * self.price

    def as_json(self, base: Model | None) -> dict[str, object]:
        figures_: dict[str, object] = {
            "mib_per_s": round(self.mib_per_s, 1),
            "limited_by": self.limited_by,
            "seconds_per_gib": round(self.seconds_per_gib, 2),
            "usd_per_gib": round(self.usd_per_gib, 7),
        }
        if base is not None:
            figures_["speed_vs_base"] = round(self.mib_per_s / base.mib_per_s, 2)
            figures_["cost_vs_base"] = round(self.usd_per_gib / base.usd_per_gib, 2)
        return figures_


def model(
    memory_mb: int,
    on_cores: Figures,
    cores: int,
    *,
    price: float,
    s3_cpu_seconds_per_gib: float = 0.0,
    stream_mib_per_s: float = math.inf,
) -> Model:
    """The decrypt speed at ``memory_mb`` (see the module docstring)."""
    share = memory_mb / cost_model.MB_PER_VCPU
    cpu_seconds_per_mib = (on_cores.engine_cpu_seconds + s3_cpu_seconds_per_gib) / MIB_PER_GIB
    alone = min(on_cores.engine_alone_mib_per_s, cores / cpu_seconds_per_mib)
    limits = {
        f"{cores} core(s)": alone,
        "cpu share": share / cpu_seconds_per_mib,
        "one S3 GET stream": stream_mib_per_s,
    }
    limited_by = min(limits, key=lambda name: limits[name])
    return Model(memory_mb, limits[limited_by], limited_by, price)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=256, help="ciphertext size in MiB")
    parser.add_argument("--runs", type=int, default=15, help="rounds (after one warm-up round)")
    parser.add_argument("--cpus", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--memory-mb", type=int, nargs="+", default=list(DEFAULT_MEMORY_MB))
    parser.add_argument(
        "--base-mb",
        type=int,
        default=cost_model.DECRYPT_MEMORY_MB,
        help="size the others compare to (default: the deployed decrypt function's)",
    )
    parser.add_argument("--s3-runs", type=int, default=3, help="0: skip the S3 client figure")
    args = parser.parse_args()
    available = sorted(os.sched_getaffinity(0))
    if max(args.cpus) > len(available):
        parser.error(f"only {len(available)} CPUs available")
    architecture = stack_architecture()
    price = cost_model.LAMBDA_GB_SECOND_USD_BY_ARCHITECTURE[architecture]

    work = Path(tempfile.mkdtemp(prefix="edxv-bench-"))
    try:
        gpg: gnupg.GPG = make_key(work)
        agent_pid = GnupgHome(Path(gpg.gnupghome), gpg_binary=gpg.gpgbinary).agent_pid()
        ciphertext = work / "bench.gpg"
        make_ciphertext(gpg, ciphertext, args.mb)

        # One CPU: the machine's CPUs in turn, so that neither side keeps the quieter one.
        turns: dict[str, int] = {}
        used_cpus: dict[str, list[set[int]]] = {}

        def pinned(count: int, name: str, run: Callable[[], float]) -> Callable[[], Sample]:
            key = f"{name}@{count}"

            def go() -> Sample:
                turn = turns[key] = turns.get(key, -1) + 1
                cpus = set(available[:count]) if count > 1 else {available[turn % len(available)]}
                used_cpus.setdefault(key, []).append(cpus)
                return measure(run, cpus, agent_pid)()

            return go

        measures: dict[str, Callable[[], Sample]] = {}
        for count in args.cpus:
            measures[f"gpg@{count}"] = pinned(count, "gpg", lambda: time_gpg_cli(gpg, ciphertext))
            measures[f"engine@{count}"] = pinned(
                count, "engine", lambda: time_engine(gpg, ciphertext)
            )
        started = time.perf_counter()
        samples = rounds(args.runs, measures)
        elapsed = time.perf_counter() - started
        pin(set(available), agent_pid)
        measured = {
            count: figures(
                count,
                args.mb,
                samples[f"gpg@{count}"],
                samples[f"engine@{count}"],
                used_cpus[f"engine@{count}"],
            )
            for count in args.cpus
        }
        s3 = s3_client_cpu(args.mb, args.s3_runs) if args.s3_runs else None
        report: dict[str, object] = {
            "what": "engine vs gpg --decrypt > /dev/null, pinned to N CPUs; Lambda memory modeled",
            "machine": {
                "cpus": os.cpu_count(),
                "model": _cpu_model(),
                "python": sys.version.split()[0],
                "gpg": ".".join(map(str, gpg.version)),
                "load_average_1min_at_end": round(os.getloadavg()[0], 2),
            },
            "mib": args.mb,
            "runs_per_figure": args.runs,
            "measuring_seconds": round(elapsed, 1),
            "measured": {str(count): measured[count].as_json() for count in args.cpus},
        }
        if {1, 2} <= set(args.cpus):
            one, two = measured[1], measured[2]
            report["two_cpus_over_one"] = {
                "engine_speed": round(one.engine_seconds / two.engine_seconds, 2),
                "engine_alone_speed": round(
                    two.engine_alone_mib_per_s / one.engine_alone_mib_per_s, 2
                ),
                "ratio": round(two.ratio / one.ratio, 2),
                "engine_cpu_per_gib": round(two.engine_cpu_seconds / one.engine_cpu_seconds, 2),
            }
        if s3 is not None:
            report["s3_client"] = {**s3, "note": "boto3 against moto server, plain HTTP, no TLS"}
        report["lambda_model"] = lambda_model(args, measured, s3, architecture, price)
        print(json.dumps(report, indent=2))
    finally:
        for home in work.glob("gnupg-*"):
            subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)
        shutil.rmtree(work, ignore_errors=True)


def lambda_model(
    args: argparse.Namespace,
    measured: dict[int, Figures],
    s3: dict[str, float] | None,
    architecture: str,
    price: float,
) -> dict[str, object]:
    most = max(measured)
    s3_cpu = sum(s3.values()) if s3 else 0.0
    stream = cost_model.S3_GET_STREAM_BYTES_PER_SECOND / 2**20

    def cores_at(memory_mb: int) -> int:
        return math.ceil(memory_mb / cost_model.MB_PER_VCPU)

    def row(memory_mb: int, *, two_cores: bool = False) -> dict[str, object]:
        cores = 2 if two_cores else cores_at(memory_mb)
        base_cores = 2 if two_cores else cores_at(args.base_mb)
        on = measured[min(cores, most)]  # gpg + Python keep at most two CPUs busy
        base_on = measured[min(base_cores, most)]
        engine = model(memory_mb, on, cores, price=price)
        base = model(args.base_mb, base_on, base_cores, price=price)
        entry: dict[str, object] = {
            "memory_mb": memory_mb,
            "vcpu_seconds_per_second": round(memory_mb / cost_model.MB_PER_VCPU, 3),
            "cores": cores,
            "engine_only": engine.as_json(base),
        }
        if s3 is not None and not two_cores:
            options = {"price": price, "s3_cpu_seconds_per_gib": s3_cpu, "stream_mib_per_s": stream}
            with_s3 = model(memory_mb, on, cores, **options)
            entry["with_s3"] = with_s3.as_json(model(args.base_mb, base_on, base_cores, **options))
        entry["deployable_in_new_accounts"] = memory_mb <= NEW_ACCOUNT_MAX_MEMORY_MB
        return entry

    top = measured[most]
    return {
        "architecture": architecture,
        "usd_per_gb_second": price,
        "price_source": cost_model.LAMBDA_PRICE_SOURCE,
        "mb_per_vcpu": cost_model.MB_PER_VCPU,
        "rule": "vCPU-seconds per second = memory / 1769 (AWS docs); cores: 1 up to 1769 MB, "
        "2 from 1770 MB; MiB/s = min(engine alone on that many cores, "
        "share / CPU-s per MiB[, one S3 GET stream])",
        "gib": "1024 MiB of ciphertext",
        "base_mb": args.base_mb,
        "s3_get_stream_mib_per_s": round(stream, 1),
        "sizes": [row(m) for m in args.memory_mb],
        # Below this the engine alone on the most CPUs measured is held back by its CPU share;
        # above it, more memory only costs more.
        "engine_only_unthrottled_from_mb": math.ceil(
            top.engine_cpu_seconds
            / MIB_PER_GIB
            * top.engine_alone_mib_per_s
            * cost_model.MB_PER_VCPU
        ),
        # Below this, the CPU share on one core cannot keep up with one GET stream (with_s3).
        "with_s3_one_core_keeps_up_with_the_stream_from_mb": (
            math.ceil(
                stream
                * (measured[1].engine_cpu_seconds + s3_cpu)
                / MIB_PER_GIB
                * cost_model.MB_PER_VCPU
            )
            if s3 is not None and 1 in measured
            else None
        ),
        "two_cores_at_every_size": [
            row(m, two_cores=True) for m in args.memory_mb if m <= NEW_ACCOUNT_MAX_MEMORY_MB
        ],
    }


def stack_architecture() -> str:
    """The functions' architecture, from the stack's own constant.

    In a subprocess: importing aws_cdk starts a node process, which should not run beside the
    measurements.
    """
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from stacks.lambda_layers import LAMBDA_ARCHITECTURE as a; print(a.name)",
        ],
        cwd=ROOT,
        env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    main()
