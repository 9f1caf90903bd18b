# Everyday commands. `make demo` and `make test` work on a fresh clone: they build the virtualenv first.
# Two install sets: the main job (demo, serve, monitor, train) installs requirements-local.txt only;
# tests, lint, synth and deploy add requirements-dev.txt (pytest, moto, mypy, cfn-lint, the CDK library).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MODEL ?= iris
# A model folder: MODEL=<name> is models/<name>; MODEL_DIR=<folder> names any folder `python -m models.train` wrote.
# MODEL_DIR=models/<name> is the same as MODEL=<name>. A folder outside models/ serves the local targets (demo, serve,
# monitor, quality, training-set); the targets that package models/<name> (train, bench*, synth, deploy, acceptance)
# refuse it in one line instead of silently using models/$(MODEL).
MODEL_DIR ?= models/$(MODEL)
# MODEL or MODEL_DIR given on the command line or in the environment, not the default
MODEL_CHOSEN := $(filter-out default file,$(origin MODEL) $(origin MODEL_DIR))
ifeq ($(abspath $(dir $(abspath $(MODEL_DIR)))),$(CURDIR)/models)
override MODEL := $(notdir $(abspath $(MODEL_DIR)))
else
OUTSIDE_MODEL_DIR := $(MODEL_DIR)
endif
# Checked first by every target that reads models/<name> only (before its prerequisites build anything).
MODEL_TARGET = $(firstword $(filter-out model-under-models,$(MAKECMDGOALS)) $@)
needs_model_under_models = $(if $(OUTSIDE_MODEL_DIR),@echo "make $(MODEL_TARGET): MODEL_DIR=$(OUTSIDE_MODEL_DIR) is outside models/$(comma) and $(MODEL_TARGET) uses a folder under models/ only: cp -r $(OUTSIDE_MODEL_DIR) models/<name>$(comma) then make $(MODEL_TARGET) MODEL=<name>" >&2; exit 2)
PORT ?= 8000
# The one default local log: `make serve` writes it, `make monitor` reads it. `make demo` keeps its own
# (.local/demo/predictions.jsonl, recreated on each run) and prints the `make monitor` command for it.
LOG_FILE ?= .local/predictions.jsonl
DEMO_DIR ?= .local/demo
WINDOW_END ?= now
WINDOW_MINUTES ?= 2
# HORIZONS=2,15,60,1440: `make monitor` in minute mode (docs/monitor.md), minutes stored beside the log.
HORIZONS ?=
# Reports, bench output and other generated files stay under .local/ (git-ignored); a bare REPORT=r.png lands there.
LOCAL_DIR ?= .local
# The alert state remembers the last judged window per check; a window not after it is stale (shown, not re-decided).
# STATE_FILE=.local/replay.json judges a log again as a fresh history.
STATE_FILE ?= $(LOCAL_DIR)/alert_state.json
ALERT_FILE ?= $(LOCAL_DIR)/alerts.jsonl
REPORT_PATH = $(if $(filter /%,$(REPORT)),$(REPORT),$(if $(findstring /,$(REPORT)),$(REPORT),$(LOCAL_DIR)/$(REPORT)))
# API front door (docs/api.md): API=rest|http|url, API_AUTH=api_key|iam|jwt (default per API; url: iam), WAF=true (REST only)
API ?= rest
API_AUTH ?=
WAF ?= false
API_CONTEXT_JSON = "api": "$(API)", "waf": "$(WAF)"$(if $(API_AUTH),$(comma) "api_auth": "$(API_AUTH)")
API_CONTEXT_ARGS = -c api=$(API) -c waf=$(WAF) $(if $(API_AUTH),-c api_auth=$(API_AUTH))
comma := ,
# One stack per model (docs/infrastructure.md): `make deploy MODEL=wine` deploys beside iris, not over it.
# An existing stack keeps its name with STACK_NAME=ServerlessInference. CONTEXT="key=value ..." adds any other
# documented setting (e.g. CONTEXT="reserved_concurrency=true data_kms_key=true"); the preflight checks the same set.
STACK_NAME ?= ServerlessInference-$(MODEL)
CONTEXT ?=
DEPLOY_CONTEXT_ARGS = -c model=$(MODEL) -c stack_name=$(STACK_NAME) $(API_CONTEXT_ARGS) \
	$(if $(ALERT_EMAIL),-c alert_email=$(ALERT_EMAIL)) $(foreach pair,$(CONTEXT),-c $(pair))

