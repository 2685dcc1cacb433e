"""``edx-vault keygen --retire FINGERPRINT``: remove an old pipeline key once nothing needs it.

After ``keygen --rotate`` the key secret holds the old key and the new, primary one, so that
files edX encrypted before it switched still decrypt. Removing the old key too early would leave
files that nothing can ever publish, so it is removed only when all of these hold, each printed
with its evidence before anything changes:

1. **It is a stored key, neither the only one nor the primary** (the key edX should be encrypting
   to now). Without a key the pipeline decrypts nothing; without the primary, nothing edX sends.
2. **No unpublished file in the vault's ``raw/`` mirror is encrypted to it.** A ``raw/`` file is
   published when the manifest says it was mirrored at the version it holds, split into its
   units (itself, or each zip member), and every unit is done. A unit that failed for a reason
   no key can change (``edx-export-failed``: edX shipped a traceback; ``not-publishable``) does
   not count; any other failure does, since ``sync --retry-failed`` would need the key. The
   session key packets of each unpublished file (for a zip, of its first encrypted member: edX
   encrypts every member of one export to the same keys) are read with a ranged GET; a file
   whose bytes are not an encrypted message (a corrupt zip, an empty file) needs no key.
3. **No org's newest file at edX is encrypted to it** (found and read as ``doctor`` does,
   :mod:`edx_vault.cli.edx_newest_files`). A file still encrypted to the old key means edX still
   has it registered: edX's next files would need it, and once it expires edX stops exporting
   for that org altogether. At least one org must have a file, or nothing shows that edX has
   switched.

Any file whose recipients cannot be told (hidden recipients, more recipients than the bytes
read hold, a read edX refused) counts against retiring: the check must prove the key is not
needed, not fail to prove it is.

Which key: its fingerprint (40 or 64 hex digits; spaces, as ``keygen`` prints it, and any case
allowed), or a long key id (16 hex digits) of the key or of one of its subkeys, as ``doctor``
prints the ids edX's files name, accepted only when exactly one stored key has it. A short key
id (8 hex digits) is refused: anyone can make a key with a given short id.

Then the key secret is written once (``PutSecretValue``) with the remaining keys, in the format
of :mod:`edx_vault.settings.secret_formats` that the decrypt function reads; the primary key, the
passphrase secret and the secret's tags (which describe the primary key) stay as they are. The
secret is read again just before the write: if it changed while the checks ran (another
``keygen``), nothing is written. The previous version, which still holds the retired key, stays
``AWSPREVIOUS`` until the secret next changes: the way back.

Nothing secret is printed: fingerprints, user ids, key ids and object keys only.

:mod:`.plan` reads which key is meant and refuses the only and the primary one, :mod:`.confirm`
runs checks 2 and 3, :mod:`.apply` is ``keygen --retire`` itself: plan, confirm, print the
checks (:func:`edx_vault.cli.checks.print_checks`), write.

May import the CLI's shared modules (context, checks, errors, key_storage, edx_newest_files) and
every package below the CLI; only :mod:`edx_vault.cli.keygen` imports it.
"""
