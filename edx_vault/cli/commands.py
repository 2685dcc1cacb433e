"""The table of ``edx-vault`` commands: each one's name, help, arguments and run function.

:data:`COMMANDS` is the whole command line: :func:`edx_vault.cli.parser.build_parser` turns it
into argparse parsers, in this order, and ``main`` calls the chosen command's ``run(args,
context) -> int``. A command with subcommands (``local up``, ``grants check``) lists them as
commands of their own; one that runs without a subcommand (``grants``) has a ``run`` too.
Adding a command is adding a row here and its module's ``run``.

Every module named here is imported when the parser is built; one that needs a heavy package
(moto and the CDK for ``local``, the CDK for ``grants check``) imports it inside the function
that uses it, so every other command runs without them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from edx_vault.cli import (
    audit,
    grants,
    import_credentials,
    import_key,
    info,
    keygen,
    local,
    pseudonym_key,
    status,
    sync,
    verify,
)
from edx_vault.cli.context import CliContext
from edx_vault.cli.doctor import report as doctor
from edx_vault.devtools.embedded_aws import DEFAULT_PORT, DEFAULT_STATE_FILE

Run = Callable[[argparse.Namespace, CliContext], int]


@dataclass(frozen=True)
class Argument:
    """One ``add_argument`` call: its option strings (or name) and its keyword arguments."""

    flags: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)


def arg(*flags: str, **options: Any) -> Argument:
    """An :class:`Argument`, written as the ``add_argument`` call it stands for."""
    return Argument(flags, options)


@dataclass(frozen=True)
class Command:
    """One command (or subcommand) of the table.

    Attributes
    ----------
    name
        As typed: ``import-key``, ``up``.
    help
        The line in the list of commands; also the description when there is no other.
    run
        What the command does; ``None`` when it only holds subcommands.
    description
        The paragraph at the top of the command's ``--help``.
    arguments
        Its arguments, in the order ``--help`` lists them.
    subcommands
        Its subcommands, shown as ``metavar`` (required when ``run`` is ``None``).
    """

    name: str
    help: str
    run: Run | None = None
    description: str | None = None
    arguments: tuple[Argument, ...] = ()
    subcommands: tuple[Command, ...] = ()
    metavar: str = "SUBCOMMAND"


JSON: Final = arg("--json", action="store_true", help="print JSON for scripts")
# `grants check` takes the global options after its own arguments too, unlisted.
_GLOBALS_UNLISTED: Final = tuple(
    arg(option, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    for option in ("--config", "--region")
)
_STATE_FILE: Final = arg(
    "--state-file",
    type=Path,
    default=DEFAULT_STATE_FILE,
    help=f"the running server's state (default {DEFAULT_STATE_FILE})",
)


def _local_action(name: str, help_text: str, run: Run, *arguments: Argument) -> Command:
    """A ``local`` action: its help is its description, and it names the server's state file."""
    return Command(name, help_text, run, help_text, (_STATE_FILE, *arguments))


