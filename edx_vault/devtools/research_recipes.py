"""The recipes docs/researchers.md gives researchers, as code the tests and ``make demo`` run.

A researcher holds their role's session (``aws sts assume-role``), lists with boto3 and reads
with pandas or pyarrow straight from S3: no copy on a laptop's disk. Three points every recipe
follows:

* **List only what the grant lists.** A dated grant may list its date prefixes only
  (``.../course=X/date=2025`` for a whole year, ``date=2025-03`` for a month, a day's
  ``date=2025-03-14/``), never the folder above the date level, which would name the files of
  other dates too (``docs/researchers.md``, "Listing"). :func:`listing_prefixes` spells the
  prefixes of a range as whole years, whole months and days; each lies within one of the
  grant's ``s3:prefix`` patterns, which are the fewest date prefixes of the same range.
  pyarrow lists folders only (a ``FileSelector`` is a directory), so the listing is boto3's
  ``ListObjectsV2``.
* **List, then read.** Handing pyarrow a folder makes it HeadObject the folder's name first,
  and S3 answers 403 for a key that does not exist to a caller whose ``s3:ListBucket`` is
  limited by ``s3:prefix``, as a researcher's is ("If the object you request doesn't exist, the
  error that Amazon S3 returns depends on whether you also have the s3:ListBucket permission",
  HeadObject in the S3 API reference). So the files are listed first and read by name.
* **Events with pandas, tables with pyarrow.** edX types some event fields differently from one
  event to the next (``event`` is an object in server events and a JSON string in browser
  events), which pyarrow's JSON reader refuses and pandas keeps as Python objects. The weekly
  export's ``.sql`` tables are uniform TSV with a header row: a Hive-partitioned pyarrow dataset.

pyarrow, pandas and boto3 are development dependencies (``make setup``); nothing here runs in
Lambda.
"""

from __future__ import annotations

import calendar
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from typing import Any

import boto3
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.dataset as ds
import pyarrow.fs as pafs

# The partition levels of a table's folder below its table name (bucket_layout).
TABLE_PARTITIONS = ("org", "site", "course", "export_date")


def researcher_filesystem(
    credentials: Mapping[str, str], *, region: str, endpoint: str | None = None
) -> pafs.S3FileSystem:
    """pyarrow's S3 with a role session's credentials (``endpoint``: the embedded AWS's URL)."""
    options: dict[str, object] = {}
    if endpoint is not None:
        scheme, _, host = endpoint.partition("://")
        options = {"endpoint_override": host, "scheme": scheme}
    return pafs.S3FileSystem(
        access_key=credentials["AccessKeyId"],
        secret_key=credentials["SecretAccessKey"],
        session_token=credentials["SessionToken"],
        region=region,
        **options,
    )


def researcher_s3(
    credentials: Mapping[str, str], *, region: str, endpoint: str | None = None
) -> Any:
    """A boto3 S3 client with a role session's credentials, for listing."""
    return boto3.session.Session().client(
        "s3",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def listing_prefixes(
    folder: str, level: str, first: dt.date, last: dt.date | None = None
) -> list[str]:
    """The prefixes to list under ``folder`` for the days ``first`` to ``last``, both included.

    Whole years, then whole months, then single days: ``2024-11-30`` to ``2026-02-28`` is
    ``date=2024-11-30/``, ``date=2024-12``, ``date=2025``, ``date=2026-01``, ``date=2026-02``.
    Each lies within the grant's own date prefixes when ``first`` and ``last`` lie within its
    range.

    Parameters
    ----------
    folder
        The key prefix of the folder above the dates, without the bucket and without a final
        ``/``, e.g. ``events-by-course/org=examplex/site=edx/course=ExampleX-6.002x-2012_Fall``.
    level
        ``date`` for events, ``export_date`` for the weekly export's files.
    first, last
        The grant's dates (or a part of them); ``last`` ``None`` for an open end: 31 December of
        this year, which an open grant covers while it works.
    """
    if last is None:
        last = dt.date(dt.datetime.now(dt.UTC).year, 12, 31)
    prefixes: list[str] = []
    day = first
    while day <= last:
        year_end = dt.date(day.year, 12, 31)
        month_end = day.replace(day=calendar.monthrange(day.year, day.month)[1])
        if (day.month, day.day) == (1, 1) and year_end <= last:
            prefixes.append(f"{folder}/{level}={day.year:04d}")
            day = year_end + dt.timedelta(days=1)
        elif day.day == 1 and month_end <= last:
            prefixes.append(f"{folder}/{level}={day.isoformat()[:7]}")
            day = month_end + dt.timedelta(days=1)
        else:
            prefixes.append(f"{folder}/{level}={day.isoformat()}/")
            day += dt.timedelta(days=1)
    return prefixes


def list_files(s3: Any, bucket: str, prefixes: Iterable[str]) -> list[str]:
    """Every file under the prefixes, as ``bucket/key`` paths for pyarrow (listed, never probed).

    A prefix outside the grant raises botocore's ``ClientError`` with ``AccessDenied``.
    """
    paths: set[str] = set()
    for prefix in prefixes:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            paths.update(f"{bucket}/{o['Key']}" for o in page.get("Contents", []))
    return sorted(path for path in paths if not path.endswith("/"))


def read_events(filesystem: pafs.S3FileSystem, files: Iterable[str]) -> pd.DataFrame:
    """Event logs (gzip JSON lines) as one DataFrame, with their ``date`` partition.

    Parameters
    ----------
    filesystem
        :func:`researcher_filesystem`.
    files
        ``bucket/key`` paths of event logs, from :func:`list_files`.
    """
    frames = []
    for path in files:
        with filesystem.open_input_stream(path, compression="gzip") as stream:
            frame = pd.read_json(io.BytesIO(stream.read()), lines=True, dtype=False)
        frame["date"] = path.split("/date=")[1].split("/")[0]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def read_table(
    filesystem: pafs.S3FileSystem, files: Iterable[str], *, table_folder: str
) -> pa.Table:
    """A table's ``.sql`` files as one Hive-partitioned pyarrow table.

    edX's exports are tab-separated with a header row, ``NULL`` for a missing value, no quoting.

    Parameters
    ----------
    filesystem
        :func:`researcher_filesystem`.
    files
        ``bucket/key`` paths of the table's files, from :func:`list_files`.
    table_folder
        ``{bucket}/database/{table}``: where the partition levels start.
    """
    partitions = pa.schema([pa.field(name, pa.string()) for name in TABLE_PARTITIONS])
    dataset = ds.dataset(
        list(files),
        filesystem=filesystem,
        format=ds.CsvFileFormat(
            parse_options=pa_csv.ParseOptions(delimiter="\t", quote_char=False),
            convert_options=pa_csv.ConvertOptions(null_values=["NULL"], strings_can_be_null=True),
        ),
        partitioning=ds.partitioning(partitions, flavor="hive"),
        partition_base_dir=table_folder,
    )
    return dataset.to_table()
