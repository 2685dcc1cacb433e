"""Decrypt step (one Distributed Map item, a batch of units): decrypt and publish each unit."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from edx_vault.engine.gnupg_home import gpg_smoke_test
from edx_vault.pipeline import lambda_runtime
from edx_vault.pipeline.pipeline_run import decrypt_item

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("smoke_test") == "gpg":  # the post-deploy check in docs/gpg-layer.md
        return gpg_smoke_test()
    item = lambda_runtime.event_item(event)
    with lambda_runtime.aws_errors_classified():
        gpg, passphrase = lambda_runtime.keyring().gpg()
        result = decrypt_item(lambda_runtime.run_context(), gpg, passphrase, item)
    first = item["items"][0] if item.get("items") else item
    logger.info("decrypted", extra={"first_source_key": first.get("source_key"), **result})
    return result