export PYTHONPATH := $(CURDIR)
# node 20 makes jsii print an end-of-life banner on every CDK call; silence that banner only.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1

LOCAL_STAMP := $(VENV)/.installed-local
DEV_STAMP := $(VENV)/.installed-dev
PIP := $(BIN)/python -m pip install --disable-pip-version-check --progress-bar off
# pip's full output goes to $(VENV)/install.log; the terminal gets one line per package fetched, and the log's tail on failure.
PIP_PROGRESS = 2>&1 | tee $(VENV)/install.log | awk '/^(Collecting|Processing) /{n++; printf "  %3d packages: %s\n", n, $$2; fflush()} \
	/^Installing collected packages/{printf "  unpacking %d packages into $(VENV) (the longest step; no output until it ends)\n", n; fflush()}' \
	|| { tail -n 20 $(VENV)/install.log; echo "install failed: the whole log is in $(VENV)/install.log"; exit 1; }

.DEFAULT_GOAL := help

.PHONY: help install install-dev demo serve monitor test test-unit test-integration test-infra test-e2e lint format \
	bench bench-quality train layer synth preflight bootstrap deploy readme-demo clean

# `make help` lists every target with a `## description`, under the `##@ group` line above it (a group named twice is
# one group).
help: ## this list
	@awk 'BEGIN {FS = ":[^#]*## "} /^##@ / {g = substr($$0, 5); if (!(g in seen)) {seen[g] = 1; order[++n] = g}; next} \
		/^[a-z][a-z0-9-]*:[^=]*## / {rows[g] = rows[g] sprintf("  make %-17s %s\n", $$1, $$2)} \
		END {for (i = 1; i <= n; i++) if (rows[order[i]] != "") printf "%s%s:\n%s", (i > 1 ? "\n" : ""), order[i], rows[order[i]]}' $(MAKEFILE_LIST)
	@printf "\nSettings: MODEL=iris|wine|<name under models/>, MODEL_DIR=<any model folder>, PORT, LOG_FILE, WINDOW_END, REPORT (README.md)\n"

.PHONY: model-under-models
model-under-models:
	$(needs_model_under_models)

##@ Install (the targets below run these themselves)
install: $(LOCAL_STAMP) ## what the main job needs: Lambda runtime, training, DuckDB, matplotlib

install-dev: $(DEV_STAMP) ## plus tests, lint and infrastructure (CDK library, moto, mypy, cfn-lint)

$(LOCAL_STAMP): SHELL := /bin/bash
$(LOCAL_STAMP): .SHELLFLAGS := -o pipefail -c
$(LOCAL_STAMP): requirements.txt requirements-local.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "needs Python 3.11 or newer as $(PYTHON) (try: make $(MAKECMDGOALS) PYTHON=python3.12)"; exit 1; }
	@test -x $(BIN)/python || { echo "creating $(VENV) (once)"; $(PYTHON) -m venv $(VENV); }
	@echo "installing the main job's packages (requirements-local.txt) into $(VENV), one line per package:"
	@$(PIP) -r requirements-local.txt $(PIP_PROGRESS)
	@echo "main job's packages installed"
	@touch $@

$(DEV_STAMP): SHELL := /bin/bash
$(DEV_STAMP): .SHELLFLAGS := -o pipefail -c
$(DEV_STAMP): $(LOCAL_STAMP) requirements-dev.txt
	@echo "installing the test, lint and CDK packages (requirements-dev.txt) into $(VENV), one line per package:"
	@$(PIP) -r requirements-dev.txt $(PIP_PROGRESS)
	@echo "test, lint and CDK packages installed"
	@touch $@

##@ Main job (local, no AWS account)
demo: install ## the whole loop: local API, traffic, monitor OK -> ALARM -> recovery, quality ALARM, pictures in DEMO_DIR
	$(BIN)/python -m local.demo --model-dir $(MODEL_DIR) --workdir $(DEMO_DIR)

