"""A PyTorch classifier (a small MLP ending in softmax), exported with torch.onnx.export as its users export it,
is imported and served exactly as PyTorch answers. `make test-frameworks` installs the pinned CPU build first;
without torch these tests are skipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.import_model import ModelImportError, import_model
from tests.unit.models.test_import_model import FEATURES, dataset, served, write_csv

torch = pytest.importorskip("torch")


class Mlp(torch.nn.Module):  # type: ignore[misc,name-defined]
    def __init__(self, width: int, classes: int, softmax: bool = True) -> None:
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Linear(width, 16), torch.nn.ReLU(), torch.nn.Linear(16, classes))
        self.softmax = softmax

    def forward(self, x: object) -> object:
        logits = self.layers(x)
        return torch.softmax(logits, dim=1) if self.softmax else logits


def trained_mlp(x: np.ndarray, y: np.ndarray, classes: list[str], softmax: bool = True) -> Mlp:
    torch.manual_seed(0)
    model = Mlp(x.shape[1], len(classes), softmax)
    target = torch.tensor([classes.index(label) for label in y])
    inputs = torch.tensor(x, dtype=torch.float32)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model.layers(inputs), target)
        loss.backward()
        optimizer.step()
    return model.eval()


def export(model: Mlp, width: int, path: Path) -> Path:
    torch.onnx.export(
        model,
        (torch.zeros(1, width),),
        str(path),
        input_names=["features"],
        output_names=["output"],
        dynamic_axes={"features": {0: "batch"}, "output": {0: "batch"}},
        dynamo=False,
    )
    return path


def test_a_pytorch_mlp_is_imported_and_served_as_pytorch_answers(tmp_path: Path) -> None:
    x, y = dataset(rows=600, seed=3)
    classes = sorted(set(y))
    model = trained_mlp(x, y, classes)
    onnx_path = export(model, len(FEATURES), tmp_path / "mlp.onnx")
    baseline = import_model(onnx_path, write_csv(tmp_path / "ref.csv", x, y), tmp_path / "mlp", target="label", name="mlp")
    assert baseline["labels"] == classes  # no class names in the graph: the reference labels, sorted
    with torch.no_grad():
        expected = model(torch.tensor(x, dtype=torch.float32)).numpy()
    labels, probabilities = served(tmp_path / "mlp", x)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    assert (np.array(labels) == np.array(classes)[expected.argmax(axis=1)]).mean() > 0.995
    assert baseline["holdout"]["accuracy"] > 0.6  # it learned something; the figure is measured, not assumed


def test_a_pytorch_model_without_its_softmax_is_refused(tmp_path: Path) -> None:
    x, y = dataset(rows=300, seed=4)
    classes = sorted(set(y))
    onnx_path = export(trained_mlp(x, y, classes, softmax=False), len(FEATURES), tmp_path / "logits.onnx")
    with pytest.raises(ModelImportError, match=r"'output' is not class probabilities .* with its softmax"):
        import_model(onnx_path, write_csv(tmp_path / "ref.csv", x, y), tmp_path / "out", target="label", name="logits")
