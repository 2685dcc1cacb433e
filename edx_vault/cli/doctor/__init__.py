"""``edx-vault doctor``: is the deployed vault set up to work, and if not, what to do about it.

Read-only checks of a deployed vault (real or embedded), each answered ``PASS``, ``WARN`` or
``FAIL`` with one line of evidence and, unless it passed, the fix: a command or a section of
the docs. A check that cannot run because something it needs failed an earlier check is
``SKIP`` (the earlier ``FAIL`` says what to do). The exit status is 1 if any check failed.

1. The three stacks are deployed, usable, in the account and region the configuration names,
   and match it (the data bucket's name, the researchers' roles): :mod:`.stacks`.
2. edX's credentials, the pipeline key and its passphrase are stored (``DescribeSecret``), and
3. the pipeline key's expiry, as its secret's tags record it (what the expiry alarm reads):
   :mod:`.stored_secrets`.
4. edX's keys list every prefix the sync lists, org by org, and
5. each org's newest file at edX is encrypted to a key the pipeline holds: its session key
   packets, from a ranged read, against the stored keys' ids: :mod:`.edx_access`.
6. Someone has confirmed a subscription to the alerts topic, and
7. the schedule exists and is enabled: :mod:`.alerts_and_schedule`.

:mod:`.table` lists the checks in order with what each needs; :mod:`.report` is the command
(JSON, or the table :func:`edx_vault.cli.checks.print_checks` prints); :mod:`.facts` holds what
the checks share (the configuration, the deployment, the stacks, edX's S3 client).

Every call is a read: Describe*, List*, Get*, and ranged GETs of edX's files with edX's keys.
Nothing secret is printed: edX's access key id only masked, no key material, no passphrase.

May import the CLI's shared modules (context, checks, errors, edx_newest_files, sync) and every
package below the CLI; nothing else in the CLI imports it but the command table.
"""
