# Everyday commands. `make demo` and `make test` work on a fresh clone: they build the virtualenv first.
# Two install sets: the main job (demo, serve, monitor, train) installs requirements-local.txt only;
# tests, lint, synth and deploy add requirements-dev.txt (pytest, moto, mypy, cfn-lint, the CDK library).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MODEL ?= iris
# a model folder outside models/ (e.g. one trained with --out): MODEL_DIR=path/to/folder
MODEL_DIR ?= models/$(MODEL)
PORT ?= 8000
# The one default local log: `make serve` writes it, `make monitor` reads it. `make demo` keeps its own
# (.local/demo/predictions.jsonl, recreated on each run) and prints the `make monitor` command for it.
LOG_FILE ?= .local/predictions.jsonl
DEMO_DIR ?= .local/demo
WINDOW_END ?= now
WINDOW_MINUTES ?= 2
# Reports, bench output and other generated files stay under .local/ (git-ignored); a bare REPORT=r.png lands there.
LOCAL_DIR ?= .local
REPORT_PATH = $(if $(filter /%,$(REPORT)),$(REPORT),$(if $(findstring /,$(REPORT)),$(REPORT),$(LOCAL_DIR)/$(REPORT)))
# API front door (docs/api.md): API=rest|http, API_AUTH=api_key|iam|jwt (default per API), WAF=true (REST only)
API ?= rest
API_AUTH ?=
WAF ?= false
API_CONTEXT_JSON = "api": "$(API)", "waf": "$(WAF)"$(if $(API_AUTH),$(comma) "api_auth": "$(API_AUTH)")
API_CONTEXT_ARGS = -c api=$(API) -c waf=$(WAF) $(if $(API_AUTH),-c api_auth=$(API_AUTH))
comma := ,

export PYTHONPATH := $(CURDIR)
# node 20 makes jsii print an end-of-life banner on every CDK call; silence that banner only.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1

LOCAL_STAMP := $(VENV)/.installed-local
DEV_STAMP := $(VENV)/.installed-dev
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: install install-dev demo serve monitor test test-unit test-integration test-infra test-e2e lint format \
	bench bench-quality train layer synth preflight bootstrap deploy readme-demo clean

# ---- install -------------------------------------------------------------------------------------------
install: $(LOCAL_STAMP) ## what the main job needs: Lambda runtime, training, DuckDB, matplotlib

install-dev: $(DEV_STAMP) ## plus tests, lint and infrastructure (CDK library, moto, mypy, cfn-lint)

$(LOCAL_STAMP): requirements.txt requirements-local.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "needs Python 3.11 or newer as $(PYTHON) (try: make $(MAKECMDGOALS) PYTHON=python3.12)"; exit 1; }
	@test -x $(BIN)/python || { echo "first run: creating $(VENV) and installing the main job's packages (30 to 60 s on a fast link, once)"; \
		$(PYTHON) -m venv $(VENV); }
	$(PIP) -r requirements-local.txt
	@touch $@

$(DEV_STAMP): $(LOCAL_STAMP) requirements-dev.txt
	@echo "installing the test, lint and CDK packages into $(VENV) (~1 min on a fast link, once)"
	$(PIP) -r requirements-dev.txt
	@touch $@

# ---- the main job ----------------------------------------------------------------------------------------
demo: install ## the whole loop locally: API, traffic, monitor OK -> ALARM -> recovery, picture
	$(BIN)/python -m local.demo --model-dir $(MODEL_DIR) --workdir $(DEMO_DIR)

serve: install ## the inference handler on http://127.0.0.1:$(PORT), records to $(LOG_FILE)
	$(BIN)/python -m local.server --port $(PORT) --model-dir $(MODEL_DIR) --log-file $(LOG_FILE)

monitor: install ## one monitor evaluation over $(LOG_FILE)
	$(BIN)/python -m local.monitor --log-file $(LOG_FILE) --model-dir $(MODEL_DIR) --window-end $(WINDOW_END) --window-minutes $(WINDOW_MINUTES) --alert-file $(LOCAL_DIR)/alerts.jsonl --state-file $(LOCAL_DIR)/alert_state.json $(if $(REPORT),--report $(REPORT_PATH))

