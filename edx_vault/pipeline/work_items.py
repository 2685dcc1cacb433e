"""The typed messages of a run: the steps' events, their work items and their results.

Every step's input is parsed into one of these models by its handler (Powertools' parser), so a
malformed event fails at once with a validation error that names the field, instead of a
``KeyError`` deep in a step. Work items travel as JSON through the run's files
(:mod:`edx_vault.pipeline.run_files`) and the Distributed Maps; results are written back per
batch for the Report step, in the JSON :meth:`ItemResult.as_json` gives.

Work items and results forbid unknown fields: the pipeline writes them itself, so an unknown
field is a bug to report, not data to drop. The events the state machine builds ignore fields
they do not use, and so does the Report step when it reads the results back
(:class:`RecordedResult`): a run that straddles an upgrade holds another release's results.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from edx_vault.engine.decryption import DecryptUnit
from edx_vault.engine.object_copy import SourceVersion
from edx_vault.pipeline.planner import PlannedSource

Stage = Literal["mirror", "expand", "decrypt", "split"]
# The work lists Collect joins: the decrypt units of the mirror batches, or the event logs the
# decrypt batches published (or found published) for the split by course.
WorkList = Literal["decrypt", "split"]
ResultStatus = Literal["done", "failed", "skipped"]


# Each model's validator is built when it is first used, not at import (defer_build): each
# function builds only the models it uses, which is part of its cold start.
class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)


class MirrorItem(_Message):
    """One edX object to mirror, as the Plan step lists it."""

    source_bucket: str
    source_key: str
    etag: str
    size: int
    last_modified: dt.datetime
    kind: str
    org: str
    run_id: str
    retry_failed: bool = False

    @classmethod
    def of_planned(cls, planned: PlannedSource, *, run_id: str, retry_failed: bool) -> MirrorItem:
        return cls(
            source_bucket=planned.version.bucket,
            source_key=planned.version.key,
            etag=planned.version.etag,
            size=planned.version.size,
            last_modified=planned.version.last_modified,
            kind=planned.kind.value,
            org=planned.org,
            run_id=run_id,
            retry_failed=retry_failed,
        )

    @property
    def version(self) -> SourceVersion:
        return SourceVersion(
            bucket=self.source_bucket,
            key=self.source_key,
            etag=self.etag,
            size=self.size,
            last_modified=self.last_modified,
        )


class DecryptItem(_Message):
    """One unit to decrypt and publish (a whole object, or one member of a zip)."""

    source_bucket: str
    source_key: str
    etag: str
    raw_key: str
    raw_version_id: str | None = None
    raw_size: int
    member: str | None = None
    run_id: str
    retry_failed: bool = False

    @classmethod
    def of_unit(cls, unit: DecryptUnit, *, run_id: str, retry_failed: bool) -> DecryptItem:
        return cls(
            source_bucket=unit.source_bucket,
            source_key=unit.source_key,
            etag=unit.source_etag,
            raw_key=unit.raw_key,
            raw_version_id=unit.raw_version_id,
            raw_size=unit.raw_size,
            member=unit.member_name,
            run_id=run_id,
            retry_failed=retry_failed,
        )

    @property
    def unit(self) -> DecryptUnit:
        return DecryptUnit(
            source_bucket=self.source_bucket,
            source_key=self.source_key,
            source_etag=self.etag,
            raw_key=self.raw_key,
            raw_version_id=self.raw_version_id,
            raw_size=self.raw_size,
            member_name=self.member,
        )


class SplitItem(_Message):
    """One published daily event log to split by course, at the source version it came from."""

    source_bucket: str
    source_key: str
    etag: str
    # The log's size at edX (gzip, encrypted): what a batch's bytes are counted by.
    raw_size: int
    run_id: str
    retry_failed: bool = False


def _batch_of(value: Any) -> Any:
    """A single item (a work list written before batches) reads as a batch of one."""
    if isinstance(value, dict) and "items" not in value:
        return {"items": [value]}
    return value


def _map_item_of(value: Any) -> Any:
    """A Map iteration's input is ``{"item": batch}`` (the ItemSelector's); a bare batch reads the same."""
    if isinstance(value, dict) and "item" not in value:
        return {"item": value}
    return value


def _one_run(items: list[Any]) -> list[Any]:
    """A batch is never empty (the Plan and Collect steps cut them) and belongs to one run."""
    if len({item.run_id for item in items}) > 1:
        raise ValueError("the items of one batch name different runs")
    return items


class MirrorBatch(_Message):
    """One Map iteration's objects to mirror."""

    items: Annotated[list[MirrorItem], Field(min_length=1), AfterValidator(_one_run)]

    _one_item = model_validator(mode="before")(_batch_of)

    @property
    def run_id(self) -> str:
        return self.items[0].run_id


