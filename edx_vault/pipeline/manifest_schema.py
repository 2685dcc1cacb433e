"""Key schema of the manifest table, shared by the storage stack and the manifest code.

One row per mirrored source object (``sk = "object"``), one for the decryption of a whole
encrypted object (``sk = "decrypt"``) and one per zip member (``sk = "member#{member name}"``), and
for a daily event log one for its split by course (``sk = "split"``), all under the source's
partition key (``"{source bucket}/{source key}"``), so a zip and its members are
read with one query.
"""

from __future__ import annotations

from typing import Final

PARTITION_KEY: Final = "pk"
SORT_KEY: Final = "sk"
OBJECT_SORT_KEY: Final = "object"
DECRYPT_SORT_KEY: Final = "decrypt"
MEMBER_SORT_KEY_PREFIX: Final = "member#"
SPLIT_SORT_KEY: Final = "split"
