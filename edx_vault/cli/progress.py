"""A progress counter on stderr for long commands (``verify``), quiet when asked to be."""

from __future__ import annotations

from typing import TextIO


class Progress:
    """Counts done items out of ``total`` on ``stream``.

    On a terminal the line is redrawn in place; elsewhere (a log file, CI) a line is written
    about every 5 % so the log stays short.

    Parameters
    ----------
    stream
        Where to write (stderr).
    total
        How many items there are.
    label
        What is counted (``"objects verified"``).
    enabled
        ``False`` writes nothing (``--json``).
    """

    def __init__(self, stream: TextIO, total: int, label: str, *, enabled: bool = True) -> None:
        self._stream = stream
        self._total = total
        self._label = label
        self._enabled = enabled and total > 0
        self._done = 0
        self._interactive = stream.isatty()
        self._step = max(1, total // 20)

    def advance(self) -> None:
        """One more item done."""
        self._done += 1
        if not self._enabled:
            return
        if self._interactive:
            self._stream.write(f"\r{self._done}/{self._total} {self._label}")
            self._stream.flush()
        elif self._done % self._step == 0 or self._done == self._total:
            self._stream.write(f"{self._done}/{self._total} {self._label}\n")

    def finish(self) -> None:
        """End the redrawn line on a terminal."""
        if self._enabled and self._interactive:
            self._stream.write("\n")
            self._stream.flush()
