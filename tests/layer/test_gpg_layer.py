"""The Lambda layers as ``cdk synth`` builds them, checked against what Lambda will do with them.

- Every ELF needs at most glibc 2.34 (Amazon Linux 2023) and nothing private to glibc.
- The layer's gpg runs in an isolated root holding only glibc and the layer at /opt, as a
  non-root user, with Lambda's PATH and LD_LIBRARY_PATH, and with decoy libraries of the same
  names in /usr/lib64 (which LD_LIBRARY_PATH searches before /opt/lib): it generates a key,
  encrypts, decrypts through loopback pinentry, and its agent is started from /opt and killed.
- The zipped sizes are reported.
- The asset hash follows the built files; the runtime layer rebuilds offline, identically; the
  local bundler declines (for Docker) where it cannot build a working layer.

The layers are built once per session, through the CDK local bundlers (no Docker). The isolated
root needs root (as CI runs); those tests are skipped otherwise.
"""

from __future__ import annotations

import filecmp
import os
import posixpath
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from edx_vault.engine.gnupg_config import write_gnupg_config
from layers.gpg import bundle as gpg_bundle
from layers.python_runtime import bundle as runtime_bundle
from stacks import lambda_layers
from stacks.lambda_layers import PROJECT_ROOT, GpgLocalBundling, LambdaLayers, host_architecture

# What Lambda's Python runtimes set; note /opt/bin last and /opt/lib after the system's.
LAMBDA_ENV = {
    "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    "LD_LIBRARY_PATH": (
        "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:"
        "/opt/lib"
    ),
}
# Lambda runs functions as an unprivileged user (sbx_user1051); /opt is not writable for it.
LAMBDA_UID = 993
LAMBDA_GID = 990
LAMBDA_GLIBC = (2, 34)
TARGET_ZIPPED_BYTES = 10 * 1024 * 1024
# Lambda's limit for a function and all its layers, unzipped.
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024
STACK_NAME = "LayersUnderTest"
PASSPHRASE = b"layer test passphrase"
PLAINTEXT = b"course_id,enrolled\ncourse-v1:ExampleX+Demo+2024,1234\n"
RECIPIENT = "layer-test@example.invalid"


@dataclass(frozen=True)
class SynthesizedLayers:
    construct: LambdaLayers
    template: Mapping[str, Any]
    gpg_dir: Path
    runtime_dir: Path


def synthesize_layers(outdir: Path) -> SynthesizedLayers:
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, STACK_NAME)
    construct = LambdaLayers(stack, "Layers")
    assembly = app.synth()
    template = assembly.get_stack_by_name(STACK_NAME).template

    def asset_dir(logical_id_prefix: str) -> Path:
        (key,) = [
            resource["Properties"]["Content"]["S3Key"]
            for logical_id, resource in template["Resources"].items()
            if logical_id.startswith(logical_id_prefix)
        ]
        return outdir / f"asset.{key.removesuffix('.zip')}"

    return SynthesizedLayers(
        construct=construct,
        template=template,
        gpg_dir=asset_dir("LayersGpg"),
        runtime_dir=asset_dir("LayersRuntime"),
    )


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedLayers:
    # If a local bundler declined, CDK would try Docker, which this machine lacks: synth raises.
    return synthesize_layers(tmp_path_factory.mktemp("cdk.out"))


def is_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"\x7fELF"


def elf_files(root: Path) -> list[Path]:
    return [p for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink() and is_elf(p)]


def objdump_private_headers(elf: Path) -> str:
    # objdump rather than the bundler's own readelf parsing: an independent reading.
    return subprocess.run(
        ["objdump", "-p", str(elf)], check=True, capture_output=True, text=True
    ).stdout


def glibc_references(elf: Path) -> set[str]:
    headers = objdump_private_headers(elf)
    references = headers.partition("Version References:")[2]
    return set(re.findall(r"^\s+0x[0-9a-f]+ 0x[0-9a-f]+ \d+ (GLIBC_\S+)$", references, re.M))


def needed_libraries(elf: Path) -> set[str]:
    return set(re.findall(r"^\s+NEEDED\s+(\S+)$", objdump_private_headers(elf), re.M))


def unsupported_on_lambda(references: set[str]) -> set[str]:
    """References a glibc 2.34 cannot satisfy: newer releases, GLIBC_PRIVATE, ABI markers."""
    unsupported = set()
    for reference in references:
        match = re.fullmatch(r"GLIBC_(\d+)\.(\d+)(?:\.\d+)?", reference)
        if match is None or (int(match[1]), int(match[2])) > LAMBDA_GLIBC:
            unsupported.add(reference)
    return unsupported


