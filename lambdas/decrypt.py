"""Decrypt step (one Distributed Map item, a batch of units): decrypt and publish each unit."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from edx_vault.engine.gnupg_home import gpg_smoke_test
from edx_vault.pipeline import lambda_runtime, lambda_secrets
from edx_vault.pipeline.steps.decrypt import decrypt_batch
from edx_vault.pipeline.work_items import DecryptEvent

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("smoke_test") == "gpg":  # the post-deploy check in docs/gpg-layer.md
        return gpg_smoke_test()
    batch = parse(event=event, model=DecryptEvent).item
    with lambda_runtime.aws_errors_classified():
        gpg, passphrase = lambda_secrets.keyring().gpg()
        result = decrypt_batch(lambda_runtime.run_context(), gpg, passphrase, batch)
    logger.info("decrypted", extra={"first_source_key": batch.items[0].source_key, **result})
    return result
