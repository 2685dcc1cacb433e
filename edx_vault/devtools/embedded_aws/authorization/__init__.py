"""The strict embedded AWS: every request is allowed or refused as AWS would decide it.

moto enforces no IAM, bucket, key or topic policy. A WSGI middleware in front of moto's server
(:class:`.authorizer.Authorizer`), for every signed request:

1. finds the principal from the signing key (:mod:`edx_vault.devtools.embedded_aws.principals`);
2. names the operation and the actions, resources and condition keys AWS authorizes it by
   (:mod:`edx_vault.devtools.embedded_aws.api_requests`,
   :mod:`edx_vault.devtools.embedded_aws.s3_requests`, :mod:`.service_checks`);
3. decides each check with the project's condition-aware evaluator
   (:mod:`edx_vault.access.policy_evaluator`) from the principal's identity policies and the
   resource's policy (:mod:`.moto_resources`): the bucket policy, the key policy, the
   secret's or topic's policy, the role's trust policy. An explicit Deny wins; KMS needs its
   key policy to allow, directly or by delegating to IAM ("Determining access to a KMS
   key"); S3, Secrets Manager and SNS allow a same-account caller when either the identity
   or the resource policy allows ("Policy evaluation logic": same-account requests);
4. adds the permissions a request implies on AWS: reading an SSE-KMS object needs
   ``kms:Decrypt`` on its key, writing one ``kms:GenerateDataKey`` (and ``kms:Decrypt`` for a
   multipart upload), each through S3 (``kms:ViaService``); a secret under a customer managed
   key needs ``kms:Decrypt`` to read and ``kms:GenerateDataKey`` to write, through Secrets
   Manager; publishing to an encrypted topic needs ``kms:GenerateDataKey*`` and
   ``kms:Decrypt`` through SNS (:mod:`.implied_permissions`);
5. answers a GetObject or HeadObject of a missing key with 403, not 404, when the caller may
   not ``s3:ListBucket`` the bucket ("If the object you request doesn't exist, the error that
   Amazon S3 returns depends on whether you also have the s3:ListBucket permission").

What it cannot judge is refused, naming what it did not understand: an operation it does not
model on a service with resource policies, a condition key it cannot supply, a condition
operator the evaluator does not know. It never allows silently. Refusals are logged (action,
resource, principal; never a parameter's value) and answered in each protocol's error shape.

Requests to ``/moto-api/`` and ``/_edx_vault/`` (the server's own control plane: moto's, and
fault injection) pass unchecked.

The modules: :mod:`.authorizer` (the WSGI middleware and the decision), :mod:`.service_checks`
(a JSON or query call to its checks), :mod:`.moto_resources` (the policies and keys read from
moto's backends), :mod:`.implied_permissions` (the KMS permissions a call implies),
:mod:`.condition_context` (the condition keys supplied and modelled). They import the access
package's evaluator, the embedded AWS's request readers, responses and principals, and moto
(inside the functions that read its backends).
"""
