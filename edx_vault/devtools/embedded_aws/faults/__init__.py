"""Fault injection in the embedded AWS: make chosen calls fail as AWS and networks fail.

The weekly sync runs with nobody watching, so every fault that is not edX's must heal by itself:
a transient one in the same run (Step Functions retries), a persistent one in the next run once
it is gone. To prove that through the real state machine, the server can answer matching
requests with an AWS error, or cut the connection in the middle of a response body.

Rules come from a TOML file (``edx-vault local up --faults FILE``), or are replaced while the
server runs (``PUT /_edx_vault/faults`` with the same rules as JSON; ``GET`` shows them with how
often each fired), which is how tests share one server::

    [[fault]]
    service = "s3"                 # the signing name: s3, kms, secretsmanager, dynamodb, states...
    operation = "GetObject"        # glob on the API operation
    resource = "*/raw/*"           # glob on "bucket/key" (S3), the table, secret, topic,
                                   # function or state machine the call names
    error = "SlowDown"             # answer with this AWS error code ...
    status = 503                   # ... and HTTP status
    times = 2                      # the first 2 matching calls; omit for every call

    [[fault]]
    service = "s3"
    operation = "GetObject"
    resource = "edx-course-data/*"
    action = "reset"               # pass the response on, then cut the connection
    after_bytes = 1024             # after this many body bytes

    [[fault]]
    service = "s3"
    operation = "UploadPart"
    resource = "*/events/*"
    function = "*Decrypt*"         # glob on the name of the Lambda function making the call
    action = "crash"               # kill the invocation making the call ...
    after_bytes = 12582912         # ... once it has sent this many bytes of matching bodies
    times = 1                      # how many invocations to kill

Rules are tried in order; the first that matches and has calls left fires. Requests the server
cannot name (unsigned, or an operation it does not model) are never faulted.

A ``crash`` is a Lambda invocation dying as a killed process does: the call it dies in is not
executed, the invoke answers ``Runtime.ExitError`` (:mod:`edx_vault.devtools.embedded_aws.in_process_lambda`),
and every later request signed with the invocation's credentials is dropped unexecuted (the
connection closed), so no ``except`` or ``finally`` clean-up of the handler (an
AbortMultipartUpload, a manifest release) reaches AWS. It matches only calls made by a Lambda
invocation (each signs with credentials of its own). ``after_calls`` lets that many matching
calls of an invocation through first; ``after_bytes`` then lets that many bytes of matching
request bodies through, and the call that sends the last of them dies with it.

The modules: :mod:`.rules` (the rules and how they are read), :mod:`.injector` (the WSGI layer
that names each request and fires the first rule it matches), :mod:`.connections` (how a
faulted connection dies: dropped unanswered, or cut in a response body), :mod:`.control` (the
``/_edx_vault/faults`` endpoint and its client, :func:`~.control.set_faults` and
:func:`~.control.fired`). They import no moto; the injector reads requests with
:mod:`edx_vault.devtools.embedded_aws.api_requests` and finds invocations in
:mod:`edx_vault.devtools.embedded_aws.in_process_lambda.invocations`.
"""
