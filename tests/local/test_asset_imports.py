"""Would each handler import on Lambda? Static import resolution over the deployed assets.

Pairs on small synthetic assemblies (a code asset found through the asset manifest, layers
through ``aws:asset:path``): the compliant one passes, the one changed is reported with the
function, the file as Lambda sees it, the line and the missing module. The tests at the end
check the real vault app, synthesized with its real layers.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from edx_vault.devtools.embedded_aws.deploy.assembly import StackArtifact, read_assembly
from edx_vault.devtools.embedded_aws.deploy.asset_imports.check import (
    ImportProblem,
    function_problems,
    import_problems,
)
from edx_vault.devtools.embedded_aws.deploy.asset_imports.module_finder import stdlib_modules
from edx_vault.devtools.embedded_aws.deploy.rules.check import template_violations

STACK = "Imports-Test"
ACCOUNT = "123456789012"
REGION = "us-east-1"
Files = Mapping[str, str | bytes]


def write_tree(root: Path, files: Files) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    root.mkdir(parents=True, exist_ok=True)
    return root


def assembly(
    tmp_path: Path,
    code: Files,
    layers: Sequence[Files] = (),
    *,
    handler: str = "handler.handler",
    runtime: str = "python3.12",
    architecture: str = "x86_64",
    extra_layers: Sequence[Any] = (),
) -> dict[str, Any]:
    """A template with one function ``Fn`` (code ``code``) and its layers ``Layer0``...,
    written into ``tmp_path`` as a cloud assembly."""
    write_tree(tmp_path / "asset.code", code)
    manifest = {
        "files": {
            "code": {
                "source": {"path": "asset.code", "packaging": "zip"},
                "destinations": {"d": {"bucketName": "assets", "objectKey": "code.zip"}},
            }
        }
    }
    (tmp_path / f"{STACK}.assets.json").write_text(json.dumps(manifest))
    resources: dict[str, Any] = {}
    for index, files in enumerate(layers):
        write_tree(tmp_path / f"asset.layer{index}", files)
        resources[f"Layer{index}"] = {
            "Type": "AWS::Lambda::LayerVersion",
            "Properties": {"Content": {"S3Bucket": "assets", "S3Key": f"layer{index}.zip"}},
            "Metadata": {"aws:asset:path": f"asset.layer{index}"},
        }
    resources["Fn"] = {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Handler": handler,
            "Runtime": runtime,
            "Architectures": [architecture],
            "Role": f"arn:aws:iam::{ACCOUNT}:role/r",
            "Code": {"S3Bucket": "assets", "S3Key": "code.zip"},
            "Layers": [{"Ref": f"Layer{index}"} for index in range(len(layers))]
            + list(extra_layers),
        },
    }
    return {"Resources": resources}


def problems(
    tmp_path: Path, code: Files, layers: Sequence[Files] = (), **options: Any
) -> list[str]:
    template = assembly(tmp_path, code, layers, **options)
    return [str(problem) for problem in import_problems(template, tmp_path)]


HANDLER = "def handler(event, context):\n    return event\n"


def elf(machine: int) -> bytes:
    """The start of a little-endian 64-bit ELF shared object for ``machine``."""
    return b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HH", 3, machine) + bytes(44)


X86_64, AARCH64 = 62, 183


# --- the code root ----------------------------------------------------------------------------


def test_a_handler_importing_a_module_of_its_asset_passes(tmp_path: Path) -> None:
    # Given handler.py importing helper, and helper.py next to it
    code = {"handler.py": "import helper\n" + HANDLER, "helper.py": "X = 1\n"}
    # When checked / Then the handler loads
    assert problems(tmp_path, code) == []


def test_a_handler_importing_a_module_its_asset_lacks_is_reported(tmp_path: Path) -> None:
    # Given handler.py importing helper, with no helper in the asset
    code = {"handler.py": '"""Doc."""\n\nimport helper\n' + HANDLER}
    # When checked
    [problem] = import_problems(assembly(tmp_path, code), tmp_path)
    # Then the function, the file as Lambda sees it, the line and the module are named
    assert problem == ImportProblem(
        function="Fn",
        handler="handler.handler",
        file="/var/task/handler.py",
        line=3,
        module="helper",
        error="ModuleNotFoundError: No module named 'helper'",
    )


def test_imports_inside_functions_are_followed(tmp_path: Path) -> None:
    # Given a module the handler imports, which imports a missing module inside a function
    code = {
        "handler.py": "from helper import work\n" + HANDLER,
        "helper.py": "def work():\n    import missing_dependency\n",
    }
    # When checked / Then the nested import is reported, in the module that makes it
    [problem] = problems(tmp_path, code)
    assert "/var/task/helper.py:2: ModuleNotFoundError" in problem
    assert "'missing_dependency'" in problem


def test_a_missing_handler_module_and_a_missing_handler_function_are_reported(
    tmp_path: Path,
) -> None:
    # Given a Handler naming a module the asset lacks
    [missing] = problems(tmp_path / "a", {"other.py": HANDLER})
    # Then Lambda's error is given
    assert "Runtime.ImportModuleError: Unable to import module 'handler'" in missing
    # Given a module without the function the Handler names
    [not_found] = problems(tmp_path / "b", {"handler.py": "def other(e, c):\n    pass\n"})
    assert "Runtime.HandlerNotFound: Handler 'handler' missing on module 'handler'" in not_found


def test_relative_imports_resolve_in_a_package_and_fail_in_a_top_level_handler(
    tmp_path: Path,
) -> None:
    # Given a handler in a package, importing a sibling relatively
    package = {
        "app/__init__.py": "",
        "app/handler.py": "from . import helper\nfrom .helper import X\n" + HANDLER,
        "app/helper.py": "X = 1\n",
    }
    # Then it loads
    assert problems(tmp_path / "ok", package, handler="app.handler.handler") == []
    # Given the same import from a name the sibling does not bind
    package["app/helper.py"] = "Y = 1\n"
    [unbound] = problems(tmp_path / "unbound", package, handler="app.handler.handler")
    assert "cannot import name 'X' from 'app.helper' (/var/task/app/helper.py)" in unbound
    # Given a relative import in a top-level handler module (Lambda imports it as `handler`)
    top_level = {"handler.py": "from . import helper\n" + HANDLER, "helper.py": ""}
    # Then it is reported, as Python refuses it
    [problem] = problems(tmp_path / "top", top_level)
    assert "attempted relative import with no known parent package" in problem


# --- layers -----------------------------------------------------------------------------------


def test_a_package_in_a_layers_python_directory_is_found(tmp_path: Path) -> None:
    # Given a handler importing pkg and pkg2, from a layer's python/ and its site-packages
    code = {"handler.py": "import pkg\nimport pkg2.sub\n" + HANDLER}
    layer = {
        "python/pkg/__init__.py": "",
        "python/lib/python3.12/site-packages/pkg2/__init__.py": "",
        "python/lib/python3.12/site-packages/pkg2/sub.py": "",
    }
    # Then both are found
    assert problems(tmp_path / "with", code, [layer]) == []
    # Given the same handler without the layer / Then both are reported
    found = problems(tmp_path / "without", code)
    assert len(found) == 2
    assert "No module named 'pkg'" in found[0]
    assert "No module named 'pkg2'" in found[1]


def test_a_layer_for_another_python_version_is_not_on_the_path(tmp_path: Path) -> None:
    # Given a package only under python/lib/python3.11/site-packages
    layer = {"python/lib/python3.11/site-packages/pkg/__init__.py": ""}
    # Then a python3.12 function does not find it, a python3.11 one does
    code = {"handler.py": "import pkg\n" + HANDLER}
    assert len(problems(tmp_path / "312", code, [layer])) == 1
    assert problems(tmp_path / "311", code, [layer], runtime="python3.11") == []


def edx_vault_layer(**extra: str) -> dict[str, str]:
    """A runtime layer like the project's: edx_vault without cli and devtools."""
    return {
        "python/edx_vault/__init__.py": '"""The package."""\n',
        "python/edx_vault/engine/__init__.py": '"""The engine."""\n',
        "python/edx_vault/engine/errors.py": "class VaultError(Exception):\n    pass\n",
        **extra,
    }


