"""The hot path's direct call into the compiled ONNX session answers exactly as the public `run`, or is not used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from functions.contract.model_artifact import load_model_artifact
from functions.inference.onnx_model import OneRowBinding, OnnxModel, RowPrediction, fast_runner, public_runner, row_of

MODELS = Path(__file__).resolve().parents[3] / "models"


@pytest.fixture(scope="module", params=["iris", "wine"])
def model(request: pytest.FixtureRequest) -> OnnxModel:
    return OnnxModel(load_model_artifact(MODELS / request.param))


def rows_around_training(model: OnnxModel, count: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    return (rng.normal(size=(count, model.n_features)) * 3).astype(np.float32)


@pytest.mark.parametrize("count", [1, 5, 1000])
def test_fast_path_answers_as_the_public_run(model: OnnxModel, count: int) -> None:
    rows = rows_around_training(model, count)
    fast = model.predict(rows)
    label, probabilities = model._classifier.run(None, {model._classifier_input: rows})[:2]
    (scores,) = model._detector.run(["scores"], {model._detector_input: rows})
    np.testing.assert_array_equal(fast.class_index, label)
    np.testing.assert_array_equal(fast.probabilities, probabilities)
    np.testing.assert_array_equal(fast.outlier_score, -scores.reshape(-1))


class Session:
    """An InferenceSession stand-in: `run` is the public API; `_sess` the compiled one, possibly wrong or broken."""

    def __init__(self, compiled: Any) -> None:
        if compiled is not None:
            self._sess = compiled
        self.public_calls = 0

    def run(self, outputs: list[str], feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.public_calls += 1
        return [feed["X"] * 2]


class Compiled:
    def __init__(self, factor: float = 2.0, fail: bool = False) -> None:
        self.factor, self.fail, self.calls = factor, fail, 0

    def run(self, outputs: list[str], feed: dict[str, np.ndarray], options: None) -> list[np.ndarray]:
        self.calls += 1
        if self.fail:
            raise TypeError("run() takes 2 arguments")
        return [feed["X"] * self.factor]


PROBE = {"X": np.ones((1, 2), dtype=np.float32)}


def test_the_compiled_session_is_used_when_it_agrees() -> None:
    compiled = Compiled()
    session = Session(compiled)
    run = fast_runner(session, ["y"], PROBE)
    calls = compiled.calls
    (out,) = run(["y"], {"X": np.full((1, 2), 3.0, dtype=np.float32)})
    assert out.tolist() == [[6.0, 6.0]]
    assert compiled.calls == calls + 1


@pytest.mark.parametrize("compiled", [None, Compiled(factor=3.0), Compiled(fail=True)], ids=["absent", "disagrees", "raises"])
def test_the_public_run_is_used_otherwise(compiled: Compiled | None) -> None:
    session = Session(compiled)
    run = fast_runner(session, ["y"], PROBE)
    before = session.public_calls
    (out,) = run(["y"], {"X": np.full((1, 2), 3.0, dtype=np.float32)})
    assert out.tolist() == [[6.0, 6.0]]
    assert session.public_calls == before + 1


def test_public_runner_passes_output_names() -> None:
    session = Session(None)
    assert public_runner(session)(("y",), PROBE)[0].tolist() == [[2.0, 2.0]]  # type: ignore[arg-type]


def unbound(model: OnnxModel, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    label, probabilities = model._classifier.run(None, {model._classifier_input: rows})[:2]
    (scores,) = model._detector.run(["scores"], {model._detector_input: rows})
    return label, probabilities, -scores.reshape(-1)


def test_one_row_requests_use_the_bound_buffers(model: OnnxModel) -> None:
    assert model._one_row is not None


def assert_same_row(got: RowPrediction, expected: RowPrediction) -> None:
    """Equal as the log writes them: same types, same text (so -0.0 is not 0.0, and NaN equals NaN)."""
    assert type(got.class_index) is int and got.class_index == expected.class_index
    assert [repr(p) for p in got.probabilities] == [repr(p) for p in expected.probabilities]
    assert all(type(p) is float for p in got.probabilities)
    assert type(got.outlier_score) is float and repr(got.outlier_score) == repr(expected.outlier_score)


@pytest.mark.parametrize("scale", [1.0, 1e3, 1e30])
def test_the_bound_one_row_path_answers_as_the_public_run(model: OnnxModel, scale: float) -> None:
    rows = rows_around_training(model, 200) * np.float32(scale)
    for row in rows:
        label, probabilities, scores = unbound(model, row[np.newaxis, :])
        expected = RowPrediction(int(label[0]), probabilities[0].tolist(), float(scores[0]))
        assert_same_row(model.predict_one(row.tolist()), expected)
        assert_same_row(row_of(model.predict(row[np.newaxis, :])), expected)


def test_the_row_is_packed_as_numpy_converts_float64_to_float32(model: OnnxModel) -> None:
    """The parser hands Python floats (float64); both paths must round them to the same float32."""
    rows = np.random.default_rng(3).normal(size=(200, model.n_features)) * 7.3
    for row in rows:
        assert_same_row(model.predict_one(row.tolist()), row_of(model.predict(row[np.newaxis, :].astype(np.float32))))


def test_without_a_binding_predict_one_uses_the_unbound_runs(model: OnnxModel, monkeypatch: pytest.MonkeyPatch) -> None:
    row = rows_around_training(model, 1)[0]
    expected = model.predict_one(row.tolist())
    monkeypatch.setattr(model, "_one_row", None)
    assert_same_row(model.predict_one(row.tolist()), expected)


def test_a_result_is_not_overwritten_by_the_next_request(model: OnnxModel) -> None:
    first_row, second_row = rows_around_training(model, 2)
    first = model.predict_one(first_row.tolist())
    kept = RowPrediction(first.class_index, list(first.probabilities), first.outlier_score, first.reconstruction_error)
    model.predict_one((second_row * 5).tolist())
    assert first == kept


def test_threads_each_get_their_own_answer(model: OnnxModel) -> None:
    from concurrent.futures import ThreadPoolExecutor

    rows = rows_around_training(model, 400)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda row: model.predict_one(row.tolist()), rows))
    for row, got in zip(rows, results, strict=True):
        label, probabilities, scores = unbound(model, row[np.newaxis, :])
        assert_same_row(got, RowPrediction(int(label[0]), probabilities[0].tolist(), float(scores[0])))


def test_a_binding_that_disagrees_or_fails_is_not_used(model: OnnxModel, monkeypatch: pytest.MonkeyPatch) -> None:
    probe = rows_around_training(model, 1)[0].tolist()
    expected = row_of(model.predict(np.array([probe], dtype=np.float32)))
    assert OneRowBinding.checked(model, probe, expected) is not None

    def wrong(self: OneRowBinding, values: list[float]) -> RowPrediction:
        return RowPrediction(expected.class_index + 1, expected.probabilities, expected.outlier_score)

    monkeypatch.setattr(OneRowBinding, "predict_one", wrong)
    assert OneRowBinding.checked(model, probe, expected) is None

    def negative_zero(self: OneRowBinding, values: list[float]) -> RowPrediction:
        return RowPrediction(expected.class_index, expected.probabilities, -0.0 if expected.outlier_score == 0 else 0.0)

    monkeypatch.setattr(OneRowBinding, "predict_one", negative_zero)
    assert OneRowBinding.checked(model, probe, expected) is None

    def broken(self: OneRowBinding, values: list[float]) -> RowPrediction:
        raise RuntimeError("Shape mismatch attempting to re-use buffer")

    monkeypatch.setattr(OneRowBinding, "predict_one", broken)
    assert OneRowBinding.checked(model, probe, expected) is None


def test_the_joint_drift_score_is_the_same_on_both_paths(model: OnnxModel) -> None:
    rows = rows_around_training(model, 20)
    batch = model.predict(rows)
    assert batch.reconstruction_error is not None and batch.reconstruction_error.shape == (20,)
    for index, row in enumerate(rows):
        one = model.predict_one(row.tolist())
        assert one.reconstruction_error == row_of(batch, index).reconstruction_error
    session = model._joint
    assert session is not None
    direct = session.run(None, {session.get_inputs()[0].name: rows})[0].reshape(-1)
    np.testing.assert_array_equal(batch.reconstruction_error, direct)


def test_a_folder_without_the_joint_drift_model_serves_without_the_score(tmp_path: Path) -> None:
    import json
    import shutil

    folder = tmp_path / "iris"
    shutil.copytree(MODELS / "iris", folder)
    document = json.loads((folder / "baseline.json").read_text())
    document.pop("joint_drift")
    (folder / "baseline.json").write_text(json.dumps(document))
    plain = OnnxModel(load_model_artifact(folder))
    row = rows_around_training(plain, 1)
    assert plain.predict(row).reconstruction_error is None
    assert plain.predict_one(row[0].tolist()).reconstruction_error is None


def test_an_overflowing_reconstruction_error_is_logged_as_the_cap_not_refused() -> None:
    from functions.inference.prediction_service import RECONSTRUCTION_ERROR_CAP, bounded_error

    assert bounded_error(float("inf")) == bounded_error(float("nan")) == RECONSTRUCTION_ERROR_CAP
    assert bounded_error(1.234567) == 1.2346
