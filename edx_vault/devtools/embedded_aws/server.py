"""The embedded AWS server process: moto, patched, serving one port until SIGTERM.

Run as ``python -m edx_vault.devtools.embedded_aws.server --port N`` (``edx-vault local up`` starts it
detached). Before serving it applies every patch in :mod:`edx_vault.devtools.embedded_aws.moto_patches`:
Step Functions executes definitions, JSONata works, Retry sleeps are short, Lambda handlers run
in this process, and moto's CloudFormation creates what the vault's templates need. It prints
one line, ``ready <endpoint>``, on stdout once requests are accepted.

This process runs the handlers, so it must be able to import them (the project root is put on
``sys.path``) and it must be the only process serving this state: moto keeps everything in
memory, and everything is gone when it stops.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from edx_vault.devtools.embedded_aws import (
    ACCESS_KEY_ID,
    ACCOUNT_ID,
    DEFAULT_HANDLER_PACKAGES,
    DEFAULT_HOST,
    DEFAULT_PORT,
    SECRET_ACCESS_KEY,
    project_root,
)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m edx_vault.devtools.embedded_aws.server", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--account",
        default=ACCOUNT_ID,
        help="the account every request is served as (the config's deployment.account)",
    )
    parser.add_argument(
        "--handler-package",
        action="append",
        dest="handler_packages",
        help="package holding the modules Lambda Handler strings name (repeatable; "
        f"default: {', '.join(DEFAULT_HANDLER_PACKAGES)})",
    )
    parser.add_argument(
        "--faults",
        type=Path,
        help="a TOML file of [[fault]] rules to inject from the start (see docs/embedded-aws.md)",
    )
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="serve every request as moto does, with no authorization (the default is strict: "
        "each request is allowed or refused as AWS would decide it; see docs/embedded-aws.md)",
    )
    parser.add_argument(
        "--retry-sleep-scale",
        type=float,
        default=0.01,
        help="multiply Step Functions Retry intervals by this (1 for real time)",
    )
    parser.add_argument(
        "--retry-sleep-cap",
        type=float,
        default=0.5,
        help="longest Retry sleep in seconds",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; the exit status is 0 after a requested stop."""
    args = _arguments(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # One line per request otherwise.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    endpoint = f"http://{args.host}:{args.port}"
    # moto's Step Functions interpreter calls Lambda, S3 and the rest over HTTP at
    # localhost:$MOTO_PORT (default 5000), so it must know this server's port.
    os.environ["MOTO_PORT"] = str(args.port)
    # moto serves a request as the account its access key belongs to, and an unknown key as
    # 123456789012; the templates name the config's account in ARNs, so serve that one.
    os.environ["MOTO_ACCOUNT_ID"] = args.account
    root = str(project_root())
    if root not in sys.path:
        sys.path.insert(0, root)

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from edx_vault.devtools.embedded_aws.authorization.authorizer import (
        Authorizer,
        AuthorizerSettings,
    )
    from edx_vault.devtools.embedded_aws.deployed_code import DeployedCodeCache
    from edx_vault.devtools.embedded_aws.faults.injector import FaultInjector
    from edx_vault.devtools.embedded_aws.faults.rules import FaultRuleError, rules_from_toml
    from edx_vault.devtools.embedded_aws.in_process_lambda.control import with_sandbox_control
    from edx_vault.devtools.embedded_aws.in_process_lambda.function_spec import FunctionSpec
    from edx_vault.devtools.embedded_aws.in_process_lambda.runtime import InProcessLambda
    from edx_vault.devtools.embedded_aws.leftovers import mark_this_process, stop_leftovers
    from edx_vault.devtools.embedded_aws.moto_patches import PatchSettings, install
    from edx_vault.devtools.embedded_aws.service_sessions import ServiceSessions

    sessions = None if args.lenient else ServiceSessions(args.account, "us-east-1")
    # Functions' deployed code, unpacked; removed when the server exits.
    deployed_root = tempfile.TemporaryDirectory(prefix="edxv-deployed-")

    def execution_role(function: FunctionSpec) -> tuple[str, str, str]:
        assert sessions is not None
        session = sessions.credentials(function.role, "lambda.amazonaws.com")
        return session.access_key_id, session.secret_access_key, session.session_token

    lambda_runtime = InProcessLambda(
        endpoint=endpoint,
        handler_packages=tuple(args.handler_packages or DEFAULT_HANDLER_PACKAGES),
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        role_credentials=None if sessions is None else execution_role,
        deployed_code=DeployedCodeCache(Path(deployed_root.name)),
    )
    install(
        PatchSettings(
            lambda_runtime=lambda_runtime,
            retry_sleep_scale=args.retry_sleep_scale,
            retry_sleep_cap_seconds=args.retry_sleep_cap,
            service_sessions=sessions,
        )
    )
    injector = FaultInjector()
    if args.faults is not None:
        try:
            injector.replace(rules_from_toml(args.faults))
        except FaultRuleError as error:
            print(f"error: {error}", file=sys.stderr, flush=True)
            return 2
    # Faults come after authorization: a call AWS would refuse is refused, not faulted.
    application = with_sandbox_control(
        lambda_runtime, injector.wsgi(DomainDispatcherApplication(create_backend_app))
    )
    if not args.lenient:
        authorizer = Authorizer(
            AuthorizerSettings(account=args.account, root_access_key_id=ACCESS_KEY_ID)
        )
        application = authorizer.wsgi(application)
    try:
        server = make_server(
            args.host,
            args.port,
            application,
            threaded=True,
            request_handler=MotoRequestHandler,
        )
    except OSError as error:
        print(f"error: cannot listen on {endpoint}: {error}", file=sys.stderr, flush=True)
        return 2

    # Every process the handlers start (gpg, and the gpg-agents that outlive a call) inherits
    # this marker, so the ones still running can be stopped with the server.
    token = mark_this_process()
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    serving = threading.Thread(target=server.serve_forever, name="moto-server", daemon=True)
    serving.start()
    print(f"ready {endpoint}", flush=True)
    stop.wait()
    logger = logging.getLogger("edx_vault.devtools.embedded_aws")
    logger.info("stopping")
    server.shutdown()
    logger.info("stopped %d processes the handlers left running", stop_leftovers(token))
    sys.stdout.flush()
    sys.stderr.flush()
    # Step Functions executions run in moto's non-daemon worker threads; a normal exit would
    # wait for every running execution to finish. Everything is in memory and meant to go.
    deployed_root.cleanup()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
