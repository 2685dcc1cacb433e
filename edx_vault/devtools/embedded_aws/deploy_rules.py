"""AWS's deploy-time rules, checked on a synthesized template before anything is created.

moto's CloudFormation accepts templates that AWS refuses (an alarm looking back more than seven
days, a bucket name of 64 characters, a stack with no resources...) or that AWS deploys into
something that cannot work (alarms that may not publish to their topic). The embedded AWS
would then succeed where ``cdk deploy`` rolls back, so :func:`deploy_assembly
<edx_vault.devtools.embedded_aws.deploy.deploy_assembly>` checks every stack with
:func:`template_violations` first and deploys nothing if any rule is broken.

Each rule names the resource, the property, the value and the rule with its limit, in AWS's
words where AWS words it; the source is given next to each rule below. A value this module
cannot know (a name built from another stack's export, a deploy-time parameter) is skipped:
only what AWS would certainly refuse is reported, never a guess.

Rules:

- the template declares at least one resource (CloudFormation);
- CloudWatch alarms: ``Period`` is 10, 20, 30 or a multiple of 60; ``Period`` x
  ``EvaluationPeriods`` at most 7 days (1 day for periods under an hour); ``DatapointsToAlarm``
  at most ``EvaluationPeriods`` (PutMetricAlarm);
- S3 bucket names, when literal or built from the stack's account and region (S3);
- IAM role, managed and inline policy names and paths (IAM);
- Lambda functions: memory, timeout, environment variables' size, number of layers, and the
  unzipped size of the code and layers, measured from the assembly's asset files (Lambda);
- Python Lambda functions load: the handler's imports, followed through the function's asset
  and layers as Lambda's Python finds them, and the layers' compiled extensions, fit the
  function's Python and architecture (:mod:`edx_vault.devtools.embedded_aws.asset_imports`);
- SNS topics with a topic policy: every CloudWatch alarm, EventBridge rule and IAM role of the
  template that publishes to the topic is allowed to by the topic's policy (and, for an
  encrypted topic, by the key's policy), decided by :mod:`edx_vault.access.policy_evaluator`;
- state machine definitions, with asl-validator (:mod:`edx_vault.devtools.embedded_aws.asl_validation`).
"""

from __future__ import annotations

import ipaddress
import json
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from edx_vault.access.policy_evaluator import (
    Decision,
    Request,
    Statement,
    UnsupportedPolicyError,
    evaluate,
    statements_of,
)
from edx_vault.access.template_policies import TemplateResolver

# --------------------------------------------------------------------------------------------
# The limits, each with its source
# --------------------------------------------------------------------------------------------

# CloudFormation User Guide, "Working with CloudFormation templates": "the only required section
# is the Resources section, which must declare at least one resource"; CreateStack answers a
# template without one with this message.
NO_RESOURCES: Final = "Template format error: At least one Resources member must be defined."

# CloudWatch API Reference, PutMetricAlarm, Period and EvaluationPeriods:
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
ALARM_PERIOD_RULE: Final = "PutMetricAlarm: valid values are 10, 20, 30, and any multiple of 60"
ALARM_MAX_WINDOW_SECONDS: Final = 7 * 86_400
ALARM_MAX_SHORT_PERIOD_WINDOW_SECONDS: Final = 86_400
ALARM_SHORT_PERIOD_SECONDS: Final = 3_600
ALARM_WINDOW_RULE: Final = (
    "PutMetricAlarm: an alarm's total current evaluation period can be no longer than seven "
    "days, so Period multiplied by EvaluationPeriods can't be more than 604,800 seconds"
)
ALARM_SHORT_WINDOW_RULE: Final = (
    "PutMetricAlarm: for alarms with a period of less than one hour (3,600 seconds), the total "
    "evaluation period can't be longer than one day (86,400 seconds)"
)
# CloudWatch User Guide, "Alarm evaluation": DatapointsToAlarm is the M of "M out of N", the
# number of the EvaluationPeriods (N) most recent data points that must be breaching.
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
ALARM_DATAPOINTS_RULE: Final = (
    "PutMetricAlarm: DatapointsToAlarm is the M of an 'M out of N' alarm and cannot exceed "
    "EvaluationPeriods (N)"
)

