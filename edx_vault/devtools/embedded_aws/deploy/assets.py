"""The assembly's file assets: publishing them as ``cdk deploy`` does, and finding a function's.

:func:`publish_assets` uploads every file asset of every ``*.assets.json`` to the bucket and key
it names: a ``zip`` asset directory is zipped as CDK zips it (:func:`zip_directory`), a ``file``
asset is uploaded as it is. The deploy-time rules read the same assets before anything is
published: :func:`asset_source` finds the files of a function's code or of a layer, and
:func:`unzipped_size` measures them.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from edx_vault.devtools.embedded_aws.clients import local_client
from edx_vault.devtools.embedded_aws.deploy.assembly import CloudAssembly, DeployError

FUNCTION_TYPE: Final = "AWS::Lambda::Function"
LAYER_TYPE: Final = "AWS::Lambda::LayerVersion"
ASSET_PATH_METADATA: Final = "aws:asset:path"
# The fixed timestamp CDK gives every zip entry, so the same files give the same zip.
_ZIP_EPOCH: Final = (1980, 1, 1, 0, 0, 0)


def _substitute(text: str, account: str, region: str) -> str:
    return (
        text.replace("${AWS::AccountId}", account)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", "aws")
    )


def zip_directory(directory: Path, target: Path) -> None:
    """Zip a directory's files as CDK packages a ``zip`` asset.

    Entries are sorted and dated 1980-01-01, with their Unix permissions, so the same files
    always give the same bytes.
    """
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_dir():
                continue
            info = zipfile.ZipInfo(path.relative_to(directory).as_posix(), date_time=_ZIP_EPOCH)
            info.external_attr = (path.stat().st_mode & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def _file_assets(manifest_path: Path) -> Iterator[tuple[Path, str, dict[str, Any]]]:
    """(source, packaging, destination) for every destination of every file asset."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("dockerImages"):
        raise DeployError(
            f"{manifest_path.name}: Docker image assets are not supported by the embedded AWS"
        )
    for asset in manifest.get("files", {}).values():
        source = asset["source"]
        if "path" not in source:
            raise DeployError(
                f"{manifest_path.name}: asset {asset.get('displayName')!r} is built by a "
                "command, which the embedded AWS does not run"
            )
        for destination in asset["destinations"].values():
            yield (
                manifest_path.parent / source["path"],
                source.get("packaging", "file"),
                destination,
            )


def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    existing = {entry["Name"] for entry in s3.list_buckets().get("Buckets", [])}
    if bucket in existing:
        return
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


def publish_assets(assembly: CloudAssembly, *, endpoint: str, scratch: Path) -> int:
    """Upload every file asset to the bucket and key its manifest names; return the count."""
    published = 0
    for manifest_path in assembly.asset_manifests:
        for source, packaging, destination in _file_assets(manifest_path):
            region = destination.get("region") or "us-east-1"
            account = destination.get("account", "")
            bucket = _substitute(destination["bucketName"], account, region)
            key = _substitute(destination["objectKey"], account, region)
            s3 = local_client("s3", endpoint=endpoint, region=region)
            _ensure_bucket(s3, bucket, region)
            upload = source
            if packaging == "zip" and source.is_dir():
                upload = scratch / f"{key.replace('/', '_')}"
                if not upload.exists():
                    zip_directory(source, upload)
            elif packaging not in ("zip", "file"):
                raise DeployError(f"asset {source.name}: unknown packaging {packaging!r}")
            s3.upload_file(str(upload), bucket, key)
            published += 1
    return published


def unzipped_size(path: Path) -> int:
    """The bytes an asset unpacks to: a directory's files, a zip's members, a file's bytes."""
    if path.is_dir():
        return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist())
    return path.stat().st_size


def asset_sources(assembly_dir: Path) -> dict[str, Path]:
    """Each file asset's object key (as templates name it in ``S3Key``) -> its source in the
    assembly."""
    sources: dict[str, Path] = {}
    for manifest_path in sorted(assembly_dir.glob("*.assets.json")):
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for asset in manifest.get("files", {}).values():
            path = asset.get("source", {}).get("path")
            if path is None:
                continue
            for destination in asset.get("destinations", {}).values():
                key = destination.get("objectKey")
                if key:
                    sources[str(key)] = assembly_dir / path
    return sources


def asset_source(
    assembly_dir: Path,
    resource: Mapping[str, Any],
    code: Any,
    sources: Mapping[str, Path],
    literal: Callable[[Any], str | None] | None = None,
) -> Path | None:
    """Where the assembly holds a function's or layer's code, ``None`` when it is not found.

    Parameters
    ----------
    assembly_dir
        The cloud assembly.
    resource
        The function or layer resource: its ``aws:asset:path`` metadata names the asset.
    code
        Its ``Code`` (function) or ``Content`` (layer): without the metadata, the asset is the
        one whose object key the ``S3Key`` names.
    sources
        :func:`asset_sources` of the assembly.
    literal
        Resolves ``S3Key`` to a string; by default only a plain string is taken.
    """
    metadata = resource.get("Metadata") or {}
    source: Path | None = None
    if isinstance(metadata.get(ASSET_PATH_METADATA), str):
        source = assembly_dir / metadata[ASSET_PATH_METADATA]
    elif isinstance(code, Mapping):
        raw = code.get("S3Key")
        key = literal(raw) if literal else (raw if isinstance(raw, str) else None)
        source = sources.get(key) if key else None
    return source if source is not None and source.exists() else None


def layer_sources(
    assembly_dir: Path,
    resources: Mapping[str, Any],
    layers: Any,
    sources: Mapping[str, Path],
    literal: Callable[[Any], str | None] | None = None,
) -> list[tuple[str, Path | None]]:
    """(logical id, files) of each entry of a function's ``Layers``, in order.

    The files are ``None`` when the entry is not a ``Ref`` to a layer version of the template
    (a layer ARN from elsewhere: its logical id is then empty) or when the assembly does not hold
    the layer's asset. ``sources`` and ``literal`` are as for :func:`asset_source`.
    """
    found: list[tuple[str, Path | None]] = []
    for layer in layers if isinstance(layers, list) else []:
        layer_id = layer.get("Ref") if isinstance(layer, Mapping) else None
        resource = resources.get(layer_id) if isinstance(layer_id, str) else None
        if not (isinstance(resource, Mapping) and resource.get("Type") == LAYER_TYPE):
            found.append(("", None))
            continue
        content = (resource.get("Properties") or {}).get("Content")
        found.append(
            (str(layer_id), asset_source(assembly_dir, resource, content, sources, literal))
        )
    return found