def test_project_modules_the_runtime_layer_excludes_are_reported(tmp_path: Path) -> None:
    # Given handlers importing edx_vault.devtools.embedded_aws and edx_vault.cli, which the
    # layer leaves out
    code = {
        "handler.py": (
            "from edx_vault.engine.errors import VaultError\n"
            "from edx_vault.devtools.embedded_aws import deploy\n"
            "from edx_vault import cli\n" + HANDLER
        )
    }
    # When checked against that layer
    found = problems(tmp_path, code, [edx_vault_layer()])
    # Then both are reported, each with its line; the module the layer has is not
    assert found == [
        "Fn (handler.handler): /var/task/handler.py:2: ModuleNotFoundError: "
        "No module named 'edx_vault.devtools'",
        "Fn (handler.handler): /var/task/handler.py:3: ImportError: cannot import name 'cli' "
        "from 'edx_vault' (/opt/python/edx_vault/__init__.py)",
    ]


def test_project_modules_in_a_layer_are_followed(tmp_path: Path) -> None:
    # Given a project module in the layer that imports a dev-only package
    layer = edx_vault_layer(**{"python/edx_vault/helpers.py": "import moto\n"})
    code = {"handler.py": "import edx_vault.helpers\n" + HANDLER}
    # When checked
    [problem] = problems(tmp_path, code, [layer])
    # Then the layer's file is named, with the layer it comes from
    assert "/opt/python/edx_vault/helpers.py (layer Layer0):1:" in problem
    assert "No module named 'moto'" in problem


