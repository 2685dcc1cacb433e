#!/usr/bin/env bash
# `make demo`: the whole product, end to end, on the embedded AWS. No AWS account is used.
#
#   1. start the embedded AWS (moto) and deploy the app's synthesized stacks into it
#   2. generate the pipeline's OpenPGP key (private half into Secrets Manager)
#   3. play edX: a synthetic data package encrypted to that key, and credentials.csv.gpg
#   4. import the credentials and create the pseudonym key, as a data czar would
#   5. run a sync and wait for it: mirror, decrypt in "Lambda", re-encrypt under KMS, split by
#      course, build the de-identified tier, report
#   6. list what was published in the institutional bucket, and check the de-identified tier
#
# The embedded AWS is always stopped at the end, whatever happens. Everything the demo writes
# goes to a temporary directory; a server you started yourself with `edx-vault local up` is
# left alone. Options through the environment:
#   DEMO_CORRUPT=1   also tamper with one event log and ship a failed export (the failing run)
#   DEMO_SIZE=small  a smaller package (default: demo, every awkward name edX produces)
#   DEMO_KEEP=1      leave the embedded AWS running at the end (stop it with the printed command)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="$ROOT/.venv/bin/python"
EDX="$ROOT/.venv/bin/edx-vault"

fail() {
  echo "demo: $*" >&2
  exit 1
}
step() {
  echo
  echo "==> $*"
}

[ -x "$EDX" ] || fail "the edx-vault command is not installed in .venv: run \`make setup\` first"
"$EDX" --help >/dev/null 2>&1 || fail "\`edx-vault --help\` fails: the admin CLI is not usable yet"
for command in local keygen import-credentials pseudonym-key sync; do
  "$EDX" "$command" --help >/dev/null 2>&1 \
    || fail "the admin CLI has no \`$command\` command yet (edx_vault/cli/commands.py)"
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/edx-vault-demo.XXXXXX")"
STATE="$WORK/state/local.json"
PORT="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
if [ -n "${EDX_VAULT_CONFIG:-}" ]; then
  CONFIG="$EDX_VAULT_CONFIG"
else
  # The example configuration, backfilling from last Saturday: the seeded package is that
  # weekend's, so the report's "expected but missing" lists this week's days, not every day
  # since the example's 2024-01-01.
  SINCE="$("$PYTHON" -c 'import datetime as d; t = d.date.today(); print(t - d.timedelta(days=(t.weekday() - 5) % 7 or 7))')"
  CONFIG="$WORK/vault.toml"
  sed "s/^backfill_from = .*/backfill_from = $SINCE/" "$ROOT/config/example.toml" >"$CONFIG"
fi

cleanup() {
  local status=$?
  if [ "${DEMO_KEEP:-0}" = 1 ] && [ -f "$STATE" ]; then
    echo
    echo "The embedded AWS is still running. Use it with:"
    echo "  eval \"\$($EDX local env --state-file $STATE)\""
    echo "Stop it with:"
    echo "  $EDX local down --state-file $STATE && rm -rf $WORK"
    exit "$status"
  fi
  "$EDX" local down --state-file "$STATE" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "1/7 Starting the embedded AWS on port $PORT and deploying $(basename "$CONFIG")"
environment="$("$EDX" local up --port "$PORT" --state-file "$STATE" --config "$CONFIG")" \
  || fail "\`edx-vault local up\` failed (its log: $WORK/state/local.log)"
eval "$environment"
echo "$environment"
deployed="$("$EDX" local env --json --state-file "$STATE")"
[[ "$deployed" == *'-Pipeline"'* ]] \
  || fail "the Pipeline stack is not in the app yet (stacks/pipeline_stack.py): nothing can sync"

step "2/7 Generating the pipeline's OpenPGP key (edx-vault keygen)"
"$EDX" keygen --email czar@example.edu --out "$WORK/pipeline.asc"

step "3/7 Playing edX: a synthetic package encrypted to that key (edx-vault local seed)"
seed_options=(--state-file "$STATE" --out "$WORK/credentials.csv.gpg" --size "${DEMO_SIZE:-demo}")
if [ "${DEMO_CORRUPT:-0}" = 1 ]; then
  seed_options+=(--corrupt)
fi
"$EDX" local seed "${seed_options[@]}" --json >"$WORK/seeded.json"
"$PYTHON" - "$WORK/seeded.json" <<'PY'
import json
import sys

seeded = json.load(open(sys.argv[1], encoding="utf-8"))
line = (
    f"seeded {seeded['objects']} objects in {', '.join(seeded['buckets'])}: "
    f"{seeded['files_inside']} encrypted files, {seeded['files_to_publish']} to publish"
)
if seeded["corrupted"]:
    line += f"; tampered with {seeded['corrupted']} and shipped one failed export"
print(line)
PY

step "4/7 Importing edX's credentials and creating the pseudonym key (edx-vault import-credentials, pseudonym-key init)"
"$EDX" import-credentials "$WORK/credentials.csv.gpg"
"$EDX" pseudonym-key init

step "5/7 Syncing: mirror, decrypt, re-encrypt under KMS, split, de-identify, report (edx-vault sync --wait)"
sync_status=0
"$EDX" sync --wait || sync_status=$?

step "6/7 What the institutional bucket holds now"
published_status=0
"$PYTHON" - "$WORK/seeded.json" "${DEMO_CORRUPT:-0}" "$CONFIG" "${DEMO_SIZE:-demo}" <<'PY' || published_status=$?
"""List the published prefixes of the data bucket, then check every seeded file is published.

A sync that says it succeeded while a file it was given is missing is the worst failure the
vault can have, so the demo checks what it seeded against what the bucket holds.
"""

import collections
import json
import sys

import boto3

bucket = None
for stack in boto3.client("cloudformation").describe_stacks()["Stacks"]:
    for output in stack.get("Outputs", []):
        if output["OutputKey"] == "DataBucketName":
            bucket = output["OutputValue"]
if bucket is None:
    sys.exit("no DataBucketName output: is the storage stack deployed?")
counts: collections.Counter[str] = collections.Counter()
sizes: collections.Counter[str] = collections.Counter()
for page in boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket):
    for item in page.get("Contents", []):
        if item["Key"].startswith("_work/"):  # the pipeline's scratch space
            continue
        parts = item["Key"].split("/")
        prefix = "/".join(parts[:2]) + "/" if len(parts) > 2 else parts[0]
        counts[prefix] += 1
        sizes[prefix] += item["Size"]
