"""The recipes docs/researchers.md gives researchers, as code the tests and ``make demo`` run.

A researcher holds their role's session (``aws sts assume-role``) and reads with pandas or
pyarrow straight from S3: no copy on a laptop's disk. Two points every recipe follows:

* **List, then read.** Handing pyarrow a folder makes it HeadObject the folder's name first,
  and S3 answers 403 for a key that does not exist to a caller whose ``s3:ListBucket`` is
  limited by ``s3:prefix``, as a researcher's is ("If the object you request doesn't exist, the
  error that Amazon S3 returns depends on whether you also have the s3:ListBucket permission",
  HeadObject in the S3 API reference). So the files are listed first (ListObjectsV2 under the
  granted folder) and read by name.
* **Events with pandas, tables with pyarrow.** edX types some event fields differently from one
  event to the next (``event`` is an object in server events and a JSON string in browser
  events), which pyarrow's JSON reader refuses and pandas keeps as Python objects. The weekly
  export's ``.sql`` tables are uniform TSV with a header row: a Hive-partitioned pyarrow dataset.

pyarrow and pandas are development dependencies (``make setup``); nothing here runs in Lambda.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

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


def list_files(filesystem: pafs.S3FileSystem, folder: str) -> list[str]:
    """Every file under ``bucket/prefix`` (listed, never probed; see the module docstring)."""
    selector = pafs.FileSelector(folder, recursive=True)
    return sorted(info.path for info in filesystem.get_file_info(selector) if info.is_file)


def read_events(filesystem: pafs.S3FileSystem, folder: str) -> pd.DataFrame:
    """A folder of event logs (gzip JSON lines) as one DataFrame, with its ``date`` partition.

    Parameters
    ----------
    filesystem
        :func:`researcher_filesystem`.
    folder
        ``{bucket}/events-by-course/org=.../site=.../course=...`` (or a deeper ``date=`` folder).
    """
    frames = []
    for path in list_files(filesystem, folder):
        with filesystem.open_input_stream(path, compression="gzip") as stream:
            frame = pd.read_json(io.BytesIO(stream.read()), lines=True, dtype=False)
        frame["date"] = path.split("/date=")[1].split("/")[0]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def read_table(filesystem: pafs.S3FileSystem, folder: str, *, table_folder: str) -> pa.Table:
    """The ``.sql`` files under ``folder`` as one Hive-partitioned pyarrow table.

    edX's exports are tab-separated with a header row, ``NULL`` for a missing value, no quoting.

    Parameters
    ----------
    filesystem
        :func:`researcher_filesystem`.
    folder
        A granted folder of the table, e.g. ``{bucket}/database/{table}/org=.../site=.../course=...``.
    table_folder
        ``{bucket}/database/{table}``: where the partition levels start.
    """
    partitions = pa.schema([pa.field(name, pa.string()) for name in TABLE_PARTITIONS])
    dataset = ds.dataset(
        list_files(filesystem, folder),
        filesystem=filesystem,
        format=ds.CsvFileFormat(
            parse_options=pa_csv.ParseOptions(delimiter="\t", quote_char=False),
            convert_options=pa_csv.ConvertOptions(null_values=["NULL"], strings_can_be_null=True),
        ),
        partitioning=ds.partitioning(partitions, flavor="hive"),
        partition_base_dir=table_folder,
    )
    return dataset.to_table()