def test_third_party_packages_are_checked_but_not_followed(tmp_path: Path) -> None:
    # Given a distribution in a layer (its RECORD owns it) whose own imports are missing
    third_party = {
        "python/thirdparty/__init__.py": "import not_in_the_layer\n",
        "python/thirdparty/sub.py": "",
        "python/thirdparty-1.0.dist-info/RECORD": (
            "thirdparty/__init__.py,,\nthirdparty/sub.py,,\nthirdparty-1.0.dist-info/RECORD,,\n"
        ),
    }
    code = {"handler.py": "import thirdparty.sub\n" + HANDLER}
    # Then its inside is not followed
    assert problems(tmp_path / "owned", code, [third_party]) == []
    # But the module the handler names must exist
    code = {"handler.py": "import thirdparty.missing\n" + HANDLER}
    [problem] = problems(tmp_path / "sub", code, [third_party])
    assert "No module named 'thirdparty.missing'" in problem
    # Given the same package with no distribution owning it (a project package) / Then it is
    del third_party["python/thirdparty-1.0.dist-info/RECORD"]
    code = {"handler.py": "import thirdparty\n" + HANDLER}
    [unowned] = problems(tmp_path / "unowned", code, [third_party])
    assert "/opt/python/thirdparty/__init__.py (layer Layer0):1:" in unowned


def test_a_later_layer_replaces_an_earlier_layers_file(tmp_path: Path) -> None:
    # Given two layers with the same module, the later one's importing something missing
    first = {"python/shared.py": "X = 1\n"}
    second = {"python/shared.py": "import gone\n"}
    code = {"handler.py": "import shared\n" + HANDLER}
    # Then the later layer's file is the one checked, as /opt holds it
    [problem] = problems(tmp_path, code, [first, second])
    assert "/opt/python/shared.py (layer Layer1):1:" in problem


