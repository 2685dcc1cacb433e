"""What the deployment is told and where it finds things: the validated configuration, the
pipeline's environment, secret formats, schedule expressions, the names of deployed resources and
stack outputs, and the shared literal types (:mod:`edx_vault.settings.types`).

The bottom layer: it imports nothing else of ``edx_vault``. The Lambda side reads only
:mod:`~edx_vault.settings.types`, :mod:`~edx_vault.settings.pipeline_settings` and
:mod:`~edx_vault.settings.secret_formats` of it; :mod:`~edx_vault.settings.config` (pydantic
models of the whole config file) is for the CDK app and the CLI.
"""