def host_library(soname: str) -> Path:
    listing = subprocess.run(
        ["ldd", shutil.which("gpg") or "/usr/bin/gpg"], check=True, capture_output=True, text=True
    ).stdout
    match = re.search(rf"^\s*{re.escape(soname)} => (\S+)", listing, re.M)
    assert match, f"{soname} not in gpg's ldd output:\n{listing}"
    return Path(match[1])


def zipped_size(root: Path, archive: Path) -> int:
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for path in sorted(root.rglob("*")):
            out.write(path, path.relative_to(root))
    return archive.stat().st_size


def tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def differences(comparison: filecmp.dircmp[str]) -> list[str]:
    found = [*comparison.left_only, *comparison.right_only, *comparison.diff_files]
    for sub in comparison.subdirs.values():
        found.extend(differences(sub))
    return found


# --- What synth produces -----------------------------------------------------------------


@pytest.mark.slow
def test_gpg_layer_holds_the_tools_their_libraries_and_gpgconf_ctl(
    synthesized: SynthesizedLayers,
) -> None:
    # Given the gpg layer as synth built it
    layer = synthesized.gpg_dir
    bundled = {p.name for p in (layer / "lib").iterdir()}
    # Then bin/ has the four tools and gpgconf.ctl pointing at /opt, lib/ has no glibc, and every
    # library any ELF needs is either glibc's (the runtime's) or in lib/
    assert {p.name for p in (layer / "bin").iterdir()} == {*gpg_bundle.TOOLS, "gpgconf.ctl"}
    assert (layer / "bin" / "gpgconf.ctl").read_text(encoding="utf-8") == "rootdir=/opt\n"
    assert "libgcrypt.so.20" in bundled
    assert not bundled & gpg_bundle.GLIBC_SONAMES
    for elf in elf_files(layer):
        missing = needed_libraries(elf) - gpg_bundle.GLIBC_SONAMES - bundled
        assert not missing, f"{elf.name} needs {missing}, which the layer lacks"


@pytest.mark.slow
def test_every_elf_in_the_gpg_layer_has_an_rpath_into_the_layer(
    synthesized: SynthesizedLayers,
) -> None:
    # Given the gpg layer's ELFs
    for elf in elf_files(synthesized.gpg_dir):
        # When their dynamic section is read
        headers = objdump_private_headers(elf)
        # Then each has DT_RPATH (searched before LD_LIBRARY_PATH), never DT_RUNPATH (after it)
        expected = "$ORIGIN/../lib" if elf.parent.name == "bin" else "$ORIGIN"
        assert re.search(rf"^\s+RPATH\s+{re.escape(expected)}$", headers, re.M), elf.name
        assert "RUNPATH" not in headers, elf.name


def test_the_glibc_check_flags_what_lambda_lacks() -> None:
    # Given glibc's own libm from this machine (it needs GLIBC_PRIVATE and this glibc's newest)
    libm = host_library("libm.so.6")
    # When the test's check and the bundler's check read it
    flagged = unsupported_on_lambda(glibc_references(libm))
    # Then both refuse it, so a layer ELF with such needs could not pass either
    assert "GLIBC_PRIVATE" in flagged
    with pytest.raises(gpg_bundle.LayerBuildError, match="GLIBC_PRIVATE"):
        gpg_bundle.check_glibc_compatibility([libm])


@pytest.mark.slow
@pytest.mark.parametrize("layer", ["gpg", "runtime"])
def test_no_elf_needs_more_than_lambdas_glibc(synthesized: SynthesizedLayers, layer: str) -> None:
    # Given every ELF in the layer (gpg's tools and libraries; pydantic-core's extension)
    root = synthesized.gpg_dir if layer == "gpg" else synthesized.runtime_dir
    elves = elf_files(root)
    assert elves, f"no ELF found in the {layer} layer"
    # When their glibc version references are read
    references = {elf.name: glibc_references(elf) for elf in elves}
    # Then none needs a version above 2.34, GLIBC_PRIVATE or any other glibc-only marker
    assert any(references.values()), "no glibc references read at all: the check is blind"
    unsupported = {name: unsupported_on_lambda(refs) for name, refs in references.items()}
    assert not {name: refs for name, refs in unsupported.items() if refs}