print(f"s3://{bucket}/")
for prefix in sorted(counts):
    print(f"  {prefix:<60} {counts[prefix]:>5} objects {sizes[prefix]:>10} bytes")

seeded = json.load(open(sys.argv[1], encoding="utf-8"))
corrupt = sys.argv[2] == "1"
present = set()
for page in boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket):
    present.update(item["Key"] for item in page.get("Contents", []))

# Each daily event log is also published split by course, so a grant for one course reads that
# course's events only: events-by-course/org=/site=/course=/date=/ (docs/researchers.md).
def org_site_date(key: str) -> tuple[str, ...]:
    levels = dict(part.split("=", 1) for part in key.split("/")[1:-1] if "=" in part)
    return levels["org"], levels["site"], levels["date"]

course_files = collections.defaultdict(list)
for key in sorted(present):
    if key.startswith("events-by-course/"):
        course_files[org_site_date(key)].append(key)
print()
print("Event logs split by course (one file per course; course=_none: events of no course):")
unsplit = []
logs = sorted(k for k in present if k.startswith("events/"))
for index, key in enumerate(logs):
    files = course_files.get(org_site_date(key), [])
    if not files:
        unsplit.append(key)
    if index < 3:  # a few as examples; every log is checked
        print(f"  {key}")
        for course_key in files:
            print(f"    -> {course_key}")
if len(logs) > 3:
    print(f"  ... and {len(logs) - 3} more event logs, each split the same way")
if unsplit:
    print(f"NOT SPLIT: {len(unsplit)} published event logs have no course files")
    sys.exit(1)
expected = [
    item
    for item in seeded["to_publish"]
    if not (corrupt and item["source"] == seeded["corrupted"])
]
missing = [item for item in expected if item["key"] not in present]
print()
if missing:
    print(f"MISSING: {len(missing)} of the {len(expected)} files edX delivered are not published:")
    for item in missing[:20]:
        print(f"  {item['key']}  (from s3://{item['source']})")
    sys.exit(1)
print(f"Every one of the {len(expected)} files edX delivered is published.")

# The de-identified tier (docs/deidentification.md): every published file of a copied kind has
# its copy under deidentified/, and no synthetic learner's username, email or IP is in it.
import gzip
import re

from edx_vault.devtools.embedded_aws.seed import seed_package_spec
from edx_vault.devtools.synthetic.people import learners
from edx_vault.pipeline.deidentify_plan import has_copy
from edx_vault.settings.config import load_config

copies = {key for key in present if key.startswith("deidentified/")}
wanted = {"deidentified/" + key for key in present if has_copy(key)}
print()
print(f"De-identified tier: {len(copies)} copies under deidentified/, e.g.:")
for key in sorted(copies)[:3]:
    print(f"  {key}")
if wanted - copies:
    print(f"NOT DE-IDENTIFIED: {len(wanted - copies)} published files have no copy, e.g.:")
    for key in sorted(wanted - copies)[:10]:
        print(f"  {key}")
    sys.exit(1)
spec = seed_package_spec(load_config(sys.argv[3]), sys.argv[4], failed_export=corrupt)
people = [learner for org in spec.orgs for learner in learners(spec, org)]
tier = b""
s3 = boto3.client("s3")
for key in sorted(copies):
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    tier += gzip.decompress(body) if key.endswith(".gz") else body
named = [v for p in people for v in (p.username, p.email) if v.encode() in tier]
named += re.findall(rb"(?:203\.0\.113|198\.51\.100)\.\d{1,3}", tier)
if named:
    print(f"IDENTIFIED: the de-identified tier holds {len(named)} learner identifiers")
    sys.exit(1)
