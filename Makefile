# edx-vault: the two commands are `make demo` and `make test`; both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Offline, quiet CDK and jsii (see docs/toolchain.md).
export CDK_DISABLE_VERSION_CHECK := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: test demo setup system-deps lint unit synth cfn-lint clean test-faults

test: setup lint unit synth cfn-lint  ## everything CI runs

setup: system-deps $(VENV)/.installed node_modules/.installed build/lambda-wheels/.fetched

system-deps:
	@scripts/install-system-deps.sh

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "edx-vault needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

# The runtime layer installs from this wheelhouse (Lambda's platform), so `cdk synth` itself
# needs no network once it is filled.
build/lambda-wheels/.fetched: pyproject.toml $(VENV)/.installed
	$(BIN)/python layers/python_runtime/bundle.py --download-only --project-root .
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: setup
	CDK_VALIDATION=false $(BIN)/pytest -q

# The whole fault matrix: `make test` runs 24 of the 43 transient cases (one per path a fault
# heals by) and five persistent ones (one per way a fault outlasts its retries); this runs all.
test-faults: setup
	EDX_VAULT_FULL_FAULT_MATRIX=1 CDK_VALIDATION=false $(BIN)/pytest -q tests/faults

# One full synth, with CDK's template validation and cdk-nag on, exactly as `cdk deploy` would.
synth: setup
	rm -rf cdk.out
	npx cdk synth --quiet

cfn-lint: synth
	$(BIN)/cfn-lint cdk.out/*.template.json

# The sync on the embedded AWS: local up, keygen, seed, import-credentials, sync --wait, report.
demo: setup
	@scripts/demo.sh

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
