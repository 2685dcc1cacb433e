"""The run's steps, one module per state of the sync state machine: plan, mirror, collect,
decrypt, report.

A handler (``lambdas/<step>.py``) parses its event into a typed model
(:mod:`edx_vault.pipeline.work_items`) and calls its step's one entry point with a
:class:`~edx_vault.pipeline.context.RunContext`; the step does the work with the engine and the
manifest and returns its typed result. Steps do not call each other.
"""
