"""The proof of the de-identified tier: the identifier corpus through both transforms.

The corpus (:mod:`edx_vault.devtools.synthetic.identifier_corpus`) plants usernames, emails,
names, IPs, agents, sessions, user ids and certificate links everywhere edX puts them and lists
them; after the transforms none may appear in any output byte, in any spelling a reader could
search for, while the fields the corpus marks as kept come out equal and a learner joins
across events and tables.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from edx_vault.devtools.synthetic.identifier_corpus import (
    DRIFT_COLUMN,
    IdentifierCorpus,
    identifier_corpus,
)
from edx_vault.engine.deidentify_events import EventDeidentifier
from edx_vault.engine.deidentify_tables import TableNotCopiedError, deidentify_table
from edx_vault.engine.pseudonyms import Pseudonymizer

KEY = bytes(range(32))


@pytest.fixture(scope="module")
def corpus() -> IdentifierCorpus:
    return identifier_corpus()


@pytest.fixture(scope="module")
def outputs(corpus: IdentifierCorpus) -> dict[str, Any]:
    pseudonyms = Pseudonymizer(KEY)
    events = EventDeidentifier(pseudonyms)
    event_lines = {event.case: events(event.line) for event in corpus.events}
    tables: dict[str, list[bytes]] = {}
    for table, lines in corpus.tables.items():
        try:
            tables[table] = list(deidentify_table(table, lines, pseudonyms))
        except TableNotCopiedError:
            continue
    return {"events": event_lines, "tables": tables, "counts": events.counts}


def _spellings(identifier: str) -> set[str]:
    """Every form a reader could find the identifier in, lower-cased (the search is too)."""
    forms = {identifier, identifier.lower(), identifier.upper(), identifier.casefold()}
    forms |= {quote(form, safe="") for form in list(forms)}
    forms |= {quote_plus(form) for form in list(forms)}
    forms |= {json.dumps(form)[1:-1] for form in list(forms)}  # \u escapes of non-ASCII
    return {form.lower() for form in forms}


def test_no_planted_identifier_appears_in_any_output_byte(
    corpus: IdentifierCorpus, outputs: dict[str, Any]
) -> None:
    # Given every byte both transforms wrote
    written = b"".join(line for line in outputs["events"].values() if line is not None)
    written += b"".join(line for lines in outputs["tables"].values() for line in lines)
    haystack = written.decode().lower()
    # Then no planted identifier is there, in any spelling
    found = sorted(
        identifier
        for identifier in corpus.identifiers
        if any(form in haystack for form in _spellings(identifier))
    )
    assert found == []
    # And the check itself sees them in the input (the corpus plants what it lists)
    planted = b"".join(event.line for event in corpus.events).decode().lower()
    planted += b"".join(line for lines in corpus.tables.values() for line in lines).decode().lower()
    missing = [i for i in corpus.identifiers if not any(f in planted for f in _spellings(i))]
    assert missing == []


def _at(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if isinstance(value, str) and value.startswith("{"):
            value = json.loads(value)  # a browser event's payload, a JSON string
        value = value[part]
    return value


def test_kept_fields_equal_the_originals(corpus: IdentifierCorpus, outputs: dict[str, Any]) -> None:
    # Given each corpus event's fields marked as kept, with their original values
    for event in corpus.events:
        original = json.loads(event.line)
        written = outputs["events"][event.case]
        assert written is not None, event.case
        record = json.loads(written)
        for path, value in event.kept.items():
            # Then each is there, equal to the original (and to what the corpus says)
            assert _at(record, path) == value == _at(original, path), (event.case, path)


def test_every_line_is_written_and_payloads_keep_their_form(
    corpus: IdentifierCorpus, outputs: dict[str, Any]
) -> None:
    # Given the corpus: every line is a valid event
    counts = outputs["counts"]
    assert (counts.lines, counts.written, counts.dropped) == (len(corpus.events),) * 2 + (0,)
    # Then a browser event's payload stays a JSON string, a server event's an object
    browser = json.loads(outputs["events"]["browser_video_with_query_page"])
    server = json.loads(outputs["events"]["server_problem_check_answers"])
    assert isinstance(browser["event"], str)
    assert isinstance(server["event"], dict)
    # And the browser problem_check's query string of raw answers leaves no payload at all
    assert "event" not in json.loads(outputs["events"]["browser_problem_check_query_string"])


def test_a_pseudonymized_learner_joins_across_events_and_tables(
    corpus: IdentifierCorpus, outputs: dict[str, Any]
) -> None:
    # Given the de-identified auth_user and enrollments, as rows by column name
    def rows(table: str) -> list[dict[str, str]]:
        header, *body = (
            line.decode().rstrip("\n").split("\t") for line in outputs["tables"][table]
        )
        return [dict(zip(header, row, strict=True)) for row in body]

    users = rows("auth_user")
    enrolled = {row["user_id"] for row in rows("student_courseenrollment")}
    eligible = {row["username"] for row in rows("credit_crediteligibility")}
    by_user_id = {row["id"]: row["username"] for row in users}
    # When each event is joined on its pseudonymized user id
    for case, line in outputs["events"].items():
        record = json.loads(line)
        user_id = record["context"]["user_id"]
        # Then it finds its learner's auth_user row, whose username is the event's, pseudonymized
        assert by_user_id[user_id] == record["username"], case
        assert user_id in enrolled
        assert record["username"] in eligible
    # And the three learners are three pseudonyms, none of them an original value
    assert len(by_user_id) == len(corpus.learners) == len(set(by_user_id.values()))
    assert all(user_id.startswith("i_") for user_id in by_user_id)


def test_tables_drop_unknown_columns_and_skip_identifying_tables(outputs: dict[str, Any]) -> None:
    # Given the de-identified tables
    tables = outputs["tables"]
    header = tables["auth_user"][0].decode().split("\t")
    # Then a column edX added after the rules were written is dropped, not passed
    assert DRIFT_COLUMN not in header
    assert "email" not in header
    # And the re-identification map and the ORA free text are not copied at all
    assert "user_id_map" not in tables
    assert "submissions_submission" not in tables
