"""AWS's deploy-time rules: each rule refuses a template AWS would refuse, and only that.

One test module per family of rules (``edx_vault/devtools/embedded_aws/deploy/rules/``). Each
rule has a pair of tests on the same small template: the compliant value passes, and one value
changed is refused with the rule's message. The templates are plain dictionaries (no server, no
synth), except in ``test_check.py``, whose last tests synthesize the vault app.
"""