@pytest.mark.slow
def test_layer_sizes_are_reported_and_within_target(
    synthesized: SynthesizedLayers,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    record_property: Any,
) -> None:
    # Given both layers
    # When they are zipped as CDK uploads them
    gpg_unzipped = tree_size(synthesized.gpg_dir)
    gpg_zipped = zipped_size(synthesized.gpg_dir, tmp_path / "gpg.zip")
    runtime_unzipped = tree_size(synthesized.runtime_dir)
    runtime_zipped = zipped_size(synthesized.runtime_dir, tmp_path / "runtime.zip")
    record_property("gpg_layer_zipped_bytes", gpg_zipped)
    record_property("runtime_layer_zipped_bytes", runtime_zipped)
    with capsys.disabled():
        print(
            f"\ngpg layer: {gpg_zipped / 2**20:.2f} MiB zipped, "
            f"{gpg_unzipped / 2**20:.2f} MiB unzipped (target: under 10 MiB zipped)"
            f"\nruntime layer: {runtime_zipped / 2**20:.2f} MiB zipped, "
            f"{runtime_unzipped / 2**20:.2f} MiB unzipped"
        )
    # Then the gpg layer is under its target and both leave room in Lambda's 250 MB
    assert gpg_zipped < TARGET_ZIPPED_BYTES
    assert gpg_unzipped + runtime_unzipped < LAMBDA_UNZIPPED_LIMIT_BYTES // 2