train: install ## retrain both shipped models (reproducible: same bytes, same version)
	$(BIN)/python -m models.train --dataset iris
	$(BIN)/python -m models.train --dataset wine

# ---- tests and checks --------------------------------------------------------------------------------------
test: install-dev ## the whole suite: unit, integration (moto server), infra (CDK), e2e (local stack)
	$(BIN)/python -m pytest -q

test-unit: install-dev
	$(BIN)/python -m pytest -q tests/unit

test-integration: install-dev
	$(BIN)/python -m pytest -q tests/integration

test-infra: install-dev
	$(BIN)/python -m pytest -q tests/infra

test-e2e: install-dev
	$(BIN)/python -m pytest -q tests/e2e

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy functions local models infra bench scripts acceptance app.py

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

readme-demo: install ## rewrite the README's demo excerpt from a real `make demo` run
	$(BIN)/python scripts/readme_demo.py

# `make bench`: latency, cold start, monitor timing (~1 min on 2 cores, ~400 MB of logs under .build/monitor_bench/,
# kept for the next run; `make clean` removes them). `make bench-quality`: the statistical tables (monitor verdicts over
# many seeded windows, realized-quality check, Athena scan and API cost; ~7-10 min on 2 cores).
bench: SHELL := /bin/bash
bench: .SHELLFLAGS := -o pipefail -c
bench: install-dev ## prints latency, cold-start and monitor timing figures, and keeps a copy in .local/bench.txt
	@mkdir -p $(LOCAL_DIR)
	{ echo "# make bench, $$(date -u +%Y-%m-%dT%H:%MZ), $$(uname -m), $$(nproc) cores, $$($(BIN)/python -V)"; \
	  $(BIN)/python bench/inference_bench.py --model $(MODEL) && $(BIN)/python bench/monitor_bench.py --no-quality; } | tee $(LOCAL_DIR)/bench.txt

bench-quality: SHELL := /bin/bash
bench-quality: .SHELLFLAGS := -o pipefail -c
bench-quality: install-dev ## monitor verdict table (false alarms, detection), quality check, Athena scan and API cost tables
	@mkdir -p $(LOCAL_DIR)
	{ echo "# make bench-quality, $$(date -u +%Y-%m-%dT%H:%MZ), $$(uname -m), $$(nproc) cores, $$($(BIN)/python -V)"; \
	  $(BIN)/python bench/monitor_quality.py && $(BIN)/python bench/quality_bench.py && \
	  $(BIN)/python bench/quality_scan_bench.py && $(BIN)/python bench/api_cost.py; } | tee $(LOCAL_DIR)/bench-quality.txt

# ---- AWS ---------------------------------------------------------------------------------------------------
LAYER_ARGS ?=  # --tracer for deployments with -c tracing=true

layer: install-dev ## Lambda layer (onnxruntime, numpy, powertools, pydantic) for arm64 / Python 3.12, no Docker
	$(BIN)/python layers/build_layer.py $(LAYER_ARGS)

synth: install-dev layer ## CloudFormation template in cdk.out/, offline, cdk-nag checked
	CDK_CONTEXT_JSON='{"model": "$(MODEL)", $(API_CONTEXT_JSON)}' $(BIN)/python app.py

preflight: install ## credentials, region and `cdk bootstrap`, checked in seconds before anything is built
	$(BIN)/python scripts/deploy_preflight.py

# The CDK CLI synthesizes the app on `bootstrap` whenever the directory has a cdk.json with an app (its
# defineEnvironments; aws/aws-cdk discussion 23856), which would need the layer and the CDK library first. So it runs
# in an empty directory, for the explicit aws://ACCOUNT/REGION the preflight found.
bootstrap: install ## `cdk bootstrap` (once per account and region) through npx: no global CDK CLI needed
	environment=$$($(BIN)/python scripts/deploy_preflight.py --before-bootstrap --environment) && \
		empty=$$(mktemp -d) && (cd "$$empty" && npx --yes aws-cdk@2 bootstrap "$$environment"); \
		status=$$?; rm -rf "$$empty"; exit $$status