def test_a_layer_from_elsewhere_gives_no_import_verdict(tmp_path: Path) -> None:
    # Given a function that also uses a layer ARN (its content is unknown here)
    code = {"handler.py": "import pkg_from_elsewhere\n" + HANDLER}
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:other:1"
    # Then a missing module is not reported: the other layer may hold it
    assert problems(tmp_path, code, extra_layers=[arn]) == []


# --- what is not required ---------------------------------------------------------------------


def test_a_type_checking_import_is_not_required(tmp_path: Path) -> None:
    # Given an import only under `if TYPE_CHECKING:` (and one under typing.TYPE_CHECKING)
    code = {
        "handler.py": (
            "import typing\nfrom typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from mypy_boto3_s3 import S3Client\n"
            "if typing.TYPE_CHECKING:\n    import aws_cdk\n"
            "else:\n    import helper\n" + HANDLER
        ),
        "helper.py": "",
    }
    # Then the handler loads (the else branch runs and is found)
    assert problems(tmp_path / "ok", code) == []
    # Given the same import outside the block / Then it is required
    code["handler.py"] = "from mypy_boto3_s3 import S3Client\n" + HANDLER
    [problem] = problems(tmp_path / "required", code)
    assert "No module named 'mypy_boto3_s3'" in problem


def test_an_import_guarded_by_import_error_is_optional_and_its_fallback_required(
    tmp_path: Path,
) -> None:
    # Given `try: import ujson except ImportError: import json`
    guarded = "try:\n    import ujson\nexcept ImportError:\n    import {fallback}\n"
    code = {"handler.py": guarded.format(fallback="json") + HANDLER}
    # Then the missing ujson is not an error
    assert problems(tmp_path / "ok", code) == []
    # Given a fallback that is missing too / Then the fallback is reported
    code = {"handler.py": guarded.format(fallback="simplejson") + HANDLER}
    [problem] = problems(tmp_path / "fallback", code)
    assert "/var/task/handler.py:4:" in problem
    assert "No module named 'simplejson'" in problem


def test_main_blocks_and_other_pythons_branches_are_not_followed(tmp_path: Path) -> None:
    # Given imports only for `python -m` and only for Pythons before 3.11
    code = {
        "handler.py": (
            "import sys\n"
            "if sys.version_info >= (3, 11):\n    import tomllib\n"
            "else:\n    import tomli as tomllib\n" + HANDLER + "\n"
            "if __name__ == '__main__':\n    import argparse_extras\n"
        )
    }
    # Then neither is required
    assert problems(tmp_path, code) == []


# --- the runtime: standard library and provided packages --------------------------------------


def test_distutils_is_missing_on_python_3_12_and_present_on_3_11(tmp_path: Path) -> None:
    # Given a handler importing distutils (removed in Python 3.12)
    code = {"handler.py": "import distutils.util\n" + HANDLER}
    # Then a python3.12 function cannot load it, a python3.11 one can
    [problem] = problems(tmp_path / "312", code)
    assert "No module named 'distutils'" in problem
    assert problems(tmp_path / "311", code, runtime="python3.11") == []


def test_the_standard_library_of_each_version() -> None:
    # Given the modules removed in 3.12 and 3.13 (What's New In Python 3.12 and 3.13)
    removed_in_312 = {"asynchat", "asyncore", "distutils", "imp", "smtpd"}
    # Then 3.11 has them, 3.12 does not; 3.12 still has 3.13's removals; no Windows modules
    assert removed_in_312 <= stdlib_modules((3, 11))
    assert not removed_in_312 & stdlib_modules((3, 12))
    assert {"cgi", "telnetlib", "json", "tomllib"} <= stdlib_modules((3, 12))
    assert "cgi" not in stdlib_modules((3, 13))
    assert "winreg" not in stdlib_modules((3, 12))


def test_the_runtimes_sdk_is_provided(tmp_path: Path) -> None:
    # Given a handler importing boto3 and botocore with no layer
    code = {"handler.py": "import boto3\nfrom botocore.config import Config\n" + HANDLER}
    # Then the runtime provides them
    assert problems(tmp_path, code) == []