@pytest.mark.slow
def test_runtime_layer_holds_edx_vault_without_cli_devtools_and_with_lambda_wheels(
    synthesized: SynthesizedLayers,
) -> None:
    # Given the runtime layer as synth built it
    site = synthesized.runtime_dir / "python"
    names = {p.name for p in site.iterdir()}
    # Then it has the package (not its CLI nor the developer tools) and the dependencies, the AWS
    # SDK among them (its versions: test_runtime_layer.py), built for Lambda's Python and CPU
    assert (site / "edx_vault" / "engine" / "gnupg_home.py").is_file()
    assert (site / "edx_vault" / "pipeline" / "lambda_runtime.py").is_file()
    assert not list((site / "edx_vault").glob("cli*"))
    assert not list((site / "edx_vault").rglob("devtools*"))
    assert not list((site / "edx_vault").rglob("*synthetic*"))
    assert {"gnupg.py", "aws_lambda_powertools", "pydantic", "pydantic_core"} <= names
    assert {"boto3", "botocore", "s3transfer"} <= names
    assert "bin" not in names
    extensions = [p.name for p in (site / "pydantic_core").glob("*.so")]
    assert extensions == ["_pydantic_core.cpython-312-x86_64-linux-gnu.so"]


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="cutting the network (unshare --net) needs root")
def test_runtime_layer_builds_offline_and_identically_from_the_wheelhouse(
    synthesized: SynthesizedLayers, tmp_path: Path
) -> None:
    # Given the wheelhouse the session's synth filled
    # When the runtime layer is built again in a network namespace with no network
    rebuilt = subprocess.run(
        [
            "unshare", "--net", sys.executable, str(runtime_bundle.__file__),
            str(tmp_path / "layer"), "--project-root", str(PROJECT_ROOT),
        ],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    # Then it succeeds (`cdk synth` needs no network) with exactly the files synth produced
    assert rebuilt.returncode == 0, rebuilt.stderr
    comparison = filecmp.dircmp(synthesized.runtime_dir, tmp_path / "layer")
    assert not differences(comparison)


@pytest.mark.slow
def test_layers_declare_the_architecture_and_runtime_the_functions_use(
    synthesized: SynthesizedLayers,
) -> None:
    # Given the synthesized template and the construct
    construct = synthesized.construct
    layers = [
        resource["Properties"]
        for resource in synthesized.template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::LayerVersion"
    ]
    # Then both layers are for exactly the construct's architecture and runtime
    assert len(layers) == 2
    for properties in layers:
        assert properties["CompatibleArchitectures"] == [construct.architecture.name]
        assert properties["CompatibleRuntimes"] == [construct.runtime.name]
    assert construct.architecture.name == "x86_64"
    assert construct.runtime.name == "python3.12"


@pytest.mark.slow
def test_a_changed_binary_changes_the_asset_hash(
    synthesized: SynthesizedLayers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a gpg build that differs by one byte (a security update, say), sources unchanged
    build = gpg_bundle.assemble_gpg_layer

    def updated_build(output_dir: Path) -> gpg_bundle.GpgLayer:
        layer = build(output_dir)
        with (output_dir / "bin" / "gpg").open("ab") as binary:
            binary.write(b"\0")
        return layer

    monkeypatch.setattr(gpg_bundle, "assemble_gpg_layer", updated_build)
    monkeypatch.setattr(
        lambda_layers,
        "_local_builds",
        {k: v for k, v in lambda_layers._local_builds.items() if k[0] != "gpg"},
    )
    # When the app is synthesized again
    again = synthesize_layers(tmp_path / "cdk.out")
    # Then the gpg layer gets a new hash (a new upload and layer version); the other does not
    assert again.gpg_dir.name != synthesized.gpg_dir.name
    assert again.runtime_dir.name == synthesized.runtime_dir.name


def test_local_bundling_declines_another_architecture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a layer for the other CPU architecture than this machine's
    other = (
        lambda_.Architecture.ARM_64
        if host_architecture() == "x86_64"
        else lambda_.Architecture.X86_64
    )
    # When CDK asks the local bundler
    bundled = GpgLocalBundling(other).try_bundle(str(tmp_path))
    # Then it declines (CDK falls back to Docker), says why, and writes nothing
    assert bundled is False
    assert "falling back to Docker" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_local_bundling_declines_when_gnupg_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if host_architecture() != "x86_64":
        pytest.skip("this machine is not x86_64: the test above covers its declining")
    # Given a machine with the build helpers but without GnuPG (and nothing built in this process)
    tools = tmp_path / "bin"
    tools.mkdir()
    for helper in ("ldd", "readelf", "patchelf"):
        (tools / helper).symlink_to(shutil.which(helper) or f"/usr/bin/{helper}")
    monkeypatch.setenv("PATH", str(tools))
    monkeypatch.setattr(lambda_layers, "_local_builds", {})
    # When CDK asks the local bundler for this machine's architecture
    bundled = GpgLocalBundling(lambda_.Architecture.X86_64).try_bundle(str(tmp_path / "out"))
    # Then it declines, naming the missing tools and how to install them, instead of failing synth
    message = capsys.readouterr().err
    assert bundled is False
    assert "not installed: gpg, gpg-agent, gpgconf, gpg-connect-agent" in message
    assert "apt-get install" in message


# --- The layer in a Lambda-like root -----------------------------------------------------


@dataclass(frozen=True)
class LambdaRoot:
    path: Path
    decoys: frozenset[str]
    home: str  # GNUPGHOME as seen inside the root

    def run(
        self, *argv: str, stdin: bytes = b"", env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``argv`` inside the root as Lambda's user, with /proc (as Lambda has) and Lambda's env.

        A mount namespace per call: /proc is mounted inside the root and vanishes with the call,
        while the agent (a daemon) keeps its own and stays reachable through its socket in /tmp.
        """
        command: Sequence[str] = [
            shutil.which("unshare") or "/usr/bin/unshare",
            "--mount",
            f"--root={self.path}",
            "--mount-proc=/proc",
            f"--setuid={LAMBDA_UID}",
            f"--setgid={LAMBDA_GID}",
            "--",
            *argv,
        ]
        return subprocess.run(
            command, input=stdin, capture_output=True, env={**LAMBDA_ENV, **(env or {})}, timeout=60
        )

    def gpg(self, *arguments: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        return self.run("/opt/bin/gpg", "--homedir", self.home, "--batch", *arguments, stdin=stdin)

    def agent_pid(self) -> int | None:
        answer = self.run(
            "/opt/bin/gpg-connect-agent", "--homedir", self.home, "--no-autostart",
            "getinfo pid", "/bye",
        ).stdout.decode()  # fmt: skip
        match = re.search(r"^D (\d+)$", answer, re.M)
        return int(match[1]) if match else None


def program_interpreter(elf: Path) -> str:
    headers = subprocess.run(
        ["readelf", "--program-headers", "--wide", str(elf)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"Requesting program interpreter: (\S+)\]", headers)
    assert match, f"{elf} has no program interpreter"
    return match[1]


def glibc_files(elves: Sequence[Path]) -> dict[str, Path]:
    """glibc's files that the layer's ELFs load from this machine: soname to file."""
    files: dict[str, Path] = {}
    for elf in elves:
        listing = subprocess.run(["ldd", str(elf)], check=True, capture_output=True, text=True)
        for soname, path in re.findall(r"^\s*(\S+) => (/\S+)", listing.stdout, re.M):
            if soname in gpg_bundle.GLIBC_SONAMES:
                files[soname] = Path(path).resolve()
    return files


def make_device(path: Path, major: int, minor: int) -> None:
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(major, minor))
    path.chmod(0o666)


def build_lambda_root(root: Path, layer: Path) -> LambdaRoot:
    """A root with only glibc (where Amazon Linux keeps it), the layer at /opt, and decoys."""
    root.chmod(0o755)  # pytest makes it 0700; Lambda's user must be able to enter "/"
    system_lib = root / "usr" / "lib64"
    system_lib.mkdir(parents=True)
    (root / "lib64").symlink_to("usr/lib64")  # as on Amazon Linux 2023
    for directory in ("proc", "dev", "tmp"):
        (root / directory).mkdir()
    (root / "tmp").chmod(0o1777)
    # gpg-agent redirects its stdio to /dev/null when it daemonizes; Lambda has /dev.
    make_device(root / "dev" / "null", 1, 3)
    make_device(root / "dev" / "urandom", 1, 9)

    elves = elf_files(layer)
    for soname, source in glibc_files(elves).items():
        shutil.copyfile(source, system_lib / soname)
    interpreter = program_interpreter(layer / "bin" / "gpg")
    (root / interpreter.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(interpreter).resolve(), root / interpreter.lstrip("/"))
    (root / interpreter.lstrip("/")).chmod(0o755)

    shutil.copytree(layer, root / "opt")
    (root / "opt").chmod(0o755)

    # Decoys: a valid library of the wrong kind under each bundled soname, in /usr/lib64, which
    # LD_LIBRARY_PATH lists before /opt/lib. Loading one is fatal ("version ... not found").
    bundled = sorted(p.name for p in (layer / "lib").iterdir())
    for index, soname in enumerate(bundled):
        impostor = bundled[(index + 1) % len(bundled)]
        shutil.copyfile(layer / "lib" / impostor, system_lib / soname)

    home = root / "tmp" / "gnupghome"
    home.mkdir(mode=0o700)
    # The runtime module's own configuration. The layer's path does not exist on this machine,
    # so no agent-program is written: gpgconf.ctl alone must lead gpg to /opt/bin/gpg-agent.
    write_gnupg_config(home, gpg_binary="/opt/bin/gpg")
    for path in [home, *home.iterdir()]:
        os.chown(path, LAMBDA_UID, LAMBDA_GID)
    return LambdaRoot(path=root, decoys=frozenset(bundled), home="/tmp/gnupghome")


def process_gone(pid: int) -> bool:
    # A daemon's parent here may never reap it: a zombie has exited all the same.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return True
    return state in {"Z", "X"}


@pytest.fixture(scope="module")
def lambda_root(
    synthesized: SynthesizedLayers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LambdaRoot]:
    if os.geteuid() != 0:
        pytest.skip("the isolated root needs root (unshare --root, mknod, chown); CI runs as root")
    root = build_lambda_root(tmp_path_factory.mktemp("lambda-root"), synthesized.gpg_dir)
    yield root
    # Whatever a failed test left running: only the agent this root started.
    pid = root.agent_pid()
    if pid is not None:
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def keyed_root(lambda_root: LambdaRoot) -> LambdaRoot:
    # Given a passphrase-protected key made by the layer's gpg, the passphrase on stdin
    # (--passphrase-fd 0, as python-gnupg sends it) through loopback pinentry
    generated = lambda_root.gpg(
        "--pinentry-mode", "loopback", "--passphrase-fd", "0",
        "--quick-gen-key", f"edx-vault layer test <{RECIPIENT}>", "future-default", "default",
        "never",
        stdin=PASSPHRASE + b"\n",
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr.decode()
    return lambda_root


@pytest.mark.slow
def test_layer_gpg_loads_its_own_libraries_not_the_decoys(lambda_root: LambdaRoot) -> None:
    # Given decoys of every bundled library in /usr/lib64, ahead of /opt/lib in LD_LIBRARY_PATH
    expected = set(gpg_bundle.shared_libraries(lambda_root.path / "opt" / "bin" / "gpg"))
    # When the layer's gpg starts, with the loader reporting what it loads
    started = lambda_root.run("/opt/bin/gpg", "--version", env={"LD_DEBUG": "libs"})
    # Then it runs, and every library it needs came from the layer, none from the system path
    assert started.returncode == 0, started.stderr.decode()
    assert started.stdout.startswith(b"gpg (GnuPG) 2.")
    loaded = {
        posixpath.normpath(path)
        for path in re.findall(r"calling init: (\S+)", started.stderr.decode())
        if path.startswith(("/opt/", "/usr/lib64/", "/lib64/"))
    }
    assert {f"/opt/lib/{soname}" for soname in expected} <= loaded
    assert not {path for path in loaded if posixpath.basename(path) in lambda_root.decoys} - {
        f"/opt/lib/{soname}" for soname in lambda_root.decoys
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variant", "patchelf_arguments"),
    [
        ("no-rpath", ["--remove-rpath"]),
        ("runpath", ["--set-rpath", "$ORIGIN/../lib"]),  # without --force-rpath: DT_RUNPATH
    ],
)
def test_without_dt_rpath_the_decoys_would_win(
    lambda_root: LambdaRoot, variant: str, patchelf_arguments: list[str]
) -> None:
    # Given a copy of the layer's gpg with no RPATH, or with a RUNPATH instead
    copy = lambda_root.path / "opt" / "bin" / f"gpg-{variant}"
    shutil.copy2(lambda_root.path / "opt" / "bin" / "gpg", copy)
    subprocess.run(["patchelf", *patchelf_arguments, str(copy)], check=True)
    try:
        # When it starts in the same root
        started = lambda_root.run(f"/opt/bin/{copy.name}", "--version")
    finally:
        copy.unlink()
    # Then the loader picks a decoy from the system path and refuses to run: the decoys are
    # real, and DT_RPATH is what keeps the layer's gpg working
    assert started.returncode != 0
    assert re.search(rb"/(usr/)?lib64/lib\S+: version `\S+' not found", started.stderr)


@pytest.mark.slow
def test_layer_gpg_encrypts_and_decrypts_through_loopback(keyed_root: LambdaRoot) -> None:
    # Given data encrypted by the layer's gpg to the key made in the root
    encrypted = keyed_root.gpg(
        "--trust-model", "always", "--recipient", RECIPIENT, "--encrypt", stdin=PLAINTEXT
    )
    assert encrypted.returncode == 0, encrypted.stderr.decode()
    # When it is decrypted with the passphrase on stdin, the ciphertext following it
    decrypt = ("--pinentry-mode", "loopback", "--passphrase-fd", "0", "--status-fd", "2")
    decrypted = keyed_root.gpg(*decrypt, "--decrypt", stdin=PASSPHRASE + b"\n" + encrypted.stdout)
    wrong = keyed_root.gpg(*decrypt, "--decrypt", stdin=b"wrong\n" + encrypted.stdout)
    # Then the plaintext comes back with gpg's success status, and a wrong passphrase fails
    assert decrypted.returncode == 0, decrypted.stderr.decode()
    assert decrypted.stdout == PLAINTEXT
    assert b"[GNUPG:] DECRYPTION_OKAY" in decrypted.stderr
    assert wrong.returncode != 0
    assert wrong.stdout == b""
    assert b"Bad passphrase" in wrong.stderr


@pytest.mark.slow
def test_agent_runs_from_the_layer_with_its_socket_in_gnupghome_and_can_be_killed(
    keyed_root: LambdaRoot,
) -> None:
    # Given the agent of the root's GnuPG home (the root has no /run, as Lambda has none)
    launched = keyed_root.run(
        "/opt/bin/gpgconf", "--homedir", keyed_root.home, "--launch", "gpg-agent"
    )
    assert launched.returncode == 0, launched.stderr.decode()
    pid = keyed_root.agent_pid()
    assert pid is not None
    socket = keyed_root.run(
        "/opt/bin/gpgconf", "--homedir", keyed_root.home, "--list-dirs", "agent-socket"
    )
    # Then it is the layer's agent, listening in GNUPGHOME
    assert Path(f"/proc/{pid}/exe").readlink() == keyed_root.path / "opt" / "bin" / "gpg-agent"
    assert socket.stdout.decode().strip() == f"{keyed_root.home}/S.gpg-agent"
    # When it is killed the way the runtime code stops it
    killed = keyed_root.run("/opt/bin/gpgconf", "--homedir", keyed_root.home, "--kill", "gpg-agent")
    # Then it stops answering and its process exits
    assert killed.returncode == 0, killed.stderr.decode()
    assert keyed_root.agent_pid() is None
    deadline = time.monotonic() + 5
    while not process_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_gone(pid)
