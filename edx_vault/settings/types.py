"""The literal types shared by the configuration, the package model and the pipeline.

Kept apart from :mod:`edx_vault.settings.config` so that code running in Lambda can name a site
or a category without importing pydantic and building the configuration's models.
"""

from __future__ import annotations

from typing import Literal

# What edX calls its sites: "edx" is edx.org (the docs also say "prod"), "edge" is edge.edx.org.
Site = Literal["edx", "edge"]
# The package's top-level categories, as the mirror knows them (see ../shared/edx-data-package.md).
MirrorCategory = Literal["events", "database", "email-opt-in", "rdx"]
# What a researcher grant may name; finer than MirrorCategory because a database export holds
# tables of very different sensitivity.
GrantCategory = Literal[
    "events", "database", "forums", "ora", "course-structure", "course-export", "email-opt-in"
]

__all__ = ["GrantCategory", "MirrorCategory", "Site"]
