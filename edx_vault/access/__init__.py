"""Who may read what: researchers' grants turned into IAM policies, an evaluator of IAM
policies for tests and ``grants check``, the synthesized templates' policies, and the read checks
built from them.

May import :mod:`edx_vault.package` and :mod:`edx_vault.settings`. Nothing of it runs in Lambda.
"""