serve: install ## the inference handler on http://127.0.0.1:PORT (8000), records to LOG_FILE; Ctrl-C stops it
	$(BIN)/python -m local.server --port $(PORT) --model-dir $(MODEL_DIR) --log-file $(LOG_FILE)

monitor: install ## one monitor evaluation over LOG_FILE (WINDOW_END=now|last|<ISO time>, REPORT=r.png, HORIZONS=2,15,60,1440)
	$(BIN)/python -m local.monitor --log-file $(LOG_FILE) --model-dir $(MODEL_DIR) --window-end $(WINDOW_END) --window-minutes $(WINDOW_MINUTES) --alert-file $(ALERT_FILE) --state-file $(STATE_FILE) $(if $(REPORT),--report $(REPORT_PATH)) $(if $(HORIZONS),--horizons $(HORIZONS))

##@ Model
train: model-under-models install ## retrain the shipped models (all, or MODEL=iris|wine|diabetes|credit_card): same bytes, same version
	@$(if $(filter-out iris wine diabetes credit_card,$(MODEL)),echo "make train retrains the shipped models (iris, wine, diabetes) from scikit-learn's data \
		and credit_card from bench/data/nannyml_multiclass.csv.gz; \
		retrain $(MODEL) from its data: python -m models.train --csv <file> --target <column> --out models/$(MODEL) --force" >&2; exit 2)
	$(if $(MODEL_CHOSEN),$(BIN)/python -m models.train --dataset $(MODEL) --force,\
		$(BIN)/python -m models.train --dataset iris --force && $(BIN)/python -m models.train --dataset wine --force \
		&& $(BIN)/python -m models.train --dataset diabetes --force && $(BIN)/python -m models.train --dataset credit_card --force)

##@ Checks
test: install-dev ## the whole suite: unit, integration (moto server), infra (CDK), e2e (local stack)
	$(BIN)/python -m pytest -q

test-unit: install-dev ## one tier: pure unit tests
	$(BIN)/python -m pytest -q tests/unit

test-integration: install-dev ## one tier: handlers in-process, AWS through moto's server on 127.0.0.1
	$(BIN)/python -m pytest -q tests/integration

test-infra: install-dev ## one tier: CDK template assertions, cfn-lint, cdk-nag
	$(BIN)/python -m pytest -q tests/infra

test-e2e: install-dev ## one tier: the local stack end to end through make and curl
	$(BIN)/python -m pytest -q tests/e2e

lint: install-dev ## ruff (lint and format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy functions local models infra bench scripts acceptance app.py

format: install-dev ## ruff format and ruff check --fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

readme-demo: install ## rewrite the README's demo excerpt from a real `make demo` run
	$(BIN)/python scripts/readme_demo.py

# `make bench`: latency, cold start, monitor timing (~1 min on 2 cores, ~400 MB of logs under .build/monitor_bench/,
# kept for the next run; `make clean` removes them). `make bench-quality`: the statistical tables (monitor verdicts over
# many seeded windows, realized-quality check, Athena scan and API cost; ~7-10 min on 2 cores).
bench: SHELL := /bin/bash
bench: .SHELLFLAGS := -o pipefail -c
bench: model-under-models install-dev ## latency, cold-start and monitor timing figures (~1 min), copied to .local/bench.txt
	@mkdir -p $(LOCAL_DIR)
	{ echo "# make bench, $$(date -u +%Y-%m-%dT%H:%MZ), $$(uname -m), $$(nproc) cores, $$($(BIN)/python -V)"; \
	  echo "[1/2] inference latency and cold start, model $(MODEL) (next: monitor timing)" >&2; \
	  $(BIN)/python bench/inference_bench.py --model $(MODEL) && \
	  echo "[2/2] monitor timing over 10,000 to 1,000,000 records (the last step)" >&2 && \
	  $(BIN)/python bench/monitor_bench.py --model $(MODEL) --no-quality; } | tee $(LOCAL_DIR)/bench.txt

