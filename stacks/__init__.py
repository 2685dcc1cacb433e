"""CDK stacks and constructs of edx-vault (synth-time only; never imported by Lambdas)."""
