"""What every pipeline Lambda sets up once per sandbox: its settings and AWS clients.

Handlers stay thin: they parse their event (:mod:`edx_vault.pipeline.work_items`), call
:func:`run_context` (and, for the functions that need a secret,
:mod:`edx_vault.pipeline.lambda_secrets`), then their step (:mod:`edx_vault.pipeline.steps`).
This is the one module on the Lambda side that reads the environment (through
:meth:`PipelineSettings.from_environment`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager

import boto3

from edx_vault.engine.errors import (
    TransientError,
    as_transient,
    is_transient,
)
from edx_vault.pipeline.context import RunContext
from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.run_liveness import RunLiveness
from edx_vault.settings.pipeline_settings import PipelineSettings


@functools.cache
def settings() -> PipelineSettings:
    return PipelineSettings.from_environment(os.environ)


@functools.cache
def run_context() -> RunContext:
    current = settings()
    table = boto3.resource("dynamodb").Table(current.manifest_table)
    liveness = None
    if current.sync_state_machine_arn:
        stepfunctions = boto3.client("stepfunctions")
        liveness = RunLiveness(stepfunctions, current.sync_state_machine_arn).has_ended
    return RunContext(
        settings=current,
        vault_s3=boto3.client("s3"),
        manifest=Manifest(table),
        run_has_ended=liveness,
    )


def end_sandbox() -> None:
    """Forget the settings and clients this sandbox set up; for tests and local runs."""
    for cached in (settings, run_context):
        cached.cache_clear()


@contextmanager
def aws_errors_classified() -> Iterator[None]:
    """Turn errors that clear up by themselves into exactly :class:`TransientError`.

    Which errors those are is :func:`edx_vault.engine.errors.is_transient`'s call. Lambda names
    the error by its class, and the state machine retries only ``TransientError``, so a subclass
    (:class:`~edx_vault.engine.errors.ShortReadError`) is re-raised as the plain class too. Every
    other error passes through unchanged, and is not retried.
    """
    try:
        yield
    except Exception as error:
        if type(error) is not TransientError and is_transient(error):
            raise as_transient(error) from error
        raise
