"""A mixed model (numbers and categories) for the archive, quality and export tests: iris's baseline with two
categorical features inserted as the contract describes, and iris logs rewritten into that model's lines.

A row's categories are a function of its numbers, so the truth of a generated log (which numbers, which label)
also gives the categories each exported row must carry."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

from functions.contract import names
from functions.contract import prediction_log as log
from functions.contract.model_artifact import FEATURE_CATEGORICAL, Baseline, parse_baseline
from tests.unit.quality.logs import MODELS, Scenario

MIXED_MODEL = "mixed"
# `plan` sits between iris's second and third feature, `channel` after the last: a category in the middle and at the end.
PLAN = {
    "name": "plan",
    "type": FEATURE_CATEGORICAL,
    "count": 120,
    "categories": ["basic", "pro", "team"],
    "shares": [0.5, 0.3, 0.15],
    "other_share": 0.05,
}
CHANNEL = {
    "name": "channel",
    "type": FEATURE_CATEGORICAL,
    "display_name": "Sales channel",
    "count": 120,
    "categories": ["web", "store"],
    "shares": [0.7, 0.3],
    "other_share": 0.0,
}
# The values a row gets; the last of each is not listed (unseen). The unseen plan holds a comma and quotes, which a
# CSV must quote; the unseen channel looks like a number, which it must still be written as text.
PLAN_VALUES = ("basic", "pro", "team", 'enterprise, "2y"')
CHANNEL_VALUES = ("web", "store", "0042")


def mixed_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((MODELS / "iris" / "baseline.json").read_text(encoding="utf-8"))
    document["model"]["name"] = MIXED_MODEL
    document["features"].insert(2, copy.deepcopy(PLAN))
    document["features"].append(copy.deepcopy(CHANNEL))
    return document


def mixed_baseline() -> Baseline:
    return parse_baseline(mixed_document())


def write_mixed_model_folder(directory: Path) -> Path:
    """models/<mixed> with the mixed baseline and iris's ONNX files (synth and the quality job read the baseline only)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / names.BASELINE_FILE).write_text(json.dumps(mixed_document(), indent=1), encoding="utf-8")
    for file_name in (names.CLASSIFIER_FILE, names.OUTLIER_DETECTOR_FILE, names.JOINT_DRIFT_FILE):
        shutil.copyfile(MODELS / "iris" / file_name, directory / file_name)
    return directory


def categories_of(numbers: list[float]) -> tuple[str, str]:
    """The (plan, channel) of a row with these iris numbers."""
    return PLAN_VALUES[round(numbers[0] * 10) % len(PLAN_VALUES)], CHANNEL_VALUES[round(numbers[1] * 10) % len(CHANNEL_VALUES)]


def mixed_row(numbers: list[float]) -> list[float | str]:
    """Iris numbers in the mixed model's input order: two numbers, plan, two numbers, channel."""
    plan, channel = categories_of(numbers)
    return [numbers[0], numbers[1], plan, numbers[2], numbers[3], channel]


def _mixed_line(line: str, baseline: Baseline) -> str:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return line  # garbage and truncated lines stay as they are
    if record.get(log.KEY_MODEL) != "iris":
        return line
    record[log.KEY_MODEL] = MIXED_MODEL
    if record[log.KEY_MESSAGE] == log.MESSAGE_PREDICTION:
        values = mixed_row(list(record[log.KEY_FEATURES].values()))
        record[log.KEY_FEATURES] = dict(zip(baseline.feature_names, values, strict=True))
        unseen = [
            feature.name for feature in baseline.categorical if record[log.KEY_FEATURES][feature.name] not in feature.categories
        ]
        if unseen:  # after `probabilities`, the last key of these lines (no caller)
            record[log.KEY_UNSEEN_CATEGORIES] = unseen
    return json.dumps(record, separators=(",", ":"))


def mixed_scenario(numeric: Scenario, baseline: Baseline) -> Scenario:
    """The iris scenario's lines as the mixed model logs them; the truth is unchanged (categories do not move labels)."""
    return Scenario(
        lines=[_mixed_line(line, baseline) for line in numeric.lines],
        y_true=numeric.y_true,
        y_pred=numeric.y_pred,
        delays_ms=numeric.delays_ms,
        predicted_rows=numeric.predicted_rows,
        unmatched=numeric.unmatched,
        other_version_labelled=numeric.other_version_labelled,
        features=numeric.features,
        feature_labels=numeric.feature_labels,
    )
