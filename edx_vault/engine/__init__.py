"""The machinery that moves bytes: ranged reads of S3 objects, zip members, the streaming gpg
decryption and its GnuPG homes, publishing under SSE-KMS, byte-identical copies from edX, OpenPGP
keys and packets, and the classification of failures into permanent and transient.

Each module works on one object or stream and knows nothing of runs, manifests or steps. May
import :mod:`edx_vault.package` and :mod:`edx_vault.settings`.
"""
