# hookline: `make demo` runs the whole pipeline locally, `make test` runs every check.
# Both work on a fresh machine: they install what they need first (Python packages
# from locked, hashed requirements; DynamoDB Local and a Bluesky PDS (@atproto/dev-env, Node 20) from npm; Java and Chromium from
# apt when running as root).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
# The security tools pin their own dependencies: each has a virtual environment of its own.
CHECKOV_VENV := .venv-checkov
AUDIT_VENV := .venv-audit
LOCKS := requirements/dev.txt requirements/sam.txt requirements/checkov.txt requirements/audit.txt requirements/lambda-runtime.txt \
	layers/hookline/requirements.txt $(wildcard functions/*/requirements.txt)
# Lambda's runtime (python3.13 with boto3), for `make bench` to run the built functions as Lambda does.
LAMBDA_VENV := .venv-lambda
LAMBDA_PYTHON ?= python3.13
export SAM_CLI_TELEMETRY := 0
# sam build needs a python3.13 on PATH; pyenv (on these machines) provides one beside 3.11.
PYENV_PAIR := $(shell command -v pyenv >/dev/null && pyenv versions --bare 2>/dev/null | grep -E '^3\.11' | head -1):$(shell command -v pyenv >/dev/null && pyenv versions --bare 2>/dev/null | grep -E '^3\.13' | head -1)

.PHONY: help test demo bench build lint typecheck validate security audit pytest deps java chromium lock clean screenshots

help:
	@echo "make demo   - run the whole pipeline locally (DynamoDB Local, sample feed, approvals on :3000)"
	@echo "make test   - lint, type-check, validate the SAM template and run every test"
	@echo "make bench  - measure poll, cold start, approval latency and deploy size (docs/benchmarks.md)"
	@echo "make build  - sam build (python3.13 artefacts in .aws-sam/)"
	@echo "make lock   - re-lock requirements/*.txt and the functions' requirements with hashes"

# -- installs ---------------------------------------------------------------------------------

$(VENV)/.installed: requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . 2>/dev/null \
		|| $(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(SAM_VENV)/.installed: requirements/sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/sam.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/checkov.txt
	touch $@

$(AUDIT_VENV)/.installed: requirements/audit.txt
	$(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/audit.txt
	touch $@

$(LAMBDA_VENV)/.installed: requirements/lambda-runtime.txt
	PYENV_VERSION="$(PYENV_PAIR)" $(LAMBDA_PYTHON) -m venv $(LAMBDA_VENV)
	$(LAMBDA_VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/lambda-runtime.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

java:
	@if java -version 2>&1 | grep -qE 'version "(1[7-9]|2[0-9])'; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "Installing Java 17 for DynamoDB Local (apt)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; \
	else echo "DynamoDB Local needs Java 17: sudo apt-get install openjdk-17-jre-headless" >&2; exit 1; fi

chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "Installing Chromium for the browser tests (apt)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "The browser tests need Chromium: sudo apt-get install chromium" >&2; exit 1; fi

deps: $(VENV)/.installed node_modules/.installed java

# -- the two commands ---------------------------------------------------------------------------

demo: deps
	$(BIN)/python -m local.demo

test: deps chromium $(SAM_VENV)/.installed lint typecheck validate security pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

validate: $(SAM_VENV)/.installed
	$(SAM) validate --lint --region eu-west-2

# Gating: checkov finds no failed check in template.yaml (a check that does not fit is skipped
# in the template, with its reason), offline; bandit's rules (ruff's S) pass on the domain
# package and the handlers. Then pip-audit reports, without gating.
security: $(VENV)/.installed $(CHECKOV_VENV)/.installed $(AUDIT_VENV)/.installed
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -f template.yaml --framework cloudformation \
		--quiet --compact --skip-download
	$(BIN)/ruff check --select S layers/hookline/hookline functions
	@$(MAKE) --no-print-directory audit

# Known advisories for every locked requirement, where the advisory service answers (CI is
# offline but for the package registries, so it usually cannot). Reported, never gating:
# advisories appear under old commits.
audit: $(AUDIT_VENV)/.installed
	@tmp=$$(mktemp -d); for lock in $(LOCKS); do \
		( timeout 60 $(AUDIT_VENV)/bin/pip-audit -r $$lock --require-hashes --disable-pip \
			--progress-spinner off --timeout 5 --desc off > "$$tmp/$$(echo $$lock | tr / _)" 2>&1 ) & \
	done; wait; \
	for lock in $(LOCKS); do \
		out="$$tmp/$$(echo $$lock | tr / _)"; \
		unaudited=$$(grep -c "could not be audited" "$$out"); \
		if grep -qE "^Name +Version +ID" "$$out"; then echo "pip-audit $$lock: KNOWN VULNERABILITIES"; \
			grep -vE "could not be audited|^WARNING" "$$out" | sed 's/^/    /'; \
		elif [ "$$unaudited" -gt 0 ]; then echo "pip-audit $$lock: not checked, the advisory service did not answer ($$unaudited packages)"; \
		elif grep -q "No known vulnerabilities" "$$out"; then echo "pip-audit $$lock: no known vulnerabilities"; \
		else echo "pip-audit $$lock: did not run:"; tail -3 "$$out" | sed 's/^/    /'; fi; \
	done; rm -rf "$$tmp"; echo "pip-audit: reported only, never gating"

pytest: deps
	$(BIN)/python -m pytest

# docs/review-page.png, the README's picture, taken by the browser test on a 390-px phone.
screenshots: deps chromium
	HOOKLINE_UPDATE_DOCS=1 $(BIN)/python -m pytest -q tests/approval/test_browser_review.py -k byte_for_byte

# Builds the functions with sam (as `make build` does) into a scratch folder and runs them on
# Lambda's python3.13 from there; a few minutes.
bench: deps $(SAM_VENV)/.installed $(LAMBDA_VENV)/.installed
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" PYENV_VERSION="$(PYENV_PAIR)" $(BIN)/python -m tests.bench

build: $(VENV)/.installed $(SAM_VENV)/.installed
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" PYENV_VERSION="$(PYENV_PAIR)" $(SAM) build --region eu-west-2
	@# Precompiled bytecode and no debug sections: half the cold start (tools/optimise_build.py).
	PYENV_VERSION="$(PYENV_PAIR)" $(LAMBDA_PYTHON) tools/optimise_build.py .aws-sam/build

# -- maintenance ---------------------------------------------------------------------------------

UV := $(BIN)/uv
lock: $(VENV)/.installed
	$(UV) pip compile --quiet --generate-hashes --universal --python-version 3.11 requirements/dev.in -o requirements/dev.txt
	$(UV) pip compile --quiet --generate-hashes --universal --python-version 3.11 requirements/sam.in -o requirements/sam.txt
	$(UV) pip compile --quiet --generate-hashes --universal --python-version 3.11 requirements/checkov.in -o requirements/checkov.txt
	$(UV) pip compile --quiet --generate-hashes --universal --python-version 3.11 requirements/audit.in -o requirements/audit.txt
	$(UV) pip compile --quiet --generate-hashes --python-version 3.13 requirements/lambda-runtime.in -o requirements/lambda-runtime.txt
	$(UV) pip compile --quiet --generate-hashes --no-header --python-version 3.13 --python-platform x86_64-manylinux_2_28 \
		requirements/layer.in -o layers/hookline/requirements.txt
	$(UV) pip compile --quiet --generate-hashes --no-header --python-version 3.13 --python-platform x86_64-manylinux_2_28 \
		requirements/poll_feeds.in -o functions/poll_feeds/requirements.txt
	$(UV) pip compile --quiet --generate-hashes --no-header --python-version 3.13 --python-platform x86_64-manylinux_2_28 \
		requirements/publish.in -o functions/publish/requirements.txt

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache test-artifacts .local
