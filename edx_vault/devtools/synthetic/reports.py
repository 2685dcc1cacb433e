"""The files edX hands over beside course exports: email opt-in report, failed-export
traceback, research data exchange (RDX) archive, and the czar's ``credentials.csv``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Final

from edx_vault.devtools.synthetic.course_files import deterministic_tar_gz
from edx_vault.devtools.synthetic.people import learners, rng, timestamp
from edx_vault.devtools.synthetic.spec import PackageSpec, SyntheticOrg

EMAIL_OPT_IN_HEADER: Final = (
    "user_id",
    "username",
    "email",
    "full_name",
    "course_id",
    "is_opted_in_for_email",
    "preference_set_datetime",
)
CREDENTIALS_HEADER: Final = ("User Name", "Access Key Id", "Secret Access Key")
FAILED_EXPORT_TEXT: Final = "An error occurred generating this file.\n"


def email_opt_in(spec: PackageSpec, org: SyntheticOrg, day: dt.date) -> bytes:
    """The org's email opt-in report: a CSV row per learner and edx.org course."""
    draw = rng(spec, "email-opt-in", org.org_id, day)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(EMAIL_OPT_IN_HEADER)
    for learner in learners(spec, org):
        for course in org.courses:
            if course.site != "edx":
                continue  # the report covers edx.org only
            writer.writerow(
                (
                    learner.user_id,
                    learner.username,
                    learner.email,
                    # A comma and a quote in some names: the CSV must be quoted correctly.
                    f'{learner.full_name}, "Jr"' if learner.user_id % 5 == 0 else learner.full_name,
                    course.course_id,
                    draw.choice(("True", "False")),
                    timestamp(draw, day) + "+00:00",
                )
            )
    return text.getvalue().encode()


def failed_export_text(file_name: str) -> bytes:
    """What edX ships as ``{file}.failed`` when exporting ``file_name`` failed: a traceback."""
    return (
        FAILED_EXPORT_TEXT
        + "Traceback (most recent call last):\n"
        + '  File "/edx/app/exporter/exporter/main.py", line 151, in _run_task\n'
        + "    task.run(filename, dry_run, **kwargs)\n"
        + f"exporter.tasks.FatalTaskError: Unable to copy {file_name}\n"
    ).encode()


def rdx_archive(spec: PackageSpec, org: SyntheticOrg) -> tuple[str, bytes]:
    """An RDX request for the org: its request id and its ``.tar.gz`` (a README and grades)."""
    draw = rng(spec, "rdx", org.org_id)
    request_id = f"rdx-{draw.randrange(10**4):04d}"
    rows = "".join(f"{learner.user_id},{draw.random():.3f}\n" for learner in learners(spec, org))
    archive = deterministic_tar_gz(
        [
            ("README.txt", f"Research data exchange request {request_id}\n".encode()),
            ("grades.csv", ("user_id,grade\n" + rows).encode()),
        ],
        mtime=0,
    )
    return request_id, archive


def credentials_csv(
    access_key_id: str = "AKIAIOSFODNN7EXAMPLE",
    secret_access_key: str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # noqa: S107 - AWS's doc example
    user_name: str = "edx-data-czar-example",
) -> bytes:
    """The plaintext of edX's ``credentials.csv.gpg``: a header and one row.

    Defaults are AWS's documented example keys, which open nothing. Encrypt the result with
    :func:`~edx_vault.devtools.synthetic.encryption.encrypt_to_recipients` to get the ``.gpg``
    a czar receives.
    """
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CREDENTIALS_HEADER)
    writer.writerow((user_name, access_key_id, secret_access_key))
    return text.getvalue().encode()
