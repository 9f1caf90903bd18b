"""The one SQL, run by DuckDB over generated JSON-lines logs, gives scikit-learn's metrics on the same rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, precision_score, recall_score

from functions.quality import sql
from functions.quality.local_engine import DuckDbRunner
from functions.quality.report import parse_rows
from tests.unit.quality.logs import OTHER_VERSION, START_MS, baseline_of, end_ms, scenario


@pytest.mark.parametrize("dataset", ["iris", "wine"])
@pytest.mark.parametrize("seed", [0, 1])
def test_sql_metrics_equal_scikit_learn_with_missing_duplicated_and_unmatched_feedback(
    dataset: str, seed: int, tmp_path: Path
) -> None:
    baseline = baseline_of(dataset)
    truth = scenario(baseline, seed=seed)
    path = truth.write(tmp_path / "log.jsonl", seed)
    rows = DuckDbRunner(path).run(sql.QUALITY_SQL, sql.parameters(baseline.model_name, START_MS, end_ms(truth)))
    versions = parse_rows(rows, baseline.label_names)
    assert set(versions) == {baseline.model_version, OTHER_VERSION}
    quality = versions[baseline.model_version]
    labels = list(baseline.label_names)
    assert quality.labels == tuple(labels)

    assert quality.predicted_rows == truth.predicted_rows  # duplicates once, health probes and other models out
    assert quality.labelled_rows == len(truth.y_true)
    assert quality.unmatched_feedback == truth.unmatched
    assert versions[OTHER_VERSION].labelled_rows == truth.other_version_labelled
    assert 0.5 < quality.labelled_fraction < 0.95  # type: ignore[operator]

    assert quality.accuracy == pytest.approx(accuracy_score(truth.y_true, truth.y_pred), abs=1e-12)
    np.testing.assert_array_equal(np.array(quality.confusion), confusion_matrix(truth.y_true, truth.y_pred, labels=labels))
    precision = precision_score(truth.y_true, truth.y_pred, labels=labels, average=None, zero_division=np.nan)
    recall = recall_score(truth.y_true, truth.y_pred, labels=labels, average=None, zero_division=np.nan)
    for index in range(len(labels)):
        assert quality.precision(index) == pytest.approx(precision[index], abs=1e-12, nan_ok=True)
        assert quality.recall(index) == pytest.approx(recall[index], abs=1e-12, nan_ok=True)
    # the median delay is an approximate percentile in both engines: it must sit in the middle of the delays
    low, high = np.percentile(truth.delays_ms, [40, 60])
    assert quality.median_label_delay_ms is not None and low <= quality.median_label_delay_ms <= high


def test_the_latest_feedback_wins_and_the_earlier_one_is_not_counted(tmp_path: Path) -> None:
    baseline = baseline_of("iris")
    truth = scenario(baseline, seed=3, duplicate_share=1.0, missing_share=0.0, wrong_share=0.0, unmatched=0)
    path = truth.write(tmp_path / "log.jsonl")
    rows = DuckDbRunner(path).run(sql.QUALITY_SQL, sql.parameters(baseline.model_name, START_MS, end_ms(truth)))
    quality = parse_rows(rows, baseline.label_names)[baseline.model_version]
    # every row got a wrong label first and the right one later: only the later one counts
    assert quality.labelled_rows == len(truth.y_true)
    assert quality.accuracy == 1.0


def test_rows_outside_the_lookback_are_not_counted(tmp_path: Path) -> None:
    baseline = baseline_of("iris")
    truth = scenario(baseline, seed=4)
    path = truth.write(tmp_path / "log.jsonl")
    rows = DuckDbRunner(path).run(sql.QUALITY_SQL, sql.parameters(baseline.model_name, START_MS - 10_000, START_MS))
    assert parse_rows(rows, baseline.label_names) == {}


def test_labels_outside_the_model_label_set_are_counted_as_wrong(tmp_path: Path) -> None:
    rows = [
        {"model_version": "v", "kind": "labelled", "predicted": "a", "actual": "a", "row_count": "3", "median_delay_ms": None,
         "grouping_level": "0"},
        {"model_version": "v", "kind": "labelled", "predicted": "a", "actual": "zebra", "row_count": "1", "median_delay_ms": None,
         "grouping_level": "0"},
        {"model_version": "v", "kind": None, "predicted": None, "actual": None, "row_count": "4", "median_delay_ms": "1500",
         "grouping_level": "7"},
    ]  # fmt: skip
    quality = parse_rows(rows, ["a", "b"])["v"]
    assert quality.labels == ("a", "b", "zebra")
    assert quality.labelled_rows == 4 and quality.accuracy == 0.75
    assert quality.median_label_delay_ms == 1500.0


def test_an_unknown_result_kind_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValueError, match="unexpected kind"):
        parse_rows([{"model_version": "v", "kind": "odd", "predicted": None, "actual": None, "row_count": 1,
                     "median_delay_ms": None, "grouping_level": 0}], ["a", "b"])  # fmt: skip
