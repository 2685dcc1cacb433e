"""How a secret format is declared: a strict pydantic model whose errors never repeat a value.

The formats themselves are in :mod:`edx_vault.settings.secret_formats`. Each is a frozen,
strict :class:`SecretModel` (no unknown field, no number where a string belongs); its secret
fields are :data:`SecretText`, kept out of ``repr`` and masked in ``model_dump`` except when
:meth:`SecretDocument.to_secret_string` writes the value Secrets Manager stores.

A malformed secret may still hold most of a real credential, so a validation error becomes a
:class:`SecretFormatError` whose message is built from pydantic's error *locations and types*
only: never from the input, nor from pydantic's own messages (the checks here supply theirs).
An unknown field's name is shown only when it looks like a field name, not like data.

Imports pydantic and nothing of ``edx_vault`` but :mod:`edx_vault.settings.validation_messages`: the
Lambda functions read their secrets through it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Final, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializationInfo,
    ValidationError,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from edx_vault.settings.validation_messages import field_path, root_causes

# Secrets Manager's limit on one secret value.
MAX_SECRET_CHARACTERS: Final = 65536

_REVEAL: Final = "reveal_secrets"
_MASK: Final = "**********"
# Error types of the checks below: the message is ours, and says nothing of the value.
_FIELD_PROBLEM: Final = "secret_field"
_DOCUMENT_PROBLEM: Final = "secret_document"
# What a field name looks like; an unknown "field" that does not may be a pasted value.
_FIELD_NAME: Final = re.compile(r"^[a-z][a-z_]{0,39}$")
# pydantic's error types (by prefix, first match) and what they say of the located field.
_TYPE_PROBLEMS: Final = (
    ("json_invalid", "is not JSON"),
    ("model_", "is not a JSON object"),
    ("dict_", "is not a JSON object"),
    ("string_", "is not a string"),
    ("tuple_", "is not a list"),
    ("list_", "is not a list"),
    ("too_short", "is empty"),
    ("datetime_", "is not an ISO 8601 timestamp"),
    ("date_", "is not an ISO date (YYYY-MM-DD)"),
)


class SecretFormatError(ValueError):
    """A secret value that does not have the documented shape; says where, never the value."""


def _masked_unless_revealed(value: str, info: SerializationInfo) -> str:
    return value if (info.context or {}).get(_REVEAL) else _MASK


SecretText = Annotated[str, Field(repr=False), PlainSerializer(_masked_unless_revealed)]
"""A secret field: a plain ``str`` to the code that uses it, never in ``repr`` or a plain dump."""


def field_check(accepts: Callable[[str], object], problem: str) -> AfterValidator:
    """A check of one string field; ``problem`` completes "<field> ..." without the value."""

    def check(value: str) -> str:
        if not accepts(value):
            raise PydanticCustomError(_FIELD_PROBLEM, problem)
        return value

    return AfterValidator(check)


def field_problem(problem: str) -> PydanticCustomError:
    """An error of the field being validated; ``problem`` completes "<field> ..."."""
    return PydanticCustomError(_FIELD_PROBLEM, problem)


def document_problem(problem: str) -> PydanticCustomError:
    """An error of a whole object (a model validator's); ``problem`` names the fields."""
    return PydanticCustomError(_DOCUMENT_PROBLEM, problem)


def describe(what: str, error: ValidationError) -> str:
    """One message for every problem pydantic found in the secret ``what``, values left out."""
    missing: list[str] = []
    unknown: list[str] = []
    problems: list[str] = []
    details = error.errors(include_url=False, include_context=False, include_input=False)
    for item in root_causes(details):
        kind, where = item["type"], field_path(item["loc"])
        if kind == "missing":
            missing.append(where)
        elif kind == "extra_forbidden":
            name = item["loc"][-1]
            parent = field_path(item["loc"][:-1])
            shown = name if isinstance(name, str) and _FIELD_NAME.fullmatch(name) else "(not shown)"
            unknown.append(f"{parent}.{shown}" if parent else shown)
        elif kind == _DOCUMENT_PROBLEM:
            problems.append(f"{where}: {item['msg']}" if where else item["msg"])
        else:
            problems.append(f"{where or 'the secret value'} {_problem(item)}")
    if missing:
        problems.insert(0, f"missing field(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown field(s) {', '.join(unknown)}")
    return f"{what}: {'; '.join(problems)}"


def _problem(item: ErrorDetails) -> str:
    if item["type"] == _FIELD_PROBLEM:
        return item["msg"]
    for prefix, problem in _TYPE_PROBLEMS:
        if item["type"].startswith(prefix):
            return problem
    return f"is not valid ({item['type']})"


class SecretModel(BaseModel):
    """A part of a secret format: strict, immutable, and failing with :class:`SecretFormatError`.

    Built in code or parsed, an invalid value raises :class:`SecretFormatError` (not pydantic's
    ``ValidationError``, whose text would quote the input).
    """

    # Built at first use, not at import (defer_build): a Lambda function builds only the
    # formats it reads, which is part of its cold start.
    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, hide_input_in_errors=True, defer_build=True
    )

    what: ClassVar[str]
    """Which secret this is, for messages (``"edX credentials"``)."""

    if not TYPE_CHECKING:  # type checkers keep the field-by-field signature pydantic gives

        def __init__(self, **fields: Any) -> None:
            try:
                super().__init__(**fields)
            except ValidationError as error:
                raise SecretFormatError(describe(self.what, error)) from None

        # Marked as pydantic marks its own (RootModel does the same): validation, of JSON in
        # particular, then never calls this __init__, which only wraps building in code.
        __init__.__pydantic_base_init__ = True


class SecretDocument(SecretModel):
    """A whole secret value: read from and written as the secret's JSON ``SecretString``."""

    @classmethod
    def from_secret_string(cls, text: str) -> Self:
        """Parse and validate a ``SecretString``.

        Raises
        ------
        SecretFormatError
            When it is not the documented JSON; the message never includes a value.
        """
        try:
            return cls.model_validate_json(text)
        except ValidationError as error:
            raise SecretFormatError(describe(cls.what, error)) from None

    def to_secret_string(self) -> str:
        """The JSON to store, secret fields included.

        Raises
        ------
        SecretFormatError
            When it would exceed Secrets Manager's 64 KiB limit.
        """
        text = json.dumps(self.model_dump(mode="json", context={_REVEAL: True}))
        if len(text) > MAX_SECRET_CHARACTERS:
            raise SecretFormatError(f"{self.what}: {self.too_large()}")
        return text

    def too_large(self) -> str:
        """Why the value exceeds Secrets Manager's limit, and what to do about it."""
        return f"the value exceeds Secrets Manager's {MAX_SECRET_CHARACTERS}-character limit"