COMMANDS: Final[tuple[Command, ...]] = (
    Command(
        "keygen",
        "generate the pipeline's OpenPGP key (private half into Secrets Manager)",
        keygen.run,
        "Generate the pipeline's own RSA key pair. The private key and a generated passphrase "
        "go straight into Secrets Manager; the public key is written to --out for you to send "
        "to edX. With --retire, remove an old key instead, once nothing needs it.",
        (
            arg(
                "--email",
                help="(required to generate) the key's user id: an official institutional address",
            ),
            arg(
                "--bits",
                type=int,
                choices=keygen.KEY_SIZES,
                help=f"RSA key size (default {keygen.DEFAULT_BITS}, as edX's guide)",
            ),
            arg(
                "--expires",
                help=(
                    "expiry: 2y, 18m, 90d, a date YYYY-MM-DD, or never (default "
                    f"{keygen.DEFAULT_EXPIRY}); edX stops exporting to an expired key, "
                    "`edx-vault status` warns 30 days before"
                ),
            ),
            arg(
                "--out",
                type=Path,
                help="(required to generate) where to write the public key (.asc)",
            ),
            arg("--force", action="store_true", help="overwrite an existing --out file"),
            arg(
                "--rotate",
                action="store_true",
                help="add a new primary key while keeping the stored one(s) for decryption",
            ),
            arg(
                "--retire",
                nargs="+",
                metavar="FINGERPRINT",
                help=(
                    "remove an old stored key instead of generating one: refused while an "
                    "unpublished raw/ file or edX's newest files are encrypted to it, and for the "
                    "only or primary key (fingerprint with or without spaces, or a long key id)"
                ),
            ),
            arg(
                "--dry-run",
                action="store_true",
                help="with --retire: run the checks and say what would be removed, change nothing",
            ),
        ),
    ),
    Command(
        "import-key",
        "store an existing armored private key as the pipeline's key",
        import_key.run,
        "Check an existing OpenPGP private key and store it, with its passphrase, in Secrets "
        "Manager as the pipeline's key. The passphrase is read from standard input "
        "(--passphrase-stdin) or prompted for; it is never taken from the command line.",
        (
            arg(
                "file",
                help="the armored private key (gpg --export-secret-keys --armor), or - for stdin",
            ),
            arg(
                "--passphrase-stdin",
                action="store_true",
                help="read the key's passphrase from the first line of standard input",
            ),
            arg(
                "--rotate",
                action="store_true",
                help="add it as the new primary key, keeping the stored one(s) for decryption",
            ),
        ),
    ),
    Command(
        "import-credentials",
        "decrypt edX's credentials.csv.gpg in memory and store the keys",
        import_credentials.run,
        "Decrypt edX's credentials.csv.gpg with the pipeline key (in memory), check it is edX's "
        "one-row CSV and store the keys in the edX credentials secret. A plain CSV is accepted "
        "too; '-' reads standard input.",
        (
            arg("file", help="credentials.csv.gpg, or the plain CSV, or - for stdin"),
            arg(
                "--check",
                action="store_true",
                help="before storing, check AWS accepts the keys (sts get-caller-identity)",
            ),
        ),
    ),
    Command(
        "pseudonym-key",
        "create, rotate or inspect the de-identified tier's pseudonym key",
        description=(
            "The HMAC key of the de-identified tier's pseudonyms, in Secrets Manager. It is "
            "generated here and never shown. Create it once before the first sync; rotating "
            "it breaks linkage with every de-identified copy made before."
        ),
        metavar="ACTION",
        subcommands=(
            Command(
                "init",
                "generate the pseudonym key (refused when one is stored)",
                pseudonym_key.run_init,
                f"Generate {pseudonym_key.KEY_BYTES} random bytes into the pseudonym key secret. "
                "Refused when the secret already holds a key: replacing one is `rotate`.",
            ),
            Command(
                "rotate",
                "replace the pseudonym key (breaks linkage; needs --yes-break-linkage)",
                pseudonym_key.run_rotate,
                "Say what a new key breaks, then, with --yes-break-linkage, replace the key. "
                "Without the flag nothing changes and the exit status is 1.",
                (
                    arg(
                        pseudonym_key.ROTATE_FLAG,
                        action="store_true",
                        help=(
                            "replace the key: earlier de-identified copies stop joining later "
                            "ones, and the next sync rebuilds the whole tier"
                        ),
                    ),
                ),
            ),
            Command(
                "status",
                "whether the pseudonym key is stored, and when it was created",
                pseudonym_key.run_status,
                "Show whether the pseudonym key secret holds a key and when it was created "
                "(never the key).",
                (JSON,),
            ),
        ),
    ),
    Command(
        "sync",
        "start a sync now (optionally wait for it and show its report)",
        sync.run,
        "Start the sync state machine now, outside the schedule.",
        (
            arg(
                "--wait", action="store_true", help="follow the run, then print its report summary"
            ),
            arg(
                "--retry-failed",
                action="store_true",
                help="try again files that failed permanently before (e.g. after importing a key)",
            ),
            arg("--json", action="store_true", help="print the execution (and report) as JSON"),
        ),
    ),
    Command(
        "status",
        "recent syncs, the latest report, key expiry, credentials",
        status.run,
        "Show the vault's recent syncs, latest report and secrets' state.",
        (JSON,),
    ),
    Command(
        "info",
        "the deployed resource names (bucket, keys, secrets, state machine...)",
        info.run,
        "Show the resources the vault's stacks created.",
        (JSON,),
    ),
    Command(
        "verify",
        "re-hash every published object against the manifest",
        verify.run,
        "Stream every published object through sha256 and compare it with the manifest. Exit "
        "status 1 if any object is missing, replaced or altered.",
        (JSON,),
    ),
    Command(
        "audit",
        "who read the data bucket, from its access logs; flags unexpected readers",
        audit.run,
        "Read the data bucket's S3 server access logs since --since and show, per researcher, "
        "the objects and bytes read, the first and last read and the identifying files read, "
        "then every other principal. Exit status 1 if anyone outside the vault read data.",
        (
            arg(
                "--since",
                type=audit.parse_since,
                default=None,
                help=f"from this date or time, UTC (default: {audit.DEFAULT_DAYS} days ago)",
            ),
            arg("--researcher", help="show this researcher only (unexpected readers still show)"),
            JSON,
        ),
    ),
    Command(
        "doctor",
        "check the deployed vault is set up to work, and say how to fix what is not",
        doctor.run,
        "Read-only checks of the deployed vault: stacks, secrets, key expiry, edX's credentials "
        "and keys, alarm subscription, schedule. Exit status 1 if any fails.",
        (JSON,),
    ),
    Command(
        "local",
        "run the vault on an embedded AWS (moto) on this machine",
        description=(
            "Start, seed and stop an embedded AWS (moto in server mode) with the vault's stacks "
            "deployed in it. No AWS account is used."
        ),
        metavar="ACTION",
        subcommands=(
            _local_action(
                "up",
                "start the embedded AWS and deploy the app into it",
                local.run_up,
                arg(
                    "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
                ),
                arg(
                    "--config",
                    type=Path,
                    default=argparse.SUPPRESS,
                    help="the configuration to deploy (default: $EDX_VAULT_CONFIG, else the example)",
                ),
                arg(
                    "--app",
                    "--assembly",
                    dest="assembly",
                    type=Path,
                    help="deploy this cloud assembly (a `cdk synth` output directory, as `cdk "
                    "deploy --app cdk.out` does) instead of synthesizing the app: try the exact "
                    "assembly you will deploy; --config must still name the configuration it was "
                    "made from",
                ),
                arg(
                    "--faults",
                    type=Path,
                    help="inject the faults of this TOML file ([[fault]] rules, docs/embedded-aws.md)",
                ),
                arg("--json", action="store_true", help="print the environment as JSON"),
            ),
            _local_action(
                "env",
                "print the environment that points at the running embedded AWS",
                local.run_env,
                arg("--json", action="store_true", help="print it as JSON"),
            ),
            _local_action(
                "seed",
                "put a synthetic edX package and credentials.csv.gpg in place",
                local.run_seed,
                arg(
                    "--out",
                    type=Path,
                    default=local.DEFAULT_CREDENTIALS_OUT,
                    help=(
                        "where to write credentials.csv.gpg (default "
                        f"{local.DEFAULT_CREDENTIALS_OUT})"
                    ),
                ),
                arg(
                    "--size",
                    choices=("small", "demo"),
                    default="demo",
                    help="demo: every awkward name edX produces (default); small: one course per org",
                ),
                arg(
                    "--corrupt",
                    action="store_true",
                    help="tamper with one event log, so the sync reports a failure",
                ),
                arg("--json", action="store_true", help="print what was seeded as JSON"),
            ),
            _local_action(
                "down", "stop the embedded AWS (everything in it is lost)", local.run_down
            ),
        ),
    ),
    Command(
        "grants",
        "who can read what, until when; check one researcher and key",
        grants.run_list,
        "List researcher grants (from the configuration), or check whether a researcher may read "
        "a key (from the synthesized policies).",
        (
            JSON,
            arg(
                "--patterns",
                action="store_true",
                help="also list each grant's key patterns and listing prefixes",
            ),
        ),
        subcommands=(
            Command(
                "check",
                "ALLOW or DENY for one researcher and key, and why",
                grants.run_check,
                "Synthesize the app and evaluate the researcher role's identity policy, the "
                "bucket policy and the data key's policy for reading KEY.",
                (
                    arg("researcher", help="the researcher's name in the configuration"),
                    arg("key", help="an object key in the data bucket (or a prefix with --list)"),
                    arg(
                        "--list",
                        action="store_true",
                        help="check listing with KEY as the prefix instead",
                    ),
                    arg(
                        "--at",
                        type=grants.parse_moment,
                        default=None,
                        help=(
                            "evaluate at this date or time, UTC (YYYY-MM-DD or ISO 8601; "
                            "default: now)"
                        ),
                    ),
                    JSON,
                    *_GLOBALS_UNLISTED,
                ),
            ),
        ),
    ),
)
