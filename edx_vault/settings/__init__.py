"""What the deployment is told and where it finds things: the validated configuration
(``config``, ``config_researchers``, ``config_fields``), the pipeline's environment
(``pipeline_settings``), the secrets' formats (``secret_formats`` on ``secret_document``) and
their Secrets Manager store (``secret_store``), schedule expressions, the names of deployed
resources and stack outputs (``deployment``, ``stack_outputs``, ``resource_names``), and the shared
literal types (:mod:`edx_vault.settings.types`).

The bottom layer: it imports nothing else of ``edx_vault``. The Lambda side reads only
:mod:`~edx_vault.settings.types`, :mod:`~edx_vault.settings.pipeline_settings` and
:mod:`~edx_vault.settings.secret_formats` (with what it imports) of it; the ``config*`` modules
(pydantic models of the whole config file) and ``deployment`` are for the CDK app and the CLI.
"""
