"""What one acceptance run is: stack name, model, region, switches and where results go. Read once from the environment."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from functions.contract import names
from infra import constants as c

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / ".local" / "acceptance"
STACK_PREFIX = f"{c.STACK_NAME}-acc-"
# Teardown deletes data by name: it only ever touches stacks this suite named (prefix + 8 lowercase hex).
STACK_NAME_PATTERN = re.compile(rf"^{re.escape(STACK_PREFIX)}[0-9a-f]{{8}}$")
LOG_RETENTION_DAYS = 1  # the throw-away stack keeps its logs one day at most (they are deleted at teardown anyway)

_TRUE = {"1", "true", "yes", "on"}


class ConfigError(ValueError):
    """The run's settings are unusable; the message says which variable to fix."""


def new_stack_name() -> str:
    return f"{STACK_PREFIX}{secrets.token_hex(4)}"


def is_acceptance_stack(name: str) -> bool:
    return bool(STACK_NAME_PATTERN.match(name))


def _flag(env: Mapping[str, str], key: str) -> bool:
    return env.get(key, "").strip().lower() in _TRUE


# The suite owns these: a throw-away stack under its own name, deleted with its data.
RESERVED_CONTEXT = frozenset({c.CTX_MODEL, c.CTX_STACK_NAME, c.CTX_RETAIN_DATA})


def parse_context(text: str) -> dict[str, str]:
    """ACCEPTANCE_CONTEXT="data_kms_key=true reserved_concurrency=true": extra `-c key=value` for the deploy."""
    context: dict[str, str] = {}
    for pair in text.replace(",", " ").split():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"ACCEPTANCE_CONTEXT: {pair!r} is not key=value")
        if key in RESERVED_CONTEXT:
            raise ConfigError(f"ACCEPTANCE_CONTEXT: {key} is set by the suite (use MODEL= for the model)")
        context[key] = value
    return context


@dataclass(frozen=True)
class RunConfig:
    stack_name: str
    model: str
    region: str | None
    keep: bool
    dry_run: bool
    results_dir: Path
    started_at: datetime
    extra_context: Mapping[str, str] = field(default_factory=dict)  # ACCEPTANCE_CONTEXT: the option under test

    @property
    def model_dir(self) -> Path:
        return REPO_ROOT / "models" / self.model

    @property
    def run_id(self) -> str:
        return self.stack_name.removeprefix(STACK_PREFIX)

    @property
    def results_file(self) -> Path:
        return self.results_dir / f"{self.stack_name}-{self.started_at.strftime('%Y%m%dT%H%M%SZ')}.json"

    def cdk_context(self) -> dict[str, str]:
        """`-c key=value` pairs of the throw-away deployment (keys from infra/constants.py)."""
        return {
            c.CTX_MODEL: self.model,
            c.CTX_STACK_NAME: self.stack_name,
            c.CTX_RETAIN_DATA: "false",
            c.CTX_LOG_RETENTION_DAYS: str(LOG_RETENTION_DAYS),
            **self.extra_context,
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, *, now: datetime | None = None) -> RunConfig:
        model = env.get("MODEL", "").strip() or names.DEFAULT_MODEL
        if not (REPO_ROOT / "models" / model / names.BASELINE_FILE).is_file():
            raise ConfigError(f"MODEL={model!r}: no models/{model}/{names.BASELINE_FILE}")
        stack_name = env.get("ACCEPTANCE_STACK_NAME", "").strip() or new_stack_name()
        if not is_acceptance_stack(stack_name):
            raise ConfigError(f"ACCEPTANCE_STACK_NAME={stack_name!r} must look like {STACK_PREFIX}<8 hex digits>")
        region = (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "").strip() or None
        return cls(
            stack_name=stack_name,
            model=model,
            region=region,
            keep=_flag(env, "KEEP"),
            dry_run=_flag(env, "DRY_RUN"),
            results_dir=Path(env.get("ACCEPTANCE_RESULTS_DIR", "").strip() or RESULTS_DIR),
            started_at=now or datetime.now(UTC),
            extra_context=parse_context(env.get("ACCEPTANCE_CONTEXT", "")),
        )