# The preflight runs first, so a missing profile, region or bootstrap fails in seconds, before the layer build.
deploy: preflight ## needs AWS credentials; ALERT_EMAIL=you@example.com subscribes you to alerts
	$(MAKE) --no-print-directory layer
	npx --yes aws-cdk@2 deploy -c model=$(MODEL) $(API_CONTEXT_ARGS) $(if $(ALERT_EMAIL),-c alert_email=$(ALERT_EMAIL)) --outputs-file cdk-outputs.json

clean: ## generated files: local logs and reports, builds, caches (not the virtualenv)
	rm -rf .local .build cdk.out cdk-outputs.json validation-report.json .pytest_cache .mypy_cache .ruff_cache .hypothesis

# ---- targets added by other areas (append below) ------------------------------------------------------------

# --- realized model quality (ground truth joined to predictions; functions/quality) ---
LOOKBACK_DAYS ?= 7
QUALITY_END ?= last
TRAINING_SET ?= .local/training-set.csv

.PHONY: quality training-set
quality: install ## realized quality over LOG_FILE: report with confusion matrix, alerts to .local/alerts.jsonl
	$(BIN)/python -m local.quality --log-file $(LOG_FILE) --model-dir models/$(MODEL) --end $(QUALITY_END) --lookback-days $(LOOKBACK_DAYS) --alert-file .local/alerts.jsonl --state-file .local/alert_state.json

training-set: install ## labelled rows of LOG_FILE as a CSV for `python -m models.train --csv $(TRAINING_SET) --target label`
	$(BIN)/python -m local.quality --log-file $(LOG_FILE) --model-dir models/$(MODEL) --end $(QUALITY_END) --lookback-days $(LOOKBACK_DAYS) --training-set $(TRAINING_SET)

# --- acceptance (issue 13): a throw-away stack in a real AWS account, every AWS assumption checked, then deleted.
# Needs AWS credentials (fails fast without); KEEP=1 keeps the stack, DRY_RUN=1 prints the plan and calls nothing.
.PHONY: acceptance
acceptance: install-dev
	KEEP=$(KEEP) DRY_RUN=$(DRY_RUN) MODEL=$(MODEL) $(BIN)/python -m acceptance

# --- bytecode (docs/infrastructure.md): a Lambda-like cold start with and without the shipped .pyc files.
# Needs a CPython 3.12 (pyenv, uv or python3.12 on PATH); builds a layer for this machine's architecture under
# .build/bench-lambda/ the first time (PyPI), then runs in ~30 s. RUNS=10 fresh processes per figure.
RUNS ?= 10
.PHONY: bench-lambda
bench-lambda: SHELL := /bin/bash
bench-lambda: .SHELLFLAGS := -o pipefail -c
bench-lambda: install-dev ## cold start of layer + asset with and without .pyc, in fresh CPython 3.12 processes
	@mkdir -p $(LOCAL_DIR)
	{ echo "# make bench-lambda, $$(date -u +%Y-%m-%dT%H:%MZ), $$(uname -m), $$(nproc) cores, $$($(BIN)/python -V)"; \
	  $(BIN)/python bench/lambda_cold_start.py --model $(MODEL) --runs $(RUNS); } | tee $(LOCAL_DIR)/bench-lambda.txt

# --- drift benchmark (docs/monitor.md): the monitor on NannyML's synthetic multiclass data, chunk by chunk.
# Reads the committed bench/data/nannyml_multiclass.csv.gz (bench/nannyml_data.py wrote it); trains a model once
# into .build/drift_bench/ (~10-30 s), then judges each 6,000-row chunk (~15 s).
.PHONY: bench-drift
bench-drift: SHELL := /bin/bash
bench-drift: .SHELLFLAGS := -o pipefail -c
bench-drift: install ## per chunk: our verdict, checks and features named, NannyML's alert, realized and estimated accuracy
	@mkdir -p $(LOCAL_DIR)
	{ echo "# make bench-drift, $$(date -u +%Y-%m-%dT%H:%MZ), $$(uname -m), $$(nproc) cores, $$($(BIN)/python -V)"; \
	  $(BIN)/python bench/drift_bench.py; } | tee $(LOCAL_DIR)/bench-drift.txt
