"""Who may read what: researchers' grants turned into IAM policies, an evaluator of IAM
policies for tests and ``grants check``, the synthesized templates' policies, and the read checks
built from them.

* :mod:`~edx_vault.access.grants`: :func:`~edx_vault.access.grants.compile_grants`, the
  configuration's researchers checked (:mod:`~edx_vault.access.grant_checks`) and expanded into
  readable slices (:mod:`~edx_vault.access.readable_slices`) and the role, tags and managed
  policies that carry them (:mod:`~edx_vault.access.researcher_roles`).
* :mod:`~edx_vault.access.policy_evaluator`: AWS's decision for one request, from statements
  read by :mod:`~edx_vault.access.policy_statements`, with
  :mod:`~edx_vault.access.condition_operators` and :mod:`~edx_vault.access.iam_wildcards`.
* :mod:`~edx_vault.access.template_policies`: the policies of the synthesized templates;
  :mod:`~edx_vault.access.access_check`: may this role read this key?

May import :mod:`edx_vault.package` and :mod:`edx_vault.settings`. Nothing of it runs in Lambda.
"""
