"""The deploy side of the embedded AWS: the real synthesized app, deployed as ``cdk deploy`` would.

``edx-vault local up`` synthesizes the app, then :func:`deploy_assembly
<edx_vault.devtools.embedded_aws.deploy.cdk_deploy.deploy_assembly>` reads the cloud assembly
(``assembly``), checks every template against AWS's deploy-time rules (``rules``, with the
Lambda import check in ``asset_imports``) and deploys nothing if one is broken, then publishes
the file assets (``assets``) and creates each stack with moto's CloudFormation (``cdk_deploy``).
Inside the server, moto's CloudFormation creates the types it lacks with the handlers of
``cfn_resources``, one per row of the table in ``emulated_types``.

May import :mod:`edx_vault.access` (the rules judge policies) and the embedded AWS's own
``clients`` and ``resource_support``. Everything but ``cfn_resources`` and ``emulated_types``
talks to the server over HTTP and imports neither moto nor the CDK; those two run in the server
process only (``moto_patches.install`` registers them).
"""
