"""A mixed model's log (category strings in `features`, `unseen_categories` on some lines): the quality SQL judges it
as it judges numbers only, and the training-set export carries the categories as text, in input order."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from functions.contract.model_artifact import FEATURE_CATEGORICAL
from functions.quality import sql
from functions.quality.local_engine import DuckDbRunner
from functions.quality.report import parse_rows
from local import quality
from tests.unit.quality.logs import START_MS, baseline_of, end_ms, scenario
from tests.unit.quality.mixed import (
    CHANNEL_VALUES,
    MIXED_MODEL,
    PLAN_VALUES,
    mixed_baseline,
    mixed_row,
    mixed_scenario,
    write_mixed_model_folder,
)

GOLDEN = Path(__file__).with_name("golden")
GOLDEN_TRAINING_SET = GOLDEN / "training_set_mixed_athena.sql"


def test_the_mixed_baseline_puts_categories_in_the_middle_and_at_the_end() -> None:
    baseline = mixed_baseline()
    assert baseline.feature_names == ("sepal_length", "sepal_width", "plan", "petal_length", "petal_width", "channel")
    assert baseline.categorical_positions == (2, 5)


@pytest.mark.parametrize("seed", [0, 1])
def test_mixed_lines_give_the_same_quality_rows_as_numbers_only(seed: int, tmp_path: Path) -> None:
    """The categories' strings and the unseen key change nothing the join reads: same cells, same counts (the median
    delay is an approximate percentile in DuckDB, so it is compared with the delays, not between runs)."""
    iris, mixed = baseline_of("iris"), mixed_baseline()
    numeric = scenario(iris, seed=seed)
    truth = mixed_scenario(numeric, mixed)
    assert sum('"unseen_categories":["plan"' in line for line in truth.lines) > 10  # the log does carry unseen rows
    window = (START_MS, end_ms(numeric))
    expected = DuckDbRunner.for_model(numeric.write(tmp_path / "iris.jsonl", seed), iris).run(
        sql.QUALITY_SQL, sql.parameters("iris", *window)
    )
    rows = DuckDbRunner.for_model(truth.write(tmp_path / "mixed.jsonl", seed), mixed).run(
        sql.QUALITY_SQL, sql.parameters(MIXED_MODEL, *window)
    )
    exact = [{k: v for k, v in row.items() if k != sql.COL_MEDIAN_DELAY} for row in rows]
    assert exact == [{k: v for k, v in row.items() if k != sql.COL_MEDIAN_DELAY} for row in expected] and rows
    quality = parse_rows(rows, mixed.label_names)[mixed.model_version]
    assert quality.predicted_rows == truth.predicted_rows
    assert quality.labelled_rows == len(truth.y_true)
    assert quality.correct == sum(a == p for a, p in zip(truth.y_true, truth.y_pred, strict=True))
    low, high = np.percentile(truth.delays_ms, [40, 60])
    assert quality.median_label_delay_ms is not None and low <= quality.median_label_delay_ms <= high


def test_the_local_engine_reads_categories_as_text_and_numbers_as_numbers(tmp_path: Path) -> None:
    baseline = mixed_baseline()
    truth = mixed_scenario(scenario(baseline_of("iris"), seed=2), baseline)
    path = truth.write(tmp_path / "mixed.jsonl")
    rows = DuckDbRunner.for_model(path, baseline).run(
        sql.training_set_sql(baseline.feature_names), sql.parameters(MIXED_MODEL, START_MS, end_ms(truth))
    )
    assert len(rows) == len(truth.feature_labels)
    for row in rows:
        for name, kind in zip(baseline.feature_names, baseline.feature_types, strict=True):
            assert isinstance(row[name], str if kind == FEATURE_CATEGORICAL else float), (name, row[name])
    assert {row["plan"] for row in rows} == set(PLAN_VALUES)
    assert {row["channel"] for row in rows} == set(CHANNEL_VALUES)


def test_a_runner_given_types_for_other_names_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"message":"prediction","timestamp":1}\n')
    with pytest.raises(ValueError, match="2 feature types for 1 feature names"):
        DuckDbRunner(path, ("a",), ("numeric", "categorical")).unreadable_lines()


def run(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return quality.main(args, out), out.getvalue()


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return write_mixed_model_folder(tmp_path / "models" / MIXED_MODEL)


def common(tmp_path: Path, log: Path, model_dir: Path) -> list[str]:
    return [
        "--log-file", str(log), "--model-dir", str(model_dir), "--end", "last",
        "--alert-file", str(tmp_path / "alerts.jsonl"), "--state-file", str(tmp_path / "state.json"),
    ]  # fmt: skip


def test_the_training_set_export_carries_categories_as_text_in_input_order(tmp_path: Path, model_dir: Path) -> None:
    baseline = mixed_baseline()
    truth = mixed_scenario(scenario(baseline_of("iris"), seed=7, rows=400, missing_share=0.1), baseline)
    log = truth.write(tmp_path / "mixed.jsonl")
    out_csv = tmp_path / "labelled.csv"
    code, text = run([*common(tmp_path, log, model_dir), "--training-set", str(out_csv)])
    assert code == 0 and f"{len(truth.feature_labels)} labelled rows written" in text
    assert "--categorical plan,channel " in text  # the retrain command keeps "0042" a category
    raw = out_csv.read_text(encoding="utf-8")
    assert '"enterprise, ""2y"""' in raw  # a category with a comma and quotes is one quoted CSV field
    with out_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == [*baseline.feature_names, "label"]
    numeric = [i for i, kind in enumerate(baseline.feature_types) if kind != FEATURE_CATEGORICAL]
    exported = sorted((tuple(float(v) if i in numeric else v for i, v in enumerate(r[:-1])), r[-1]) for r in rows[1:])
    expected = sorted((tuple(mixed_row(f)), label) for f, label in zip(truth.features, truth.feature_labels, strict=True))
    assert exported == expected
    assert {r[5] for r in rows[1:]} == set(CHANNEL_VALUES)  # "0042" stays text, not 42.0


def test_the_report_judges_a_mixed_log(tmp_path: Path, model_dir: Path) -> None:
    baseline = mixed_baseline()
    truth = mixed_scenario(scenario(baseline_of("iris"), seed=5, rows=600, wrong_share=0.02, unmatched=0), baseline)
    code, text = run(common(tmp_path, truth.write(tmp_path / "mixed.jsonl"), model_dir))
    assert code == 0
    assert f"Realized quality of model {MIXED_MODEL} (version {baseline.model_version}): OK" in text


def test_the_athena_training_set_text_of_a_mixed_model_is_golden(tmp_path: Path, model_dir: Path) -> None:
    """Regenerate: `python -m local.quality --model-dir <mixed folder> --athena-training-set-sql` (the text after the
    parameter comment); the Glue table types the categorical fields as string (infra/archive.py)."""
    code, text = run(["--model-dir", str(model_dir), "--athena-training-set-sql"])
    assert code == 0
    shipped = text.split("\n", 1)[1]
    assert shipped == sql.transpile(sql.training_set_sql(mixed_baseline().feature_names), "athena")
    assert shipped == GOLDEN_TRAINING_SET.read_text(encoding="utf-8")
    columns = [line.strip().rstrip(",") for line in shipped.splitlines() if "p.features." in line]
    assert columns == [f'p.features."{name}" AS "{name}"' for name in mixed_baseline().feature_names]
