"""Lambda functions: the quotas CreateFunction enforces, and whether Python functions load.

Memory, timeout, the environment variables' size, the number of layers, and the unzipped size
of the code and the layers, measured from the assembly's asset files; and, for Python functions,
the handler's imports resolved on the deployed code
(:mod:`edx_vault.devtools.embedded_aws.deploy.asset_imports`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from edx_vault.devtools.embedded_aws.deploy.asset_imports.check import import_problems
from edx_vault.devtools.embedded_aws.deploy.assets import (
    FUNCTION_TYPE,
    asset_source,
    asset_sources,
    layer_sources,
    unzipped_size,
)
from edx_vault.devtools.embedded_aws.deploy.rules.template_values import TemplateContext
from edx_vault.devtools.embedded_aws.deploy.rules.violation import Violation

# Lambda Developer Guide, "Lambda quotas", function configuration, deployment and execution:
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
LAMBDA_MEMORY_MIN: Final = 128
LAMBDA_MEMORY_MAX: Final = 10_240
LAMBDA_TIMEOUT_MIN: Final = 1
LAMBDA_TIMEOUT_MAX: Final = 900
# "4 KB, for all environment variables associated with the function, in aggregate". Lambda
# measures the variables as one compact JSON object: its refusal quotes "String measured: {...}".
LAMBDA_ENVIRONMENT_MAX_BYTES: Final = 4_096
LAMBDA_LAYERS_MAX: Final = 5
# "250 MB (unzipped)... This quota applies to all the files you upload, including layers";
# GetAccountSettings reports it as CodeSizeUnzipped = 262144000 bytes.
LAMBDA_UNZIPPED_MAX_BYTES: Final = 262_144_000
# The numeric properties with a range: (property, minimum, maximum, the rule).
_RANGES: Final = (
    (
        "MemorySize",
        LAMBDA_MEMORY_MIN,
        LAMBDA_MEMORY_MAX,
        "Lambda: function memory allocation is 128 MB to 10,240 MB, in 1-MB increments",
    ),
    (
        "Timeout",
        LAMBDA_TIMEOUT_MIN,
        LAMBDA_TIMEOUT_MAX,
        "Lambda: function timeout is 1 to 900 seconds (15 minutes)",
    ),
)


def environment_size(variables: Mapping[str, Any], context: TemplateContext | None = None) -> int:
    """The variables' size as Lambda measures it: one compact JSON object, in bytes.

    A value only the deployment knows (an import from another stack) counts as empty, so the
    size is a lower bound: what exceeds the limit here exceeds it on AWS.
    """
    known = {
        str(name): (context.literal(value) if context else value) or ""
        for name, value in variables.items()
    }
    return len(json.dumps(known, separators=(",", ":"), ensure_ascii=False).encode())


class _AssetSizes:
    """Unzipped sizes of the template's code assets, from the assembly's files."""

    def __init__(self, context: TemplateContext) -> None:
        self._context = context
        self._by_key = asset_sources(context.assembly_dir) if context.assembly_dir else {}
        self._sizes: dict[Path, int] = {}

    def _size(self, source: Path | None) -> int | None:
        if source is None:
            return None
        if source not in self._sizes:
            self._sizes[source] = unzipped_size(source)
        return self._sizes[source]

    def code_and_layers(self, logical_id: str, properties: Mapping[str, Any]) -> int | None:
        """The unzipped bytes of a function's code and the layers of this template it uses (a
        lower bound when a layer comes from elsewhere); ``None`` when the code is not found."""
        directory = self._context.assembly_dir
        if directory is None:
            return None
        literal = self._context.literal
        resource = self._context.resource(logical_id) or {}
        code = self._size(
            asset_source(directory, resource, properties.get("Code"), self._by_key, literal)
        )
        if code is None:
            return None
        resources = self._context.template.get("Resources", {})
        layers = layer_sources(
            directory, resources, properties.get("Layers"), self._by_key, literal
        )
        return code + sum(self._size(source) or 0 for _, source in layers)


def lambda_violations(context: TemplateContext) -> Iterator[Violation]:
    sizes = _AssetSizes(context)
    for logical_id, kind, properties in context.resources(FUNCTION_TYPE):
        for name, minimum, maximum, rule in _RANGES:
            value = context.number(properties.get(name))
            if value is not None and not minimum <= value <= maximum:
                yield Violation(logical_id, kind, name, str(value), rule)
        variables = (properties.get("Environment") or {}).get("Variables") or {}
        if isinstance(variables, Mapping):
            size = environment_size(variables, context)
            if size > LAMBDA_ENVIRONMENT_MAX_BYTES:
                yield Violation(
                    logical_id,
                    kind,
                    "Environment.Variables",
                    f"at least {size:,} bytes as JSON",
                    "Lambda: function environment variables are at most 4 KB (4,096 bytes), "
                    "for all environment variables associated with the function, in aggregate",
                )
        layers = properties.get("Layers") or []
        if isinstance(layers, list) and len(layers) > LAMBDA_LAYERS_MAX:
            yield Violation(
                logical_id,
                kind,
                "Layers",
                f"{len(layers)} layers",
                "Lambda: a function can use at most 5 layers",
            )
        total = sizes.code_and_layers(logical_id, properties)
        if total is not None and total > LAMBDA_UNZIPPED_MAX_BYTES:
            yield Violation(
                logical_id,
                kind,
                "Code + Layers",
                f"{total:,} bytes unzipped",
                "Lambda: the deployment package is at most 250 MB (262,144,000 bytes) "
                "unzipped, including layers",
            )


def import_violations(context: TemplateContext) -> Iterator[Violation]:
    """Python functions that would fail to load: see :mod:`asset_imports` (needs the assets)."""
    if context.assembly_dir is None:
        return
    for problem in import_problems(context.template, context.assembly_dir, literal=context.literal):
        yield Violation(
            problem.function,
            FUNCTION_TYPE,
            "Handler",
            f"{problem.handler} ({problem.where})",
            f"Lambda would fail to load it: {problem.error}",
        )