# --- compiled extension modules ---------------------------------------------------------------


def extension_layer(name: str, content: bytes) -> dict[str, str | bytes]:
    return {"python/fast/__init__.py": "from . import _speedups\n", f"python/fast/{name}": content}


CODE_IMPORTING_FAST = {"handler.py": "import fast\n" + HANDLER}


def test_an_extension_for_cpython_312_on_x86_64_passes(tmp_path: Path) -> None:
    # Given _speedups built for CPython 3.12 on x86_64, and an abi3 one
    tagged = extension_layer("_speedups.cpython-312-x86_64-linux-gnu.so", elf(X86_64))
    stable = extension_layer("_speedups.abi3.so", elf(X86_64))
    # Then both load
    assert problems(tmp_path / "tagged", CODE_IMPORTING_FAST, [tagged]) == []
    assert problems(tmp_path / "abi3", CODE_IMPORTING_FAST, [stable]) == []


def test_an_extension_for_cpython_311_is_reported(tmp_path: Path) -> None:
    # Given the same extension built for CPython 3.11
    layer = extension_layer("_speedups.cpython-311-x86_64-linux-gnu.so", elf(X86_64))
    # When checked
    found = problems(tmp_path, CODE_IMPORTING_FAST, [layer])
    # Then the file is reported, and the import that needs it cannot find a module
    assert len(found) == 2
    assert "_speedups.cpython-311-x86_64-linux-gnu.so (layer Layer0)" in found[0]
    assert "extension module tagged cpython-311-x86_64-linux-gnu" in found[0]
    assert "/opt/python/fast/__init__.py (layer Layer0):1:" in found[1]
    assert "cannot import name '_speedups' from 'fast'" in found[1]


def test_an_extension_for_another_architecture_is_reported(tmp_path: Path) -> None:
    # Given an untagged extension built for x86_64, in an arm64 function
    layer = extension_layer("_speedups.so", elf(X86_64))
    # Then its machine is named
    [problem] = problems(tmp_path / "arm", CODE_IMPORTING_FAST, [layer], architecture="arm64")
    assert "extension module built for x86_64: the function runs on arm64" in problem
    # Given the aarch64 build / Then it passes
    layer = extension_layer("_speedups.so", elf(AARCH64))
    assert problems(tmp_path / "ok", CODE_IMPORTING_FAST, [layer], architecture="arm64") == []


# --- one function from directories, and the deploy-time rule ----------------------------------


def test_function_problems_checks_directories_without_a_template(tmp_path: Path) -> None:
    # Given a code directory and a layer directory
    code = write_tree(tmp_path / "code", {"handler.py": "import pkg\nimport nope\n" + HANDLER})
    layer = write_tree(tmp_path / "layer", {"python/pkg/__init__.py": ""})
    # When checked / Then only the module neither holds is reported
    [problem] = function_problems(code, [layer], handler="handler.handler")
    assert problem.module == "nope"
    assert problem.line == 2


def test_deploy_refuses_a_function_that_would_not_import(tmp_path: Path) -> None:
    # Given a template whose handler imports a module its assets lack
    template = assembly(tmp_path, {"handler.py": "import moto\n" + HANDLER})
    # When the deploy-time rules are checked with the assembly
    [violation] = template_violations(
        template, stack_name=STACK, account=ACCOUNT, region=REGION, assembly_dir=tmp_path
    )
    # Then the function, its handler, the file and line, and Lambda's error are named
    assert str(violation) == (
        "Fn (AWS::Lambda::Function) Handler = handler.handler (/var/task/handler.py:1): "
        "Lambda would fail to load it: ModuleNotFoundError: No module named 'moto'"
    )
    # And without the assembly the rule is not applied (nothing to look at)
    assert template_violations(template, stack_name=STACK, account=ACCOUNT, region=REGION) == []


# --- the vault app, with its real layers ------------------------------------------------------


