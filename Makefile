# Everyday commands. `make demo` and `make test` work on a fresh clone: they build the virtualenv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MODEL ?= iris
PORT ?= 8000
LOG_FILE ?= .local/predictions.jsonl
WINDOW_END ?= now
WINDOW_MINUTES ?= 2
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

.PHONY: install demo serve monitor test test-unit test-integration test-infra test-e2e lint format bench train layer synth deploy clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

demo: install ## the whole loop locally: API, traffic, monitor OK -> ALARM -> recovery, picture
	$(BIN)/python -m local.demo --model $(MODEL)

serve: install ## the inference handler on http://127.0.0.1:$(PORT)
	$(BIN)/python -m local.server --port $(PORT) --model $(MODEL) --log-file $(LOG_FILE)

monitor: install ## one monitor evaluation over the local log
	$(BIN)/python -m local.monitor --log-file $(LOG_FILE) --model-dir models/$(MODEL) --window-end $(WINDOW_END) --window-minutes $(WINDOW_MINUTES) --alert-file .local/alerts.jsonl --state-file .local/alert_state.json $(if $(REPORT),--report $(REPORT))

test: install ## the whole suite: unit, integration (moto server), infra (CDK), e2e (local stack)
	$(BIN)/python -m pytest -q

test-unit: install
	$(BIN)/python -m pytest -q tests/unit

test-integration: install
	$(BIN)/python -m pytest -q tests/integration

test-infra: install
	$(BIN)/python -m pytest -q tests/infra

test-e2e: install
	$(BIN)/python -m pytest -q tests/e2e

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy functions local models infra bench app.py

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install ## prints latency, cold-start and monitor figures
	$(BIN)/python bench/inference_bench.py --model $(MODEL)
	$(BIN)/python bench/monitor_bench.py

train: install ## retrain both shipped models (reproducible: same bytes, same version)
	$(BIN)/python -m models.train --dataset iris
	$(BIN)/python -m models.train --dataset wine

LAYER_ARGS ?=  # --tracer for deployments with -c tracing=true

layer: install ## Lambda layer (onnxruntime, numpy, powertools, pydantic) for arm64 / Python 3.12, no Docker
	$(BIN)/python layers/build_layer.py $(LAYER_ARGS)

synth: install layer ## CloudFormation template in cdk.out/, offline, cdk-nag checked
	CDK_CONTEXT_JSON='{"model": "$(MODEL)", $(API_CONTEXT_JSON)}' $(BIN)/python app.py

deploy: install layer ## needs AWS credentials; ALERT_EMAIL=you@example.com subscribes you to alerts
	npx --yes aws-cdk@2 deploy -c model=$(MODEL) $(API_CONTEXT_ARGS) $(if $(ALERT_EMAIL),-c alert_email=$(ALERT_EMAIL)) --outputs-file cdk-outputs.json

clean:
	rm -rf .local .build cdk.out cdk-outputs.json .pytest_cache .mypy_cache .ruff_cache

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
acceptance: install
	KEEP=$(KEEP) DRY_RUN=$(DRY_RUN) MODEL=$(MODEL) $(BIN)/python -m acceptance
