"""Load a generated package into (fake or test) edX buckets in S3."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edx_vault.devtools.synthetic.generated import GeneratedPackage

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def upload_package(
    package: GeneratedPackage, s3_client: S3Client, *, create_buckets: bool = False
) -> None:
    """Put a generated package into (fake or test) edX buckets.

    The bucket names are the spec's ``event_bucket`` and ``database_bucket`` (edX's
    ``edx-course-data`` and ``course-data`` by default). Files are streamed from disk, in
    multipart uploads when large.

    Parameters
    ----------
    package
        What :func:`~edx_vault.devtools.synthetic.generate.generate_package` returned.
    s3_client
        A boto3 S3 client (moto's in tests).
    create_buckets
        Create the buckets first (for an empty moto server).
    """
    if create_buckets:
        existing = {bucket["Name"] for bucket in s3_client.list_buckets().get("Buckets", [])}
        region = s3_client.meta.region_name
        for bucket in sorted({obj.bucket for obj in package.objects} - existing):
            if region in (None, "us-east-1"):
                s3_client.create_bucket(Bucket=bucket)
            else:
                s3_client.create_bucket(
                    Bucket=bucket,
                    CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
                )
    for obj in package.objects:
        s3_client.upload_file(str(obj.path), obj.bucket, obj.key)
