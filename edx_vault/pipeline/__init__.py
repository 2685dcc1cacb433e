"""One sync run: the plan, the mirror, collect, decrypt and report steps that the state
machine drives, the manifest that makes them idempotent, the run's scratch files, the report and
its accounting, and the Lambda runtime that builds clients and reads secrets once per sandbox.

May import :mod:`edx_vault.engine`, :mod:`edx_vault.package` and :mod:`edx_vault.settings`;
never :mod:`edx_vault.access`, :mod:`edx_vault.cli` or :mod:`edx_vault.devtools`.
"""
