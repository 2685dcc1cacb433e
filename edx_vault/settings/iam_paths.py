"""The IAM paths the vault's roles live under.

Every role the pipeline and the access stack create lives under one of them, with a fixed name
(``edx_vault.settings.resource_names.pipeline_role_name``,
``edx_vault.access.researcher_roles.role_name_for``). The storage stack's bucket and key policies
name each role by its exact ARN, path included (``stacks/vault_boundary.py``): a path alone
grants nothing, since anyone allowed to create roles could create one under it. The policies
still use the researcher path in the Deny statements that keep researcher roles read-only, where
matching more roles only refuses more.
"""

from __future__ import annotations

from typing import Final

PIPELINE_ROLE_PATH: Final = "/edx-vault/pipeline/"
RESEARCHER_ROLE_PATH: Final = "/edx-vault/researcher/"