# S3 User Guide, "General purpose bucket naming rules":
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
BUCKET_NAME_MIN: Final = 3
BUCKET_NAME_MAX: Final = 63
_BUCKET_CHARACTERS: Final = re.compile(r"^[a-z0-9.-]+$")
_BUCKET_RESERVED_PREFIXES: Final = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_SUFFIXES: Final = ("-s3alias", "--ol-s3", ".mrap", "--x-s3")

# IAM User Guide, "IAM and AWS STS quotas, name requirements, and character limits"
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html): role names at
# most 64 characters, policy names 128, paths 512; names are alphanumeric plus + = , . @ _ -;
# paths begin and end with '/'. The API references spell the same as patterns: CreateRole
# RoleName [\w+=,.@-]+ (1-64), CreatePolicy and PutRolePolicy PolicyName [\w+=,.@-]+ (1-128),
# Path (\u002F)|(\u002F[\u0021-\u007E]+\u002F) (1-512).
ROLE_NAME_MAX: Final = 64
POLICY_NAME_MAX: Final = 128
PATH_MAX: Final = 512
_IAM_NAME: Final = re.compile(r"^[\w+=,.@-]+$", re.ASCII)
_IAM_PATH: Final = re.compile(r"^(/|/[\x21-\x7e]+/)$")

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

# Who publishes to a topic, as SNS sees it. A topic policy replaces the default one (which let
# the topic owner's account publish), so a service's publications need an Allow naming it:
# AWS Knowledge Center, "Why didn't I receive an SNS notification for my CloudWatch alarm
# trigger?" (https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger): the
# alarm history then says "arn:aws:cloudwatch:...:alarm:NAME is not authorized to perform:
# SNS:Publish", and the fix is an Allow for the service principal cloudwatch.amazonaws.com,
# narrowed with aws:SourceArn. An encrypted topic also needs the key policy to let the service
# use the key (kms:Decrypt, kms:GenerateDataKey*): SNS Developer Guide, "Enable compatibility
# between event sources from AWS services and encrypted topics"
# (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
CLOUDWATCH_PRINCIPAL: Final = "cloudwatch.amazonaws.com"
EVENTS_PRINCIPAL: Final = "events.amazonaws.com"
TOPIC_POLICY_RULE: Final = (
    "a topic policy replaces the default policy, so {publisher} is refused sns:Publish unless "
    "the policy allows it (SNS: '... is not authorized to perform: SNS:Publish')"
)
TOPIC_KEY_RULE: Final = (
    "SNS encrypts with the topic's KMS key on the publisher's behalf, so the key policy must let "
    "{publisher} use it (kms:GenerateDataKey*, kms:Decrypt)"
)

ALARM_TYPE: Final = "AWS::CloudWatch::Alarm"
BUCKET_TYPE: Final = "AWS::S3::Bucket"
FUNCTION_TYPE: Final = "AWS::Lambda::Function"
LAYER_TYPE: Final = "AWS::Lambda::LayerVersion"
TOPIC_TYPE: Final = "AWS::SNS::Topic"
TOPIC_POLICY_TYPE: Final = "AWS::SNS::TopicPolicy"
KEY_TYPE: Final = "AWS::KMS::Key"
ROLE_TYPE: Final = "AWS::IAM::Role"
POLICY_TYPE: Final = "AWS::IAM::Policy"
MANAGED_POLICY_TYPE: Final = "AWS::IAM::ManagedPolicy"
RULE_TYPE: Final = "AWS::Events::Rule"
ASSET_PATH_METADATA: Final = "aws:asset:path"


@dataclass(frozen=True)
class Violation:
    """One deploy-time rule a template breaks.

    Attributes
    ----------
    logical_id
        The resource (``(template)`` for the template as a whole).
    resource_type
        Its CloudFormation type (empty for the template).
    property
        The property, e.g. ``EvaluationPeriods`` or ``Environment.Variables``.
    value
        The value the template gives it, as shown to people.
    rule
        The rule and its limit, in AWS's words where AWS words it.
    """

    logical_id: str
    resource_type: str
    property: str
    value: str
    rule: str

    def describe(self) -> str:
        """One line: ``LogicalId (Type) Property = value: rule``."""
        where = f"{self.logical_id} ({self.resource_type})" if self.resource_type else "template"
        what = f" {self.property} = {self.value}" if self.property else ""
        return f"{where}{what}: {self.rule}"

    def __str__(self) -> str:
        return self.describe()


