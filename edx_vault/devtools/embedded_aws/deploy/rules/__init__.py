"""AWS's deploy-time rules, checked on a synthesized template before anything is created.

moto's CloudFormation accepts templates that AWS refuses (an alarm looking back more than seven
days, a bucket name of 64 characters, a stack with no resources...) or that AWS deploys into
something that cannot work (alarms that may not publish to their topic). The embedded AWS
would then succeed where ``cdk deploy`` rolls back, so :func:`deploy_assembly
<edx_vault.devtools.embedded_aws.deploy.cdk_deploy.deploy_assembly>` checks every stack with
:func:`~edx_vault.devtools.embedded_aws.deploy.rules.check.template_violations` first and
deploys nothing if any rule is broken.

Each rule names the resource, the property, the value and the rule with its limit, in AWS's
words where AWS words it; the source is given next to each rule. A value that cannot be known
before deployment (a name built from another stack's export, a deploy-time parameter) is
skipped: only what AWS would certainly refuse is reported, never a guess.

One module per family of rules, each a function from the template
(:class:`~edx_vault.devtools.embedded_aws.deploy.rules.template_values.TemplateContext`) to
:class:`~edx_vault.devtools.embedded_aws.deploy.rules.violation.Violation`\\ s:

- ``check``: the template declares at least one resource (CloudFormation), then every family;
- ``alarms``: CloudWatch alarms' ``Period`` is 10, 20, 30 or a multiple of 60; ``Period`` x
  ``EvaluationPeriods`` at most 7 days (1 day for periods under an hour); ``DatapointsToAlarm``
  at most ``EvaluationPeriods`` (PutMetricAlarm);
- ``names``: S3 bucket names, when literal or built from the stack's account and region (S3);
  IAM role, managed and inline policy names and paths (IAM);
- ``lambda_functions``: memory, timeout, environment variables' size, number of layers, and the
  unzipped size of the code and layers, measured from the assembly's asset files (Lambda); and
  Python functions load: the handler's imports, followed through the function's asset and
  layers as Lambda's Python finds them, and the layers' compiled extensions fit the function's
  Python and architecture (:mod:`edx_vault.devtools.embedded_aws.deploy.asset_imports`);
- ``topic_publishers``: SNS topics with a topic policy: every CloudWatch alarm, EventBridge rule
  and IAM role of the template that publishes to the topic is allowed to by the topic's policy
  (and, for an encrypted topic, by the key's policy), decided by
  :mod:`edx_vault.access.policy_evaluator`;
- ``state_machines``: state machine definitions, with asl-validator (run by ``asl_validation``).

May import :mod:`edx_vault.access` (the policy evaluator), the deploy package's ``assets`` and
``asset_imports``; never moto or the CDK.
"""