bench-quality: SHELL := /bin/bash
bench-quality: .SHELLFLAGS := -o pipefail -c
bench-quality: model-under-models install-dev ## statistical tables: monitor verdicts, quality check, Athena scan, API cost (~7-10 min)
	@mkdir -p $(LOCAL_DIR)
	{ echo "# make bench-quality, $$(date -u +%Y-%m-%dT%H:%MZ), $$(uname -m), $$(nproc) cores, $$($(BIN)/python -V)"; \
	  echo "[1/5] monitor verdicts over seeded windows, the longest step (~5-7 min; next: horizons, quality, Athena scan, API cost)" >&2; \
	  $(BIN)/python bench/monitor_quality.py $(if $(MODEL_CHOSEN),--models $(MODEL)) && \
	  $(BIN)/python bench/relation_naming.py && \
	  echo "[2/5] minute aggregates over simulated weeks at 5 to 2,000 rows a minute (~15 min; next: quality, Athena scan, API cost)" >&2 && \
	  $(BIN)/python bench/monitor_horizons.py && \
	  echo "[3/5] realized-quality check over simulated labelled windows (next: Athena scan, API cost)" >&2 && \
	  $(BIN)/python bench/quality_bench.py --model $(MODEL) && \
	  echo "[4/5] Athena bytes scanned per quality run (next: API cost)" >&2 && \
	  $(BIN)/python bench/quality_scan_bench.py --model $(MODEL) && \
	  echo "[5/5] API cost per option (the last step)" >&2 && \
	  $(BIN)/python bench/api_cost.py --model $(MODEL); } | tee $(LOCAL_DIR)/bench-quality.txt

##@ Deploy (AWS)
LAYER_ARGS ?=  # --tracer for deployments with -c tracing=true

layer: install-dev ## Lambda layer (onnxruntime, numpy, powertools, pydantic) for arm64 / Python 3.12, no Docker
	$(BIN)/python layers/build_layer.py $(LAYER_ARGS)

synth: model-under-models install-dev layer ## CloudFormation template in cdk.out/, offline, cdk-nag checked
	CDK_CONTEXT_JSON='{"model": "$(MODEL)", $(API_CONTEXT_JSON)}' $(BIN)/python app.py
	@echo "synth: template(s) written: $$(ls cdk.out/*.template.json | tr '\n' ' ')(make deploy deploys them)"

preflight: install ## every account-level prerequisite of this deploy (bootstrap, concurrency, API Gateway role, ...), in seconds
	$(BIN)/python scripts/deploy_preflight.py $(DEPLOY_CONTEXT_ARGS)

# The CDK CLI synthesizes the app on `bootstrap` whenever the directory has a cdk.json with an app (its
# defineEnvironments; aws/aws-cdk discussion 23856), which would need the layer and the CDK library first. So it runs
# in an empty directory, for the explicit aws://ACCOUNT/REGION the preflight found.
bootstrap: install ## `cdk bootstrap` (once per account and region) through npx: no global CDK CLI needed
	environment=$$($(BIN)/python scripts/deploy_preflight.py --before-bootstrap --environment) && \
		empty=$$(mktemp -d) && (cd "$$empty" && npx --yes aws-cdk@2 bootstrap "$$environment"); \
		status=$$?; rm -rf "$$empty"; exit $$status

# The preflight runs first, so a missing profile, region or bootstrap fails in seconds, before the layer build.
deploy: model-under-models preflight ## stack $(STACK_NAME); needs AWS credentials; ALERT_EMAIL=you@example.com subscribes you to alerts
	$(MAKE) --no-print-directory layer
	npx --yes aws-cdk@2 deploy $(STACK_NAME) $(DEPLOY_CONTEXT_ARGS) --outputs-file cdk-outputs.json

##@ Checks
clean: ## generated files: local logs and reports, builds, caches (not the virtualenv)
	rm -rf .local .build cdk.out cdk-outputs.json validation-report.json .pytest_cache .mypy_cache .ruff_cache .hypothesis

# ---- targets added by other areas (append below) ------------------------------------------------------------

##@ Model
# --- realized model quality (ground truth joined to predictions; functions/quality) ---
LOOKBACK_DAYS ?= 7
QUALITY_END ?= last
TRAINING_SET ?= .local/training-set.csv

