#!/usr/bin/env python3
"""Benchmark the streaming decrypt engine against plain gpg, and measure its memory.

Prints one JSON document:

- ``in_process``: decrypt throughput of :class:`edx_vault.engine.gpg_stream.DecryptedStream` reading a
  local file and handing the plaintext to a sink that takes 8 MiB parts as the multipart upload
  does, as a ratio of ``gpg --decrypt > /dev/null`` on the same file (runs interleaved, median of
  N). This is our overhead: python-gnupg, the pipes, the queue, SHA-256, the part buffer. The same
  figure for the engine with the untuned plumbing (64 KiB chunks, default 64 KiB pipes, gpg's
  unnamed stdout) is measured in the same interleaved rounds, to show what the tuning buys.
- ``moto``: the full :func:`edx_vault.engine.decryption.decrypt_unit` (ranged/streamed GET from S3,
  gpg, multipart SSE-KMS upload) against moto in server mode on loopback, same ratio. moto's own
  ingest (about 60 MB/s here) dominates this one; it is not a figure for real S3.
- ``peak_rss``: the engine process's peak RSS (ru_maxrss, gpg not included) for a 10 MB and a
  1 GB input, each in a fresh subprocess, and the difference. Target: within 64 MB.

The key is generated in a GnuPG home set up as the decrypt Lambda's (``create_gnupg_home`` with
``fast_unlock=True``: no passphrase cache, fewest S2K rounds), so unlocking it costs milliseconds
and the ratio is about the bytes, not a fixed per-file cost that would flatter it.

Usage: ``.venv/bin/python bench/decrypt_throughput.py [--mb 256] [--moto-mb 64] [--runs 7]
[--cpus 1]``.
The machine is shared and noisy: compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
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
from pathlib import Path

import gnupg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edx_vault.engine import gpg_stream  # noqa: E402
from edx_vault.engine.gnupg_config import create_gnupg_home  # noqa: E402
from edx_vault.engine.gpg_stream import DecryptedStream  # noqa: E402

PASSPHRASE = "bench passphrase, not secret"
SINK_CHUNK = 8 * 1024 * 1024  # edx_vault.engine.publish.PART_BYTES
# The engine's plumbing before it was tuned (see the comments in edx_vault/engine/gpg_stream.py).
UNTUNED_SETTINGS = {
    "CHUNK_BYTES": 64 * 1024,
    "QUEUE_CHUNKS": 64,
    "PIPE_BYTES": 64 * 1024,
    "PLAINTEXT_TO_STDOUT_ARGS": (),
}


def make_key(parent: Path) -> gnupg.GPG:
    home = create_gnupg_home(parent, fast_unlock=True)
    gpg = gnupg.GPG(gnupghome=str(home), options=["--pinentry-mode", "loopback"])
    key = gpg.gen_key(
        gpg.gen_key_input(
            key_type="RSA",
            key_length=3072,
            name_email="bench@example.edu",
            passphrase=PASSPHRASE,
        )
    )
    assert key.fingerprint, key.stderr
    return gpg


def make_ciphertext(gpg: gnupg.GPG, path: Path, megabytes: int) -> None:
    """Random (incompressible, like edX's gzip'd logs) data, encrypted without compression."""
    [fingerprint] = gpg.list_keys().fingerprints
    command = [
        gpg.gpgbinary,
        "--homedir",
        gpg.gnupghome,
        "--batch",
        "--yes",
        "--trust-model",
        "always",
        "--compress-algo",
        "none",
        "--recipient",
        fingerprint,
        "--output",
        str(path),
        "--encrypt",
    ]
    with subprocess.Popen(command, stdin=subprocess.PIPE) as process:
        assert process.stdin is not None
        block = os.urandom(1024 * 1024)
        for _ in range(megabytes):
            process.stdin.write(block)
        process.stdin.close()
        assert process.wait() == 0


def time_gpg_cli(gpg: gnupg.GPG, path: Path) -> float:
    command = [
        gpg.gpgbinary,
        "--homedir",
        gpg.gnupghome,
        "--batch",
        "--pinentry-mode",
        "loopback",
        "--passphrase-fd",
        "0",
        "--decrypt",
        str(path),
    ]
    started = time.perf_counter()
    with Path(os.devnull).open("wb") as devnull:
        subprocess.run(
            command,
            input=PASSPHRASE.encode(),
            stdout=devnull,
            stderr=subprocess.DEVNULL,
            check=True,
        )
    return time.perf_counter() - started


def time_engine(gpg: gnupg.GPG, path: Path) -> float:
    started = time.perf_counter()
    with path.open("rb") as ciphertext:
        stream = DecryptedStream(
            gpg, ciphertext, passphrase=PASSPHRASE, max_plaintext_bytes=1 << 40
        )
        reader = io.BufferedReader(stream, buffer_size=SINK_CHUNK)
        while reader.read(SINK_CHUNK):
            pass
        stream.close()
    return time.perf_counter() - started


@contextlib.contextmanager
def engine_settings(settings: dict[str, object]) -> Iterator[None]:
    """Run the engine with some of gpg_stream's module settings replaced."""
    saved = {name: getattr(gpg_stream, name) for name in settings}
    for name, value in settings.items():
        setattr(gpg_stream, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(gpg_stream, name, value)


def time_untuned_engine(gpg: gnupg.GPG, path: Path) -> float:
    with engine_settings(UNTUNED_SETTINGS):
        return time_engine(gpg, path)


def interleaved(runs: int, *measures: Callable[[], float]) -> list[float]:
    """The median of each measure over ``runs`` rounds, each round running every measure once."""
    times: list[list[float]] = [[] for _ in measures]
    for _ in range(runs):
        for measure, samples in zip(measures, times, strict=True):
            samples.append(measure())
    return [statistics.median(samples) for samples in times]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bench_moto(gpg: gnupg.GPG, path: Path, runs: int) -> dict[str, float]:
    import boto3
    from moto.server import ThreadedMotoServer

    from edx_vault.engine.decryption import DecryptUnit, decrypt_unit

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        options = {
            "endpoint_url": f"http://127.0.0.1:{port}",
            "region_name": "us-east-1",
            "aws_access_key_id": "bench",
            "aws_secret_access_key": "bench",
        }
        s3 = boto3.client("s3", **options)
        key_arn = boto3.client("kms", **options).create_key()["KeyMetadata"]["Arn"]
        s3.create_bucket(Bucket="bench")
        source_key = "mitx/edx/events/2024/mitx-edx-events-2024-03-05.log.gz.gpg"
        raw_key = f"raw/edx-course-data/{source_key}"
        s3.upload_file(str(path), "bench", raw_key)
        unit = DecryptUnit(
            source_bucket="edx-course-data",
            source_key=source_key,
            source_etag='"e"',
            raw_key=raw_key,
            raw_version_id=None,
            raw_size=path.stat().st_size,
        )

        def engine() -> float:
            started = time.perf_counter()
            decrypt_unit(
                s3, gpg, passphrase=PASSPHRASE, unit=unit, bucket="bench", kms_key_arn=key_arn
            )
            return time.perf_counter() - started

        cli, ours = interleaved(runs, lambda: time_gpg_cli(gpg, path), engine)
    finally:
        server.stop()
    return {"gpg_cli_seconds": cli, "engine_seconds": ours, "ratio": cli / ours}


def child_peak_rss(gnupghome: str, path: Path) -> int:
    """Run the engine on ``path`` in a fresh interpreter and return its peak RSS in bytes."""
    code = (
        "import sys, resource; sys.path.insert(0, sys.argv[3]);"
        "import gnupg; from bench.decrypt_throughput import time_engine;"
        "from pathlib import Path;"
        "time_engine(gnupg.GPG(gnupghome=sys.argv[1]), Path(sys.argv[2]));"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code, gnupghome, str(path), str(ROOT)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(output.strip().splitlines()[-1]) * 1024  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=256, help="size for the in-process ratio")
    parser.add_argument("--moto-mb", type=int, default=64, help="size for the moto ratio")
    parser.add_argument("--rss-mb", type=int, nargs=2, default=[10, 1024])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--cpus",
        type=int,
        help="run everything (gpg included) on only the first N CPUs; 1 is like the decrypt "
        "Lambda at 1769 MB, which has one vCPU",
    )
    args = parser.parse_args()
    if args.cpus:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cpus])

    work = Path(tempfile.mkdtemp(prefix="edxv-bench-"))
    try:
        gpg = make_key(work)
        files = {}
        for megabytes in sorted({args.mb, args.moto_mb, *args.rss_mb}):
            files[megabytes] = work / f"{megabytes}.gpg"
            make_ciphertext(gpg, files[megabytes], megabytes)

        cli, ours, untuned = interleaved(
            args.runs,
            lambda: time_gpg_cli(gpg, files[args.mb]),
            lambda: time_engine(gpg, files[args.mb]),
            lambda: time_untuned_engine(gpg, files[args.mb]),
        )
        rss = {mb: child_peak_rss(gpg.gnupghome, files[mb]) for mb in args.rss_mb}
        small, large = args.rss_mb
        report = {
            "what": "edx-vault streaming decrypt vs gpg --decrypt > /dev/null (same file, same key)",
            "machine": {
                "cpus": os.cpu_count(),
                "cpus_used": len(os.sched_getaffinity(0)),
                "python": sys.version.split()[0],
                "gpg": ".".join(map(str, gpg.version)),
            },
            "runs_per_figure": args.runs,
            "ciphertext": "random data, RSA-3072 recipient, no OpenPGP compression",
            "key_home": "as the decrypt Lambda's: no passphrase cache, fast S2K unlock",
            "engine_settings": {
                "chunk_bytes": gpg_stream.CHUNK_BYTES,
                "queue_chunks": gpg_stream.QUEUE_CHUNKS,
                "pipe_bytes": gpg_stream.PIPE_BYTES,
                "gpg_output_args": list(gpg_stream.PLAINTEXT_TO_STDOUT_ARGS),
            },
            "in_process": {
                "megabytes": args.mb,
                "gpg_cli_seconds": round(cli, 3),
                "engine_seconds": round(ours, 3),
                "engine_mb_per_s": round(args.mb / ours, 1),
                "ratio": round(cli / ours, 3),
                "target_ratio": 0.8,
                "untuned_engine_seconds": round(untuned, 3),
                "untuned_ratio": round(cli / untuned, 3),
                "note": "untuned: 64 KiB chunks, default pipes, gpg writing its unnamed stdout",
            },
            "moto": {
                "megabytes": args.moto_mb,
                **{
                    k: round(v, 3)
                    for k, v in bench_moto(gpg, files[args.moto_mb], args.runs).items()
                },
                "note": "moto server ingest dominates; not a figure for real S3",
            },
            "peak_rss": {
                f"{small}_mb_bytes": rss[small],
                f"{large}_mb_bytes": rss[large],
                "difference_mb": round((rss[large] - rss[small]) / 2**20, 1),
                "target_difference_mb": 64,
                "note": "the Python process only (gpg runs as its own process)",
            },
            "max_rss_self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }
        print(json.dumps(report, indent=2))
    finally:
        for home in work.glob("gnupg-*"):
            subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
