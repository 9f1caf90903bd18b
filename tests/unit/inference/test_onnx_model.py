"""The hot path's direct call into the compiled ONNX session answers exactly as the public `run`, or is not used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from functions.contract.model_artifact import load_model_artifact
from functions.inference.onnx_model import OnnxModel, fast_runner, public_runner

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