.PHONY: quality training-set
quality: install ## realized quality over LOG_FILE (labels from POST /feedback): confusion matrix, alerts to ALERT_FILE
	$(BIN)/python -m local.quality --log-file $(LOG_FILE) --model-dir $(MODEL_DIR) --end $(QUALITY_END) --lookback-days $(LOOKBACK_DAYS) --alert-file $(ALERT_FILE) --state-file $(STATE_FILE)

training-set: install ## labelled rows of LOG_FILE as a CSV (TRAINING_SET) that `python -m models.train --csv` trains on
	$(BIN)/python -m local.quality --log-file $(LOG_FILE) --model-dir $(MODEL_DIR) --end $(QUALITY_END) --lookback-days $(LOOKBACK_DAYS) --training-set $(TRAINING_SET)

##@ Deploy (AWS)
# --- acceptance: a throw-away stack in a real AWS account, every AWS assumption checked, then deleted.
# Needs AWS credentials (fails fast without); KEEP=1 keeps the stack, DRY_RUN=1 prints the plan and calls nothing.
# ACCEPTANCE_CONTEXT="data_kms_key=true reserved_concurrency=true" deploys with those options, so they are proved too.
ACCEPTANCE_CONTEXT ?=
.PHONY: acceptance
acceptance: model-under-models install-dev ## a throw-away stack in your account, every AWS assumption checked, then deleted (DRY_RUN=1: plan)
	KEEP=$(KEEP) DRY_RUN=$(DRY_RUN) MODEL=$(MODEL) ACCEPTANCE_CONTEXT="$(ACCEPTANCE_CONTEXT)" $(BIN)/python -m acceptance

##@ Checks
# --- bytecode (docs/infrastructure.md): a Lambda-like cold start with and without the shipped .pyc files.
# Needs a CPython 3.12 (pyenv, uv or python3.12 on PATH); builds a layer for this machine's architecture under
# .build/bench-lambda/ the first time (PyPI), then runs in ~30 s. RUNS=10 fresh processes per figure.
RUNS ?= 10
.PHONY: bench-lambda
bench-lambda: SHELL := /bin/bash
bench-lambda: .SHELLFLAGS := -o pipefail -c
bench-lambda: model-under-models install-dev ## cold start of layer + asset with and without .pyc, in fresh CPython 3.12 processes
	@mkdir -p $(LOCAL_DIR)
	{ echo "# make bench-lambda, $$(date -u +%Y-%m-%dT%H:%MZ), $$(uname -m), $$(nproc) cores, $$($(BIN)/python -V)"; \
	  $(BIN)/python bench/lambda_cold_start.py --model $(MODEL) --runs $(RUNS); } | tee $(LOCAL_DIR)/bench-lambda.txt

# --- bring your own model (docs/models.md): an existing ONNX classifier imported as it is ---
ONNX ?=
DATA ?=
TARGET ?= label
NAME ?=
# Columns of DATA that are categories although their values look like numbers (a string column always is one).
CATEGORICAL ?=
.PHONY: import-model test-frameworks
import-model: install ## ONNX=model.onnx DATA=reference.csv TARGET=label NAME=churn [CATEGORICAL=a,b] -> models/$(NAME)/
	@test -n "$(ONNX)" -a -n "$(DATA)" -a -n "$(NAME)" || \
		{ echo "usage: make import-model ONNX=path/model.onnx DATA=reference.csv TARGET=label NAME=churn [CATEGORICAL=zip,plan_id]"; exit 2; }
	$(BIN)/python -m models.import_model --onnx $(ONNX) --data $(DATA) --target $(TARGET) --name $(NAME) \
		$(if $(CATEGORICAL),--categorical $(CATEGORICAL))

# PyTorch is large and not in any requirements file: this target installs the pinned CPU build on first use.
TORCH_VERSION ?= 2.13.0
test-frameworks: install-dev ## import tests for frameworks too large for `make test` (PyTorch through torch.onnx.export)
	@$(BIN)/python -c 'import torch' 2>/dev/null || $(PIP) torch==$(TORCH_VERSION)
	FRAMEWORK_TESTS=1 $(BIN)/python -m pytest -q tests/frameworks

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
