"""The failures the pipeline records instead of retrying.

A :class:`PermanentError` is about the file itself (corrupt, for another key, unknown name...):
retrying cannot help, so the item is marked failed in the manifest with ``code`` and ``reason``
and the run goes on. Anything else (throttling, network) propagates so Step Functions retries it.
Messages never include secret values or plaintext.
"""

from __future__ import annotations


class PermanentError(Exception):
    """A file that cannot be processed as it is.

    Parameters
    ----------
    code
        A short, stable identifier for reports and alarms (``tampered``, ``unsafe-member``...).
    reason
        One sentence for a person: what is wrong and, where it helps, what to do.
    """

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
