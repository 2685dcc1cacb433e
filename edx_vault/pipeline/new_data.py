"""The NoNewData alarm's gauge: how many days since a run last published something.

The Report step carries "when new data last arrived" from run to run in
:data:`NEW_DATA_STATE_KEY` and emits the days since as :data:`DAYS_SINCE_NEW_DATA_METRIC`.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from edx_vault.package.bucket_layout import WORK_PREFIX

# When a run last published something, kept across runs for the NoNewData alarm. In the
# pipeline's scratch space, which only the pipeline's roles may read or write.
NEW_DATA_STATE_KEY: Final = f"{WORK_PREFIX}new-data.json"
SECONDS_PER_DAY: Final = 86_400
# The metric the Report step emits with the days since new data; the NoNewData alarm reads it.
DAYS_SINCE_NEW_DATA_METRIC: Final = "DaysSinceNewData"


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