def pipeline(vault_assembly: Path) -> StackArtifact:
    [stack] = [s for s in read_assembly(vault_assembly).stacks if s.name.endswith("-Pipeline")]
    return stack


@pytest.mark.slow
def test_every_pipeline_handler_imports_from_its_asset_and_layers(vault_assembly: Path) -> None:
    # Given the vault app synthesized with its real layers
    template = pipeline(vault_assembly).template_document()
    handlers = sorted(
        resource["Properties"]["Handler"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and str(resource["Properties"].get("Runtime", "")).startswith("python")
    )
    assert handlers == [
        "catalog.handler",
        "collect.handler",
        "decrypt.handler",
        "deidentify.handler",
        "mirror.handler",
        "plan.handler",
        "report.handler",
        "split.handler",
    ]
    # When every function's imports are resolved
    started = time.perf_counter()
    found = import_problems(template, vault_assembly)
    elapsed = time.perf_counter() - started
    # Then every handler loads, and the check takes seconds at most
    assert [str(problem) for problem in found] == []
    assert elapsed < 10


def link_or_copy(source: str, destination: str) -> None:
    """Hard-link a file of the session's assembly (fast); copy it across file systems."""
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


@pytest.mark.slow
def test_a_dev_only_import_injected_into_a_handler_is_reported(
    vault_assembly: Path, tmp_path: Path
) -> None:
    # Given a copy of the vault's assembly in which plan.py also imports moto
    copy = tmp_path / "cdk.out"
    shutil.copytree(vault_assembly, copy, symlinks=True, copy_function=link_or_copy)
    stack = pipeline(copy)
    template = stack.template_document()
    [plan] = [
        resource
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"]["Handler"] == "plan.handler"
    ]
    key = plan["Properties"]["Code"]["S3Key"]
    [code_dir] = [path for path in copy.glob("asset.*") if key.startswith(path.name[6:])]
    source = (code_dir / "plan.py").read_text(encoding="utf-8")
    lines = source.splitlines(keepends=True)
    # (after its first import but `from __future__`, which must come first)
    at = next(
        n
        for n, line in enumerate(lines)
        if line.startswith(("import ", "from ")) and "__future__" not in line
    )
    (code_dir / "plan.py").unlink()  # a link to the session's assembly: replace, never edit
    (code_dir / "plan.py").write_text(
        "".join([*lines[: at + 1], "import moto\n", *lines[at + 1 :]])
    )
    # When checked
    found = import_problems(template, copy)
    # Then the plan function, the line and the dev-only module are reported; only the Plan
    # function is (every function shares the asset, but only plan.handler imports plan)
    assert [(p.handler, p.file, p.line, p.module) for p in found] == [
        ("plan.handler", "/var/task/plan.py", at + 2, "moto")
    ]
    # And deploy refuses it
    violations = template_violations(
        template,
        stack_name=stack.name,
        account=stack.account,
        region=stack.region,
        assembly_dir=copy,
    )
    assert [v.logical_id for v in violations] == [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource.get("Properties", {}).get("Handler") == "plan.handler"
    ]
    assert "No module named 'moto'" in str(violations[0])


def test_a_module_made_at_run_time_is_assumed_and_a_plain_module_is_not_a_package(
    tmp_path: Path,
) -> None:
    # Given a layer module that puts a submodule in sys.modules (as six does for six.moves)
    layer = {
        "python/compat.py": "import sys, types\nsys.modules['compat.moves'] = types.ModuleType('m')\n"
    }
    code = {"handler.py": "from compat.moves import urllib\n" + HANDLER}
    # Then importing that submodule is not an error
    assert problems(tmp_path / "made", code, [layer]) == []
    # Given a plain module / Then it is not a package, as Python says
    [problem] = problems(tmp_path / "plain", code, [{"python/compat.py": "X = 1\n"}])
    assert "No module named 'compat.moves'; 'compat' is not a package" in problem
