"""The state file of a running embedded AWS, and the environment that points at it.

``local up`` writes it (default ``.edx-vault/local.json`` in the current directory) once the
server answers and the stacks are deployed; ``local seed``, ``local env`` and ``local down``
read it. It holds no secret: moto accepts any credentials.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edx_vault.devtools.embedded_aws import ACCESS_KEY_ID, SECRET_ACCESS_KEY


class LocalStateError(Exception):
    """The state file is unreadable, or names no running server."""


@dataclass(frozen=True)
class LocalState:
    """A running embedded AWS.

    Attributes
    ----------
    pid
        The server process.
    port, endpoint
        Where it listens.
    region
        The region the app was deployed to (from the config).
    config
        Absolute path of the configuration deployed.
    log_file
        The server's output (handlers' logs included).
    started_at
        ISO 8601 time the server started.
    stacks
        The stacks deployed, in order.
    principal
        Who the printed environment signs as: an admin role's session (the first of the
        config's ``admin_role_arns``), or the account's root user when there is none.
    credentials
        That principal's keys: access key id, secret and, for a session, its token.
    """

    pid: int
    port: int
    endpoint: str
    region: str
    config: str
    log_file: str
    started_at: str
    stacks: tuple[str, ...] = field(default=())
    principal: str = ""
    credentials: tuple[str, ...] = (ACCESS_KEY_ID, SECRET_ACCESS_KEY)

    def environment(self) -> dict[str, str]:
        """What a shell, boto3, the AWS CLI and every ``edx-vault`` command need to use it."""
        environment = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.credentials[0],
            "AWS_SECRET_ACCESS_KEY": self.credentials[1],
            "EDX_VAULT_CONFIG": self.config,
        }
        if len(self.credentials) > 2:
            environment["AWS_SESSION_TOKEN"] = self.credentials[2]
        return environment

    def shell_exports(self) -> str:
        """``export NAME=value ...`` for ``eval "$(edx-vault local env)"``."""
        pairs = " ".join(
            f"{name}={shlex.quote(value)}" for name, value in self.environment().items()
        )
        return f"export {pairs}"

    def to_json(self) -> dict[str, Any]:
        """The state file's content."""
        document = asdict(self)
        document["stacks"] = list(self.stacks)
        document["credentials"] = list(self.credentials)
        document["environment"] = self.environment()
        return document


def write_state(path: Path, state: LocalState) -> None:
    """Write the state file atomically (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(state.to_json(), indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def read_state(path: Path) -> LocalState | None:
    """The state in ``path``, or ``None`` when there is no file.

    Raises
    ------
    LocalStateError
        When the file exists but is not a state file.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise LocalStateError(f"{path} is not an embedded AWS state file: {error}") from None
    try:
        return LocalState(
            pid=int(document["pid"]),
            port=int(document["port"]),
            endpoint=str(document["endpoint"]),
            region=str(document["region"]),
            config=str(document["config"]),
            log_file=str(document["log_file"]),
            started_at=str(document["started_at"]),
            stacks=tuple(document.get("stacks", ())),
            principal=str(document.get("principal", "")),
            credentials=tuple(
                str(value)
                for value in document.get("credentials", (ACCESS_KEY_ID, SECRET_ACCESS_KEY))
            ),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise LocalStateError(f"{path} is not an embedded AWS state file: {error}") from None


def remove_state(path: Path) -> None:
    """Delete the state file, if any."""
    path.unlink(missing_ok=True)
