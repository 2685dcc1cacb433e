"""Synthetic people and seeded randomness, shared by every kind of generated file.

Each piece of a package draws from its own generator, seeded by the spec's seed and the piece's
scope (:func:`rng`), so adding a piece never changes another. Learners come from small built-in
lists of names, with ``example.edu``/``example.org`` addresses: never learner data.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from dataclasses import dataclass
from typing import Final

from edx_vault.devtools.synthetic.spec import PackageSpec, SyntheticOrg

_FIRST_NAMES: Final = ("Ada", "Zoë", "José", "Ngozi", "Wei", "Émile", "Priya", "Oğuz", "Saanvi")
_LAST_NAMES: Final = ("Lovelace", "Núñez", "O'Brien", "Okafor", "Zhang", "Müller", "Østergaard")
# Free text that exercises the TSV escapes (tab, newline, carriage return, backslash) and CSV
# quoting (comma, quote).
AWKWARD_TEXTS: Final = (
    "first line\nsecond line",
    "a\ttabbed\tanswer",
    "windows line\r\nend",
    "C:\\Users\\learner\\answer.txt",
    'She said "hello, world"',
    "plain answer",
    "naïve café résumé",
)


@dataclass(frozen=True)
class Learner:
    """One synthetic learner of an org."""

    user_id: int
    username: str
    email: str
    full_name: str


def rng(spec: PackageSpec, *scope: object) -> random.Random:
    """A generator for one piece of the package: adding a piece never changes another."""
    # Seeded on purpose: synthetic values must repeat, and nothing here is a secret.
    return random.Random("/".join(str(part) for part in (spec.seed, *scope)))  # noqa: S311


def learners(spec: PackageSpec, org: SyntheticOrg) -> tuple[Learner, ...]:
    """The org's learners: at least three, and one per table row."""
    draw = rng(spec, "learners", org.org_id)
    found = []
    for index in range(max(3, spec.rows_per_table)):
        first, last = draw.choice(_FIRST_NAMES), draw.choice(_LAST_NAMES)
        user_id = 1000 + index * 17 + draw.randrange(17)
        ascii_first = unicodedata.normalize("NFKD", first).encode("ascii", "ignore").decode()
        found.append(
            Learner(
                user_id=user_id,
                username=f"{ascii_first.lower()}_{index}{draw.randrange(100)}",
                email=f"learner{user_id}@{draw.choice(('example.edu', 'example.org'))}",
                full_name=f"{first} {last}",
            )
        )
    return tuple(found)


def timestamp(draw: random.Random, day: dt.date, *, sep: str = " ") -> str:
    """A random moment of ``day`` (UTC), to the microsecond, without a zone suffix."""
    seconds = draw.randrange(86400)
    moment = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) + dt.timedelta(
        seconds=seconds, microseconds=draw.randrange(1_000_000)
    )
    return moment.strftime(f"%Y-%m-%d{sep}%H:%M:%S.%f")