class DecryptBatch(_Message):
    """One Map iteration's units to decrypt."""

    items: Annotated[list[DecryptItem], Field(min_length=1), AfterValidator(_one_run)]

    _one_item = model_validator(mode="before")(_batch_of)

    @property
    def run_id(self) -> str:
        return self.items[0].run_id


class SplitBatch(_Message):
    """One Map iteration's event logs to split."""

    items: Annotated[list[SplitItem], Field(min_length=1), AfterValidator(_one_run)]

    _one_item = model_validator(mode="before")(_batch_of)

    @property
    def run_id(self) -> str:
        return self.items[0].run_id


class MirrorEvent(_Event):
    """The Mirror function's event: one Distributed Map iteration."""

    item: MirrorBatch

    _bare_batch = model_validator(mode="before")(_map_item_of)


class DecryptEvent(_Event):
    """The Decrypt function's event: one Distributed Map iteration."""

    item: DecryptBatch

    _bare_batch = model_validator(mode="before")(_map_item_of)


class SplitEvent(_Event):
    """The Split function's event: one Distributed Map iteration."""

    item: SplitBatch

    _bare_batch = model_validator(mode="before")(_map_item_of)


class PlanInput(_Event):
    """What an execution's input may ask of a run (``edx-vault sync --retry-failed``)."""

    retry_failed: bool = False


class PlanEvent(_Event):
    """The Plan function's event, from the execution's context object and input."""

    execution_name: str
    start_time: dt.datetime
    input: PlanInput | None = None

    @property
    def retry_failed(self) -> bool:
        return self.input is not None and self.input.retry_failed


class RunEvent(_Event):
    """The Collect, UpdateCatalog and Report functions' event: which run (and for Collect,
    which work list)."""

    run_id: str
    work_list: WorkList = "decrypt"


class ItemResult(_Message):
    """What became of one work item in one step, as the run's results files record it."""

    status: ResultStatus
    source_key: str
    stage: Stage
    member: str | None = None
    code: str | None = None
    reason: str | None = None
    why: str | None = None
    output_key: str | None = None
    # "bytes" in the results files (a builtin's name, so not the attribute's).
    size: int | None = Field(default=None, alias="bytes")
    category: str | None = None
    source_bucket: str | None = None
    etag: str | None = None
    raw_key: str | None = None
    raw_version_id: str | None = None
    # A split's counts: course files published, lines read, events that name no course, and
    # lines that are not JSON events.
    course_files: int | None = None
    lines: int | None = None
    unassigned: int | None = None
    unparsed: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The results-file form: the fields this result was given, ``bytes`` by that name."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class RecordedResult(ItemResult):
    """An :class:`ItemResult` as the Report step reads it back from a results file.

    Lenient where the steps' model is strict, so that a run that straddles an upgrade still
    reports: a field this release does not know (another release's) is ignored instead of
    failing the whole report, and a result without a ``stage`` (an older release's ``skipped``
    result) takes its folder's, ``results/{stage}/``, given as the validation context's
    ``stage``. A failed result must say why (``code`` and ``reason``): the report shows both.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _stage_of_folder(cls, value: Any, info: ValidationInfo) -> Any:
        stage = (info.context or {}).get("stage")
        if isinstance(value, dict) and "stage" not in value and stage is not None:
            return {**value, "stage": stage}
        return value

    @model_validator(mode="after")
    def _failure_says_why(self) -> RecordedResult:
        missing = [name for name in ("code", "reason") if name not in self.model_fields_set]
        if self.status == "failed" and missing:
            raise ValueError(f"a failed result must give its {' and '.join(missing)}")
        return self
