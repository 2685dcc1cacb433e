"""A course's files beside its tables: the forums export, the course structure and the OLX export.

Forums are mongoexport extended-JSON lines (threads and their comments); the course structure
is one JSON object keyed by block id, as ``dump_course_structure`` writes it; the course export
is a small ``.tar.gz`` of OLX, as ``export_olx`` writes it. The archives' bytes depend on their
contents only (:func:`deterministic_tar_gz`).
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import tarfile
from collections.abc import Iterator, Sequence

from edx_vault.devtools.synthetic.people import AWKWARD_TEXTS, learners, rng, timestamp
from edx_vault.devtools.synthetic.spec import PackageSpec, SyntheticCourse, SyntheticOrg


def forums_lines(
    spec: PackageSpec, org: SyntheticOrg, course: SyntheticCourse, day: dt.date
) -> Iterator[bytes]:
    """mongoexport extended-JSON lines: threads and their comments."""
    draw = rng(spec, "forums", org.org_id, course.entity, day)
    people = learners(spec, org)
    thread_id = ""
    for index in range(spec.rows_per_table):
        learner = draw.choice(people)
        oid = f"{draw.getrandbits(96):024x}"
        document: dict[str, object] = {
            "_id": {"$oid": oid},
            "_type": "CommentThread" if index % 3 == 0 else "Comment",
            "author_id": str(learner.user_id),
            "author_username": learner.username,
            "body": AWKWARD_TEXTS[index % len(AWKWARD_TEXTS)],
            "course_id": course.course_id,
            "anonymous": False,
            "votes": {"up": [], "down": [], "up_count": 0, "down_count": 0, "count": 0},
            "created_at": {"$date": timestamp(draw, day, sep="T")[:23] + "Z"},
            "updated_at": {"$date": timestamp(draw, day, sep="T")[:23] + "Z"},
        }
        if index % 3 == 0:
            thread_id = oid
            document["title"] = f"Question {index} about week {draw.randrange(1, 13)}"
            document["thread_type"] = "discussion"
            document["commentable_id"] = f"course_{course.run}"
        else:
            document["comment_thread_id"] = {"$oid": thread_id}
        yield (json.dumps(document) + "\n").encode()


def course_structure(course: SyntheticCourse) -> bytes:
    """One JSON object keyed by block id, as ``dump_course_structure`` writes it."""
    base = course.course_id.split(":", 1)[1]
    root = f"block-v1:{base}+type@course+block@course"
    blocks: dict[str, object] = {
        root: {
            "category": "course",
            "children": [f"block-v1:{base}+type@chapter+block@week{n}" for n in (1, 2)],
            "metadata": {"display_name": f"{course.course} {course.run}", "start": "2024-01-01"},
        }
    }
    for week in (1, 2):
        chapter = f"block-v1:{base}+type@chapter+block@week{week}"
        problem = f"block-v1:{base}+type@problem+block@p{week}"
        blocks[chapter] = {
            "category": "chapter",
            "children": [problem],
            "metadata": {"display_name": f"Week {week}"},
        }
        blocks[problem] = {"category": "problem", "children": [], "metadata": {"weight": 1.0}}
    return json.dumps(blocks, indent=2, sort_keys=True).encode()


def course_export(course: SyntheticCourse, day: dt.date) -> bytes:
    """A small OLX course export, as ``export_olx`` writes it."""
    mtime = int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp())
    files = [
        (
            "course/course.xml",
            f'<course url_name="{course.run}" org="{course.org}" course="{course.course}"/>\n',
        ),
        (
            f"course/course/{course.run}.xml",
            f'<course display_name="{course.course}">\n  <chapter url_name="week1"/>\n</course>\n',
        ),
        ("course/chapter/week1.xml", '<chapter display_name="Week 1"/>\n'),
        (f"course/policies/{course.run}/policy.json", '{"course/' + course.run + '": {}}\n'),
    ]
    return deterministic_tar_gz([(name, text.encode()) for name, text in files], mtime)


def deterministic_tar_gz(files: Sequence[tuple[str, bytes]], mtime: int) -> bytes:
    """A real ``.tar.gz`` whose bytes depend on its contents only."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, content in files:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(content), mtime, 0o644
            archive.addfile(info, io.BytesIO(content))
    return gzip.compress(tar_bytes.getvalue(), mtime=0)