def template_violations(
    template: Mapping[str, Any],
    *,
    stack_name: str,
    account: str,
    region: str,
    assembly_dir: Path | None = None,
    partition: str = "aws",
) -> list[Violation]:
    """Every deploy-time rule the template breaks, in template order per rule.

    Parameters
    ----------
    template
        The parsed template.
    stack_name, account, region
        The stack it is deployed as (resolves ``AWS::StackName``, ``AWS::AccountId`` and
        ``AWS::Region`` in names and policies).
    assembly_dir
        The cloud assembly holding the template's assets; without it, Lambda code sizes are not
        checked.
    partition
        The AWS partition.
    """
    resources: Mapping[str, Any] = template.get("Resources") or {}
    if not resources:
        return [Violation("(template)", "", "Resources", "{}", NO_RESOURCES)]
    context = _Context(template, stack_name, account, region, partition, assembly_dir)
    violations: list[Violation] = []
    violations += _alarm_violations(context)
    violations += _bucket_violations(context)
    violations += _iam_violations(context)
    violations += _lambda_violations(context)
    violations += _import_violations(context)
    violations += _topic_violations(context)
    violations += _state_machine_violations(template)
    return violations


# --------------------------------------------------------------------------------------------
# Shared: the template, and values that can be known before deployment
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    template: Mapping[str, Any]
    stack: str
    account: str
    region: str
    partition: str
    assembly_dir: Path | None

    def resources(self, *types: str) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
        """(logical id, type, properties) of each resource of the given types."""
        for logical_id, resource in self.template.get("Resources", {}).items():
            kind = str(resource.get("Type", ""))
            if kind in types:
                yield logical_id, kind, resource.get("Properties") or {}

    def resource(self, logical_id: str) -> Mapping[str, Any] | None:
        found: Mapping[str, Any] | None = self.template.get("Resources", {}).get(logical_id)
        return found

    def literal(self, value: Any) -> str | None:
        """A string value as it will be deployed, or ``None`` when only the deployment knows it.

        Resolves plain strings, the pseudo parameters ``AWS::AccountId``, ``AWS::Region``,
        ``AWS::Partition``, ``AWS::URLSuffix`` and ``AWS::StackName``, ``Fn::Join`` of such
        values and ``Fn::Sub`` of a string naming only them.
        """
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, Mapping) or len(value) != 1:
            return None
        [(name, argument)] = value.items()
        if name == "Ref":
            return self._pseudo.get(str(argument))
        if name == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            separator, parts = argument
            if not isinstance(separator, str) or not isinstance(parts, list):
                return None
            resolved = [self.literal(part) for part in parts]
            if any(part is None for part in resolved):
                return None
            return separator.join(part for part in resolved if part is not None)
        if name == "Fn::Sub" and isinstance(argument, str):
            names = re.findall(r"\$\{([^}!]+)\}", argument)
            if any(found not in self._pseudo for found in names):
                return None
            for found in names:
                argument = argument.replace(f"${{{found}}}", self._pseudo[found])
            return argument
        return None

    @property
    def _pseudo(self) -> Mapping[str, str]:
        return {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack,
        }

    def number(self, value: Any) -> int | None:
        """An integer property (CloudFormation also accepts numeric strings)."""
        text = self.literal(value)
        if text is None:
            return None
        try:
            return int(float(text)) if float(text).is_integer() else None
        except ValueError:
            return None


def _shown(value: Any) -> str:
    return json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)


# --------------------------------------------------------------------------------------------
# CloudWatch alarms
# --------------------------------------------------------------------------------------------


