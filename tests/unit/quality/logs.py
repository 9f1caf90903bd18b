"""Generated prediction and feedback logs in the contract's format, with the truth the quality SQL must recover."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from functions.contract import prediction_log as log
from functions.contract.model_artifact import Baseline, load_model_artifact
from models.train import load_csv_dataset

MODELS = Path(__file__).resolve().parents[3] / "models"
START_MS = 1_764_000_000_000  # 2025-11-24T16:00:00Z
OTHER_VERSION = "0ther0version"


def baseline_of(dataset: str) -> Baseline:
    return load_model_artifact(MODELS / dataset).baseline


def feedback_line(*, timestamp_ms: int, request_id: str, row: int, model: str, version: str, label: str, index: int) -> str:
    return json.dumps(
        {
            log.KEY_MESSAGE: log.MESSAGE_FEEDBACK,
            log.KEY_TIMESTAMP: timestamp_ms,
            log.KEY_REQUEST_ID: request_id,
            log.KEY_ROW: row,
            log.KEY_MODEL: model,
            log.KEY_MODEL_VERSION: version,
            log.KEY_LABEL: label,
            log.KEY_LABEL_INDEX: index,
        },
        separators=(",", ":"),
    )


@dataclass
class Scenario:
    lines: list[str] = field(default_factory=list)
    y_true: list[str] = field(default_factory=list)  # latest label of each labelled row of the judged version
    y_pred: list[str] = field(default_factory=list)
    delays_ms: list[int] = field(default_factory=list)
    predicted_rows: int = 0
    unmatched: int = 0
    other_version_labelled: int = 0
    features: list[list[float]] = field(default_factory=list)  # of labelled rows, any version, with their labels
    feature_labels: list[str] = field(default_factory=list)

    def write(self, path: Path, seed: int = 0) -> Path:
        order = np.random.default_rng(seed).permutation(len(self.lines))  # the log is not sorted by time
        path.write_text("\n".join(self.lines[i] for i in order) + "\n", encoding="utf-8")
        return path


def scenario(
    baseline: Baseline,
    *,
    seed: int = 0,
    rows: int = 300,
    wrong_share: float = 0.2,
    missing_share: float = 0.2,
    duplicate_share: float = 0.15,
    unmatched: int = 7,
    relabel: tuple[str, str, float] | None = None,  # (true label, new label, share): concept drift
) -> Scenario:
    """Rows resampled from the hold-out, answered by requests of 1-3 rows; some feedback missing, some twice."""
    rng = np.random.default_rng(seed)
    held_out = load_csv_dataset(MODELS / baseline.model_name / "holdout.csv", target="label", name="h", description="")
    labels = list(baseline.label_names)
    out = Scenario(unmatched=unmatched)
    t = START_MS
    done = 0
    while done < rows:
        size = int(min(rng.integers(1, 4), rows - done))
        picks = rng.integers(0, len(held_out.y), size)
        truth = [held_out.label_names[held_out.y[i]] for i in picks]
        predicted = [lab if rng.random() >= wrong_share else labels[int(rng.integers(len(labels)))] for lab in truth]
        version = OTHER_VERSION if rng.random() < 0.05 else baseline.model_version
        request_id = uuid.UUID(int=int(rng.integers(0, 2**63))).hex
        t += int(rng.integers(100, 5_000))
        lines = log.prediction_lines(
            timestamp_ms=t, request_id=request_id, endpoint="/predict", model=baseline.model_name, model_version=version,
            feature_names=baseline.feature_names, rows=[list(held_out.x[i]) for i in picks], labels=predicted,
            class_indices=[labels.index(p) for p in predicted], probabilities=[[1.0 / len(labels)] * len(labels)] * size,
            is_outlier=[False] * size, outlier_scores=[-0.5] * size, latency_ms=1.0,
        )  # fmt: skip
        out.lines += lines
        if rng.random() < 0.05:
            out.lines.append(lines[0])  # an at-least-once duplicate in the archive
        if version == baseline.model_version:
            out.predicted_rows += size
        for row, (pick, original, predicted_label) in enumerate(zip(picks, truth, predicted, strict=True)):
            true_label = original
            if relabel and original == relabel[0] and rng.random() < relabel[2]:
                true_label = relabel[1]
            if rng.random() < missing_share:
                continue
            delay = int(rng.integers(60_000, 3_600_000))
            if rng.random() < duplicate_share:  # an earlier, different label: the latest must win
                first = labels[(labels.index(true_label) + 1) % len(labels)]
                out.lines.append(
                    feedback_line(timestamp_ms=t + delay // 2, request_id=request_id, row=row, model=baseline.model_name,
                                  version=version, label=first, index=labels.index(first))
                )  # fmt: skip
            out.lines.append(
                feedback_line(timestamp_ms=t + delay, request_id=request_id, row=row, model=baseline.model_name,
                              version=version, label=true_label, index=labels.index(true_label))
            )  # fmt: skip
            out.features.append(list(held_out.x[pick]))
            out.feature_labels.append(true_label)
            if version == baseline.model_version:
                out.y_true.append(true_label)
                out.y_pred.append(predicted_label)
                out.delays_ms.append(delay)
            else:
                out.other_version_labelled += 1
        done += size
    for _ in range(unmatched):
        out.lines.append(
            feedback_line(timestamp_ms=t + 1000, request_id=uuid.uuid4().hex, row=0, model=baseline.model_name,
                          version=baseline.model_version, label=labels[0], index=0)
        )  # fmt: skip
    # noise the query must ignore: health probes, another model, a garbage line, a truncated last line
    out.lines += log.prediction_lines(
        timestamp_ms=START_MS + 10, request_id="f" * 32, endpoint=log.SAMPLE_ENDPOINTS[0], model=baseline.model_name,
        model_version=baseline.model_version, feature_names=baseline.feature_names, rows=[baseline.medians],
        labels=[labels[0]], class_indices=[0], probabilities=[[1.0] + [0.0] * (len(labels) - 1)], is_outlier=[False],
        outlier_scores=[-1.0], latency_ms=1.0,
    )  # fmt: skip
    out.lines.append(
        feedback_line(timestamp_ms=START_MS + 20, request_id="e" * 32, row=0, model="another_model", version="x",
                      label="whatever", index=0)
    )  # fmt: skip
    out.lines.append("not json at all")
    out.lines.append('{"message":"prediction","timestamp":17')
    return out


def end_ms(s: Scenario) -> int:
    return max(json.loads(line)[log.KEY_TIMESTAMP] for line in s.lines if line.startswith("{") and line.endswith("}")) + 1
