"""Lambda functions run in-process: the real handler modules, called like Lambda calls them.

moto runs a function's code in a Docker container, and has no hook to do anything else. The
server replaces that one method (``LambdaFunction._invoke_lambda``, see
:mod:`edx_vault.devtools.embedded_aws.moto_patches.lambda_invoke`) with
:meth:`~.runtime.InProcessLambda.invoke`, which:

- finds the handler from the function's ``Handler`` string: ``"plan.handler"`` is the function
  ``handler`` of the first of ``{package}.plan`` (packages from ``--handler-package``, default
  ``lambdas``) that exists. The working tree's code runs, not the uploaded zip;
- applies the function's environment variables, plus what Lambda sets (function name, memory,
  region) and what reaches the embedded AWS (``AWS_ENDPOINT_URL``, dummy credentials), for the
  duration of the call, so a handler that builds ``boto3.client("s3")`` talks to this server;
- returns the result as JSON, or Lambda's error payload (``errorType``, ``errorMessage``,
  ``stackTrace``) with ``FunctionError: Unhandled``, so Step Functions' Retry and Catch see the
  exception's class name exactly as on AWS.

A Lambda function has a process of its own; here all functions share one, and Step Functions
calls them from many threads at once (a Distributed Map runs up to MaxConcurrency iterations).
Two things make that safe (:mod:`.sandbox`). ``FunctionGate`` lets calls of one function run
together (so concurrency within a Map is real) and makes a call of another function wait until
they are done, since ``os.environ`` holds one function's variables at a time.
``ModuleSandboxes`` gives each function its own instances of the project's modules, so
module-level state (a cached settings object read from the environment, a GnuPG home) is never
shared between functions.

Each invocation runs in an **execution environment** of its own, with credentials no other
running invocation holds: a session of the function's execution role named after the function,
as on Lambda. A finished invocation hands its environment to the next call of the function (a
warm start); one that died (killed by a ``crash`` fault, :mod:`edx_vault.devtools.embedded_aws.faults`,
or stopped at its timeout) takes it away, and every request still signed with its credentials
is dropped unexecuted, so nothing a dead handler does afterwards (an ``except`` or ``finally``
clean-up) reaches AWS, as with a killed process. Concurrent calls of one function share its
modules and their cached clients, so the credentials are picked per thread at signing time
(:mod:`.signing`): the handler's thread and every thread it starts sign with its invocation's
session (:mod:`.invocations`). What still differs from Lambda is in ``docs/embedded-aws.md``
(no memory limit, concurrent calls of one function share its module state, third-party modules
are shared).

The modules:

- :mod:`.runtime`: one invocation, start to answer;
- :mod:`.function_spec`: the function's description and the handler's context;
- :mod:`.invocations`: running invocations and the threads working for them;
- :mod:`.signing`: each function's boto3 session, signing as the calling thread's invocation;
- :mod:`.sandbox`: the process set up for one function at a time;
- :mod:`.lambda_answers`: Lambda's payload limit, error documents and log tail.

They import no moto, and from the project only
:mod:`edx_vault.devtools.embedded_aws.deployed_code` and
:mod:`edx_vault.devtools.embedded_aws.service_sessions`.
"""
