"""IAM paths that tell the data bucket's policy who may touch objects.

The bucket policy (storage stack) cannot name roles created in later stacks without making the
stacks depend on each other, so it names paths instead: only roles under these paths, and the
admin roles from the config, may read or write objects. Every role the pipeline and the access
stack create lives under one of them.
"""

from __future__ import annotations

from typing import Final

PIPELINE_ROLE_PATH: Final = "/edx-vault/pipeline/"
RESEARCHER_ROLE_PATH: Final = "/edx-vault/researcher/"