print(
    f"Every copied file has its copy, and none of the {len(people)} synthetic learners' "
    "usernames, emails or IP addresses is in any byte of them."
)
PY

step "7/7 A researcher reads a granted course, and the data czar's audit shows it"
research_status=0
if [ "$published_status" -eq 0 ]; then
  "$PYTHON" - "$CONFIG" <<'PY' || research_status=$?
"""The example config's in-account researcher (identifiable = false) lists one course's
de-identified events by the dates of their grant and reads them with the pandas recipe of
docs/researchers.md
(edx_vault/devtools/research_recipes.py), is refused a listing of the course's whole folder, of
the original tier and of the org's whole logs, and `edx-vault audit` then shows those reads."""

import os
import sys

import boto3
from botocore.exceptions import ClientError

from edx_vault.access.researcher_roles import ACCESS_STACK_SUFFIX, role_output_name
from edx_vault.devtools.embedded_aws.clients import local_client
from edx_vault.devtools.research_recipes import (
    list_files,
    listing_prefixes,
    read_events,
    researcher_filesystem,
    researcher_s3,
)
from edx_vault.settings import stack_outputs
from edx_vault.settings.config import load_config

config = load_config(sys.argv[1])
researcher = next(r for r in config.researchers if r.principal.endswith(":user/asmith"))
endpoint, region = os.environ["AWS_ENDPOINT_URL"], os.environ["AWS_DEFAULT_REGION"]
outputs = {}
for stack in boto3.client("cloudformation").describe_stacks()["Stacks"]:
    for output in stack.get("Outputs", []):
        outputs[(stack["StackName"], output["OutputKey"])] = output["OutputValue"]
prefix = config.deployment.stack_prefix
bucket = outputs[(stack_outputs.stack_name(prefix, stack_outputs.STORAGE_STACK_SUFFIX), "DataBucketName")]
role = outputs[(stack_outputs.stack_name(prefix, ACCESS_STACK_SUFFIX), role_output_name(researcher.name))]
# The researcher's own IAM user (the grant's principal), made here as the account's root would.
iam = local_client("iam", endpoint=endpoint, region=region)
iam.create_user(UserName="asmith")
key = iam.create_access_key(UserName="asmith")["AccessKey"]
sts = boto3.client("sts", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
credentials = sts.assume_role(RoleArn=role, RoleSessionName="asmith")["Credentials"]
filesystem = researcher_filesystem(credentials, region=region, endpoint=endpoint)
s3 = researcher_s3(credentials, region=region, endpoint=endpoint)
scope = next(scope for scope in researcher.scopes if "events" in scope.categories)
course = "ExampleX-6.002x-2012_Fall"
original = f"events-by-course/org=examplex/site=edx/course={course}"
# identifiable = false: the grant reads the de-identified tier only (docs/deidentification.md),
# the same keys behind deidentified/, usernames as pseudonyms.
assert not researcher.identifiable
folder = f"deidentified/{original}"
# A dated grant lists its dates only: one prefix per whole year, month or day of its range.
prefixes = listing_prefixes(folder, "date", scope.date_from, scope.date_to)
events = read_events(filesystem, list_files(s3, bucket, prefixes))
print(f"{researcher.name} assumed {role.split(':')[-1]}")
print(f"  listed {', '.join(p.removeprefix(folder + '/') for p in prefixes)} of {course}")
print(f"  read {len(events)} de-identified events of {course} ({events['date'].nunique()} days), e.g.:")
print(events[["date", "event_type", "username"]].head(5).to_string(index=False))
refused = {
    "the course's whole folder (every date's file names)": [f"{folder}/"],
    "the original (identified) tier's files of the course": listing_prefixes(
        original, "date", scope.date_from, scope.date_to
    ),
    "the org's whole logs (events/)": listing_prefixes(
        "events/org=examplex/site=edx", "date", scope.date_from, scope.date_to
    ),
}
for what, prefixes in refused.items():
    try:
        list_files(s3, bucket, prefixes)
        sys.exit(f"{what} could be listed: the grant is wider than configured")
    except ClientError as error:
        if error.response["Error"]["Code"] != "AccessDenied":
            raise
        print(f"  {what}: listing refused by S3, AccessDenied, as the grant says")
PY
  "$EDX" audit --researcher asmith-irb-2026-201 || research_status=$?
fi

echo
if [ "$research_status" -ne 0 ]; then
  echo "Demo FAILED: the researcher's read or the audit did not go as the grant says (above)"
  exit 1
fi
if [ "$published_status" -ne 0 ]; then
  echo "Demo FAILED: files edX delivered are missing from the bucket (above); see $WORK/state/local.log"
  exit 1
fi
if [ "$sync_status" -eq 0 ]; then
  echo "Demo complete: the sync succeeded. Reports are under reports/ in the bucket above."
elif [ "${DEMO_CORRUPT:-0}" = 1 ]; then
  echo "Demo complete: the sync failed as it must on a tampered file; its report says which and why."
  sync_status=0
else
  echo "Demo finished, but the sync failed (exit $sync_status): see its report above and $WORK/state/local.log"
fi
exit "$sync_status"
