"""The de-identify step's messages: its events, its work items and their results.

As :mod:`edx_vault.pipeline.work_items` (the other steps'): items and results forbid unknown
fields (the pipeline writes them itself), the events the state machine builds ignore them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

DEIDENTIFY_STAGE: Literal["deidentify"] = "deidentify"


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)


class DeidentifyItem(_Message):
    """One published file whose de-identified copy is due, as the plan listed it."""

    key: str
    size: int
    run_id: str


def _one_run(items: list[DeidentifyItem]) -> list[DeidentifyItem]:
    if len({item.run_id for item in items}) > 1:
        raise ValueError("the items of one batch name different runs")
    return items


class DeidentifyBatch(_Message):
    """One Map iteration's files."""

    items: Annotated[list[DeidentifyItem], Field(min_length=1), AfterValidator(_one_run)]

    @property
    def run_id(self) -> str:
        return self.items[0].run_id


class DeidentifyEvent(_Event):
    """A Map iteration's input (``{"item": batch}``, the ItemSelector's)."""

    item: DeidentifyBatch


class DeidentifyPlanEvent(_Event):
    """The plan task's input: which run."""

    run_id: str
    action: Literal["plan"]


def parse_event(event: dict[str, Any]) -> DeidentifyEvent | DeidentifyPlanEvent:
    """The function's event: the plan task's (``action: plan``) or a Map iteration's."""
    if event.get("action") == "plan":
        return DeidentifyPlanEvent.model_validate(event)
    return DeidentifyEvent.model_validate(event)


class DeidentifyResult(_Message):
    """What became of one file's copy.

    ``done``: written (with the transform's counts); ``skipped``: the original was gone when
    its turn came (the next run removes its copy); ``failed``: with ``code`` and ``reason``.
    """

    status: Literal["done", "failed", "skipped"]
    key: str
    copy_key: str
    code: str | None = None
    reason: str | None = None
    size: int | None = Field(default=None, alias="bytes")
    lines: int | None = None
    written: int | None = None
    dropped: dict[str, int] | None = None
    unknown_types: int | None = None

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    @model_validator(mode="after")
    def _failure_says_why(self) -> DeidentifyResult:
        if self.status == "failed" and not (self.code and self.reason):
            raise ValueError("a failed result must give its code and reason")
        return self

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