def _alarm_periods(context: _Context, properties: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(property path, value) of every period of an alarm: its own, or its metrics'."""
    periods: list[tuple[str, Any]] = []
    if "Period" in properties:
        periods.append(("Period", properties["Period"]))
    for index, query in enumerate(properties.get("Metrics") or []):
        if not isinstance(query, Mapping):
            continue
        if "Period" in query:
            periods.append((f"Metrics[{index}].Period", query["Period"]))
        stat = query.get("MetricStat")
        if isinstance(stat, Mapping) and "Period" in stat:
            periods.append((f"Metrics[{index}].MetricStat.Period", stat["Period"]))
    return periods


def _alarm_violations(context: _Context) -> Iterator[Violation]:
    for logical_id, kind, properties in context.resources(ALARM_TYPE):
        evaluation_periods = context.number(properties.get("EvaluationPeriods"))
        for where, raw in _alarm_periods(context, properties):
            period = context.number(raw)
            if period is None:
                continue
            if period not in (10, 20, 30) and (period <= 0 or period % 60):
                yield Violation(logical_id, kind, where, str(period), ALARM_PERIOD_RULE)
                continue
            if evaluation_periods is None:
                continue
            window = period * evaluation_periods
            shown = f"{period} x EvaluationPeriods {evaluation_periods} = {window:,} s"
            if period < ALARM_SHORT_PERIOD_SECONDS and window > (
                ALARM_MAX_SHORT_PERIOD_WINDOW_SECONDS
            ):
                yield Violation(logical_id, kind, where, shown, ALARM_SHORT_WINDOW_RULE)
            elif window > ALARM_MAX_WINDOW_SECONDS:
                yield Violation(logical_id, kind, where, shown, ALARM_WINDOW_RULE)
        datapoints = context.number(properties.get("DatapointsToAlarm"))
        if (
            datapoints is not None
            and evaluation_periods is not None
            and datapoints > evaluation_periods
        ):
            yield Violation(
                logical_id,
                kind,
                "DatapointsToAlarm",
                f"{datapoints} (EvaluationPeriods {evaluation_periods})",
                ALARM_DATAPOINTS_RULE,
            )


# --------------------------------------------------------------------------------------------
# S3 bucket names
# --------------------------------------------------------------------------------------------


def bucket_name_problems(name: str) -> list[str]:
    """What S3's naming rules say about ``name`` (empty when it is a valid name)."""
    problems: list[str] = []
    if not BUCKET_NAME_MIN <= len(name) <= BUCKET_NAME_MAX:
        problems.append(
            f"S3: bucket names must be between 3 (min) and 63 (max) characters long "
            f"(this one has {len(name)})"
        )
    if not _BUCKET_CHARACTERS.fullmatch(name):
        problems.append(
            "S3: bucket names can consist only of lowercase letters, numbers, periods (.), "
            "and hyphens (-)"
        )
    if name and not (name[0].isalnum() and name[-1].isalnum()):
        problems.append("S3: bucket names must begin and end with a letter or number")
    if ".." in name:
        problems.append("S3: bucket names must not contain two adjacent periods")
    try:
        ipaddress.IPv4Address(name)
        problems.append("S3: bucket names must not be formatted as an IP address")
    except ValueError:
        pass
    for prefix in _BUCKET_RESERVED_PREFIXES:
        if name.startswith(prefix):
            problems.append(f"S3: bucket names must not start with the prefix {prefix}")
    for suffix in _BUCKET_RESERVED_SUFFIXES:
        if name.endswith(suffix):
            problems.append(f"S3: bucket names must not end with the suffix {suffix}")
    return problems


def _bucket_violations(context: _Context) -> Iterator[Violation]:
    for logical_id, kind, properties in context.resources(BUCKET_TYPE):
        if "BucketName" not in properties:
            continue  # CloudFormation generates a valid name
        name = context.literal(properties["BucketName"])
        if name is None:
            continue
        for problem in bucket_name_problems(name):
            yield Violation(logical_id, kind, "BucketName", repr(name), problem)


# --------------------------------------------------------------------------------------------
# IAM names and paths
# --------------------------------------------------------------------------------------------


def _iam_name_problems(name: str, *, what: str, maximum: int) -> list[str]:
    problems: list[str] = []
    if not 1 <= len(name) <= maximum:
        problems.append(
            f"IAM: {what} names are 1 to {maximum} characters (this one has {len(name)})"
        )
    if not _IAM_NAME.fullmatch(name):
        problems.append(
            f"IAM: {what} names must be alphanumeric, including the following common "
            "characters: plus (+), equal (=), comma (,), period (.), at (@), underscore (_), "
            "and hyphen (-)"
        )
    return problems


def _iam_path_problems(path: str) -> list[str]:
    problems: list[str] = []
    if not 1 <= len(path) <= PATH_MAX:
        problems.append(f"IAM: paths are 1 to {PATH_MAX} characters (this one has {len(path)})")
    if not _IAM_PATH.fullmatch(path):
        problems.append(
            "IAM: path names must begin and end with a forward slash (/), with printable "
            "ASCII characters between"
        )
    return problems


def _iam_violations(context: _Context) -> Iterator[Violation]:
    checks: list[tuple[str, str, str, Any, str, int]] = []
    for logical_id, kind, properties in context.resources(ROLE_TYPE):
        if "RoleName" in properties:
            checks.append(
                (logical_id, kind, "RoleName", properties["RoleName"], "role", ROLE_NAME_MAX)
            )
        if "Path" in properties:
            checks.append((logical_id, kind, "Path", properties["Path"], "path", PATH_MAX))
        for index, policy in enumerate(properties.get("Policies") or []):
            if isinstance(policy, Mapping) and "PolicyName" in policy:
                checks.append(
                    (
                        logical_id,
                        kind,
                        f"Policies[{index}].PolicyName",
                        policy["PolicyName"],
                        "inline policy",
                        POLICY_NAME_MAX,
                    )
                )
    for logical_id, kind, properties in context.resources(MANAGED_POLICY_TYPE):
        if "ManagedPolicyName" in properties:
            checks.append(
                (
                    logical_id,
                    kind,
                    "ManagedPolicyName",
                    properties["ManagedPolicyName"],
                    "managed policy",
                    POLICY_NAME_MAX,
                )
            )
        if "Path" in properties:
            checks.append((logical_id, kind, "Path", properties["Path"], "path", PATH_MAX))
    for logical_id, kind, properties in context.resources(POLICY_TYPE):
        if "PolicyName" in properties:
            checks.append(
                (
                    logical_id,
                    kind,
                    "PolicyName",
                    properties["PolicyName"],
                    "inline policy",
                    POLICY_NAME_MAX,
                )
            )
    for logical_id, kind, where, raw, what, maximum in checks:
        value = context.literal(raw)
        if value is None:
            continue
        problems = (
            _iam_path_problems(value)
            if what == "path"
            else _iam_name_problems(value, what=what, maximum=maximum)
        )
        for problem in problems:
            yield Violation(logical_id, kind, where, repr(value), problem)


# --------------------------------------------------------------------------------------------
# Lambda functions
# --------------------------------------------------------------------------------------------


def environment_size(variables: Mapping[str, Any], context: _Context | None = None) -> int:
    """The variables' size as Lambda measures it: one compact JSON object, in bytes.

    A value only the deployment knows (an import from another stack) counts as empty, so the
    size is a lower bound: what exceeds the limit here exceeds it on AWS.
    """
    known = {
        str(name): (context.literal(value) if context else value) or ""
        for name, value in variables.items()
    }
    return len(json.dumps(known, separators=(",", ":"), ensure_ascii=False).encode())


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


class _AssetSizes:
    """Unzipped sizes of the template's code assets, from the assembly's files."""

    def __init__(self, context: _Context) -> None:
        self._context = context
        self._by_key = asset_sources(context.assembly_dir) if context.assembly_dir else {}
        self._sizes: dict[Path, int] = {}

    def size_of(self, logical_id: str, code: Any) -> int | None:
        """Bytes of one function's or layer's code, or ``None`` when it cannot be found."""
        directory = self._context.assembly_dir
        if directory is None:
            return None
        resource = self._context.resource(logical_id) or {}
        source = asset_source(directory, resource, code, self._by_key, self._context.literal)
        if source is None:
            return None
        if source not in self._sizes:
            self._sizes[source] = unzipped_size(source)
        return self._sizes[source]


def _lambda_violations(context: _Context) -> Iterator[Violation]:
    sizes = _AssetSizes(context)
    for logical_id, kind, properties in context.resources(FUNCTION_TYPE):
        memory = context.number(properties.get("MemorySize"))
        if memory is not None and not LAMBDA_MEMORY_MIN <= memory <= LAMBDA_MEMORY_MAX:
            yield Violation(
                logical_id,
                kind,
                "MemorySize",
                str(memory),
                "Lambda: function memory allocation is 128 MB to 10,240 MB, in 1-MB increments",
            )
        timeout = context.number(properties.get("Timeout"))
        if timeout is not None and not LAMBDA_TIMEOUT_MIN <= timeout <= LAMBDA_TIMEOUT_MAX:
            yield Violation(
                logical_id,
                kind,
                "Timeout",
                str(timeout),
                "Lambda: function timeout is 1 to 900 seconds (15 minutes)",
            )
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
        total = _code_and_layers_size(context, sizes, logical_id, properties, layers)
        if total is not None and total > LAMBDA_UNZIPPED_MAX_BYTES:
            yield Violation(
                logical_id,
                kind,
                "Code + Layers",
                f"{total:,} bytes unzipped",
                "Lambda: the deployment package is at most 250 MB (262,144,000 bytes) "
                "unzipped, including layers",
            )


def _code_and_layers_size(
    context: _Context,
    sizes: _AssetSizes,
    logical_id: str,
    properties: Mapping[str, Any],
    layers: Any,
) -> int | None:
    """The unzipped bytes of a function's code and the layers of this template it uses (a
    lower bound when a layer comes from elsewhere); ``None`` when the code is not found."""
    code = sizes.size_of(logical_id, properties.get("Code"))
    if code is None:
        return None
    total = code
    for layer in layers if isinstance(layers, list) else []:
        if isinstance(layer, Mapping) and isinstance(layer.get("Ref"), str):
            layer_id = layer["Ref"]
            resource = context.resource(layer_id) or {}
            if resource.get("Type") == LAYER_TYPE:
                content = (resource.get("Properties") or {}).get("Content")
                total += sizes.size_of(layer_id, content) or 0
    return total


def _import_violations(context: _Context) -> Iterator[Violation]:
    """Python functions that would fail to load: see :mod:`asset_imports` (needs the assets)."""
    if context.assembly_dir is None:
        return
    from edx_vault.devtools.embedded_aws.asset_imports import import_problems

    for problem in import_problems(context.template, context.assembly_dir, literal=context.literal):
        yield Violation(
            problem.function,
            FUNCTION_TYPE,
            "Handler",
            f"{problem.handler} ({problem.where})",
            f"Lambda would fail to load it: {problem.error}",
        )


# --------------------------------------------------------------------------------------------
# SNS topics: may each publisher publish?
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Publisher:
    """Something in the template that publishes to a topic of the template."""

    logical_id: str
    resource_type: str
    property: str
    principal: str
    context: Mapping[str, str]
    # A role's own policies; a service principal has none, so the topic's (and key's) policy
    # must name it.
    identity: tuple[Statement, ...] = ()


def _topic_ref(value: Any, topics: Mapping[str, Any]) -> str | None:
    if isinstance(value, Mapping) and value.get("Ref") in topics:
        return str(value["Ref"])
    return None


def _topic_violations(context: _Context) -> Iterator[Violation]:
    topics = {logical_id: properties for logical_id, _, properties in context.resources(TOPIC_TYPE)}
    policies: dict[str, list[tuple[str, Any]]] = {}
    for logical_id, _, properties in context.resources(TOPIC_POLICY_TYPE):
        for topic in properties.get("Topics") or []:
            topic_id = _topic_ref(topic, topics)
            if topic_id:
                policies.setdefault(topic_id, []).append(
                    (logical_id, properties.get("PolicyDocument"))
                )
    if not policies:
        return  # every topic keeps SNS's default policy: the owner account may publish
    resolver = TemplateResolver(
        {context.stack: context.template},
        account=context.account,
        region=context.region,
        partition=context.partition,
    )
    for topic_id, publisher in _publishers(context, resolver, topics):
        if topic_id not in policies:
            continue
        try:
            yield from _judge_publisher(context, resolver, topics, topic_id, policies, publisher)
        except UnsupportedPolicyError:
            continue  # a policy the evaluator cannot judge: no verdict rather than a guess


def _judge_publisher(
    context: _Context,
    resolver: TemplateResolver,
    topics: Mapping[str, Any],
    topic_id: str,
    policies: Mapping[str, list[tuple[str, Any]]],
    publisher: _Publisher,
) -> Iterator[Violation]:
    topic_arn = str(resolver.resolve(context.stack, {"Ref": topic_id}))
    statements: list[Statement] = []
    for policy_id, document in policies[topic_id]:
        resolved = resolver.resolve(context.stack, document or {})
        statements += statements_of(resolved, source=f"topic policy {policy_id}")
    request = Request(
        action="sns:Publish",
        resource=topic_arn,
        principal=publisher.principal,
        context=publisher.context,
    )
    # Same account: an identity policy's Allow suffices for a role ("s3" semantics); a
    # service principal needs the topic policy's Allow naming it. Deny wins either way.
    decision = evaluate(
        request, identity=publisher.identity, resource_policy=statements, resource_policy_kind="s3"
    )
    if not decision.allowed:
        yield Violation(
            publisher.logical_id,
            publisher.resource_type,
            publisher.property,
            f"topic {topic_id} ({publisher.principal})",
            TOPIC_POLICY_RULE.format(publisher=publisher.principal) + _why_not(decision),
        )
        return
    key = topics[topic_id].get("KmsMasterKeyId")
    key_id = _key_logical_id(key, context)
    if key_id is None:
        return  # no key, the AWS-managed key, or a key of another stack
    key_properties = (context.resource(key_id) or {}).get("Properties") or {}
    key_policy = resolver.resolve(context.stack, key_properties.get("KeyPolicy") or {})
    key_statements = statements_of(key_policy, source=f"key policy {key_id}")
    key_arn = str(resolver.resolve(context.stack, {"Fn::GetAtt": [key_id, "Arn"]}))
    key_context = {
        **publisher.context,
        "kms:ViaService": f"sns.{context.region}.amazonaws.com",
        "kms:CallerAccount": context.account,
    }
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        key_request = Request(action, key_arn, publisher.principal, key_context)
        verdict = evaluate(
            key_request,
            identity=publisher.identity,
            resource_policy=key_statements,
            resource_policy_kind="kms",
        )
        if not verdict.allowed:
            yield Violation(
                publisher.logical_id,
                publisher.resource_type,
                publisher.property,
                f"topic {topic_id} encrypted with {key_id} ({publisher.principal}, {action})",
                TOPIC_KEY_RULE.format(publisher=publisher.principal) + _why_not(verdict),
            )
            return


def _why_not(decision: Decision) -> str:
    if decision.outcome == "explicit-deny":
        return "; denied by " + ", ".join(statement.label for statement in decision.deciding)
    return f"; no statement allows it ({decision.note})"


def _key_logical_id(key: Any, context: _Context) -> str | None:
    if isinstance(key, Mapping):
        target = key.get("Ref")
        get_att = key.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att:
            target = get_att[0]
        elif isinstance(get_att, str):
            target = get_att.split(".", 1)[0]
        if isinstance(target, str) and (context.resource(target) or {}).get("Type") == KEY_TYPE:
            return target
    return None


def _publishers(
    context: _Context, resolver: TemplateResolver, topics: Mapping[str, Any]
) -> Iterator[tuple[str, _Publisher]]:
    """(topic logical id, publisher) for every alarm action, rule target and IAM role of the
    template that publishes to one of its topics."""
    secure = {"aws:SecureTransport": "true"}
    source_account = {"aws:SourceAccount": context.account, "aws:SourceOwner": context.account}
    for logical_id, kind, properties in context.resources(ALARM_TYPE):
        name = context.literal(properties.get("AlarmName")) or (
            f"{context.stack}-{logical_id}-GENERATED"
        )
        alarm_arn = (
            f"arn:{context.partition}:cloudwatch:{context.region}:{context.account}:alarm:{name}"
        )
        for where in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            for action in properties.get(where) or []:
                topic_id = _topic_ref(action, topics)
                if topic_id:
                    yield (
                        topic_id,
                        _Publisher(
                            logical_id,
                            kind,
                            where,
                            CLOUDWATCH_PRINCIPAL,
                            {**secure, **source_account, "aws:SourceArn": alarm_arn},
                        ),
                    )
    for logical_id, kind, properties in context.resources(RULE_TYPE):
        name = context.literal(properties.get("Name")) or f"{context.stack}-{logical_id}-GENERATED"
        rule_arn = f"arn:{context.partition}:events:{context.region}:{context.account}:rule/{name}"
        for target in properties.get("Targets") or []:
            topic_id = _topic_ref(
                target.get("Arn") if isinstance(target, Mapping) else None, topics
            )
            if topic_id:
                yield (
                    topic_id,
                    _Publisher(
                        logical_id,
                        kind,
                        "Targets",
                        EVENTS_PRINCIPAL,
                        {**secure, **source_account, "aws:SourceArn": rule_arn},
                    ),
                )
    yield from _role_publishers(context, resolver, topics, secure)


def _role_publishers(
    context: _Context,
    resolver: TemplateResolver,
    topics: Mapping[str, Any],
    secure: Mapping[str, str],
) -> Iterator[tuple[str, _Publisher]]:
    """Roles of the template whose own policies allow them to publish to a topic of it."""
    for role_id, identity in _role_policies(context, resolver).items():
        try:
            role_arn = str(resolver.resolve(context.stack, {"Fn::GetAtt": [role_id, "Arn"]}))
        except UnsupportedPolicyError:
            continue
        for topic_id in topics:
            topic_arn = str(resolver.resolve(context.stack, {"Ref": topic_id}))
            request = Request("sns:Publish", topic_arn, role_arn, dict(secure))
            try:
                allowed = evaluate(request, identity=identity).allowed
            except UnsupportedPolicyError:
                continue
            if allowed:
                yield (
                    topic_id,
                    _Publisher(
                        role_id,
                        ROLE_TYPE,
                        "Policies",
                        role_arn,
                        {
                            **secure,
                            "aws:PrincipalArn": role_arn,
                            "aws:PrincipalAccount": context.account,
                        },
                        identity=identity,
                    ),
                )


def _role_policies(
    context: _Context, resolver: TemplateResolver
) -> dict[str, tuple[Statement, ...]]:
    """Each role of the template -> the statements of its inline and attached policies."""
    found: dict[str, list[Statement]] = {
        logical_id: [] for logical_id, _, _ in context.resources(ROLE_TYPE)
    }

    def add(roles: Sequence[Any], document: Any, source: str) -> None:
        raw = (document or {}).get("Statement", []) if isinstance(document, Mapping) else []
        statements: list[Statement] = []
        # Statement by statement: one naming another stack's export (a table, a secret) cannot
        # be resolved here and cannot be about this template's topics either.
        for item in raw if isinstance(raw, list) else [raw]:
            try:
                resolved = resolver.resolve(context.stack, item)
                statements.append(Statement.from_json(resolved, source=source))
            except UnsupportedPolicyError:
                continue
        for role in roles:
            role_id = role.get("Ref") if isinstance(role, Mapping) else None
            if role_id in found:
                found[role_id] += statements

    for logical_id, _, properties in context.resources(ROLE_TYPE):
        for policy in properties.get("Policies") or []:
            if isinstance(policy, Mapping):
                add([{"Ref": logical_id}], policy.get("PolicyDocument"), f"inline {logical_id}")
    for logical_id, _, properties in context.resources(POLICY_TYPE, MANAGED_POLICY_TYPE):
        add(properties.get("Roles") or [], properties.get("PolicyDocument"), logical_id)
    return {role_id: tuple(statements) for role_id, statements in found.items()}


# --------------------------------------------------------------------------------------------
# State machine definitions
# --------------------------------------------------------------------------------------------


def _state_machine_violations(template: Mapping[str, Any]) -> Iterator[Violation]:
    """asl-validator's findings, one violation each (see :mod:`asl_validation`)."""
    try:
        from edx_vault.devtools.embedded_aws.asl_validation import template_definition_errors
    except ImportError:  # pragma: no cover - the module ships with the project
        return
    resources = template.get("Resources", {})
    for message in template_definition_errors(template):
        logical_id, _, finding = message.partition(": ")
        resource = resources.get(logical_id, {})
        properties = resource.get("Properties") or {}
        where = "Definition" if "Definition" in properties else "DefinitionString"
        code, _, text = finding.partition(": ")
        if not text or not code.replace("_", "").isupper():
            code, text = "(not checkable)", finding
        yield Violation(
            logical_id,
            str(resource.get("Type", "AWS::StepFunctions::StateMachine")),
            where,
            code,
            "Step Functions: CreateStateMachine refuses an invalid definition "
            f"(InvalidDefinition); asl-validator: {text}",
        )
