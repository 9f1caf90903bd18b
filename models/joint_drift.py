"""The joint-drift model: PCA on standardized features, scored per row by its reconstruction error.

A change in how features move together (a correlation that flips, a new cluster between the old ones) can leave
every feature's own distribution as it was, so no per-feature check sees it. Rows of such traffic no longer lie
near the plane the training rows span: their distance to it, the PCA reconstruction error, grows (NannyML's
multivariate drift method). The inference service runs this model beside the outlier detector and writes each
row's `reconstruction_error` into its prediction line; the monitor tests the window's mean against the
reference figures stored in the baseline's `joint_drift` block.

The ONNX graph is written by hand (skl2onnx exports PCA's transform, not its inverse): standardize, centre,
project onto the kept components and back, and take the Euclidean norm of the residual, all linear steps folded
into one matrix product.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.decomposition import PCA
from sklearn.model_selection import KFold

from functions.contract.names import JOINT_DRIFT_FILE, JOINT_DRIFT_OUTPUT

EXPLAINED_VARIANCE = 0.65  # components kept: the smallest number explaining this share (NannyML's default)
REFERENCE_FOLDS = 5
ONNX_OPSET = 17


class JointDriftModel:
    """Standardization and the kept principal components; `errors` is the reference implementation."""

    def __init__(self, x: np.ndarray, explained_variance: float = EXPLAINED_VARIANCE, n_components: int | None = None) -> None:
        x = np.asarray(x, dtype=np.float64)
        self.mean = x.mean(axis=0)
        self.scale = x.std(axis=0)
        self.scale[self.scale == 0] = 1.0
        z = (x - self.mean) / self.scale
        full = PCA(svd_solver="full").fit(z)
        cumulative = np.cumsum(full.explained_variance_ratio_)
        kept = int(min(np.searchsorted(cumulative, explained_variance) + 1, x.shape[1]))
        self.n_components = n_components or kept
        self.pca_mean = full.mean_
        self.components = full.components_[: self.n_components]
        self.explained_variance = float(cumulative[self.n_components - 1])

    def errors(self, x: np.ndarray) -> np.ndarray:
        centred = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale - self.pca_mean
        residual = centred - centred @ self.components.T @ self.components
        return np.sqrt((residual**2).sum(axis=1))

    def to_onnx(self) -> bytes:
        """Four nodes: the standardization, the centring and the projection are folded into one matrix and one
        offset, residual = x A - b with A = diag(1 / scale) (I - W'W) and b = (mean / scale + pca_mean) (I - W'W)."""
        d = len(self.mean)
        projector = np.eye(d) - self.components.T @ self.components
        matrix = projector / self.scale[:, np.newaxis]
        offset = (self.mean / self.scale + self.pca_mean) @ projector
        initializers = [
            numpy_helper.from_array(matrix.astype(np.float32), "residual_matrix"),
            numpy_helper.from_array(offset.astype(np.float32), "residual_offset"),
        ]
        nodes = [
            helper.make_node("MatMul", ["X", "residual_matrix"], ["projected"]),
            helper.make_node("Sub", ["projected", "residual_offset"], ["residual"]),
            helper.make_node("ReduceSumSquare", ["residual"], ["squared"], axes=[1], keepdims=1),
            helper.make_node("Sqrt", ["squared"], [JOINT_DRIFT_OUTPUT]),
        ]
        graph = helper.make_graph(
            nodes,
            "joint_drift",
            [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, d])],
            [helper.make_tensor_value_info(JOINT_DRIFT_OUTPUT, TensorProto.FLOAT, [None, 1])],
            initializers,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], producer_name="models.joint_drift")
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model.SerializeToString()


def _figures(errors: np.ndarray) -> dict[str, float]:
    return {"rows": int(errors.size), "mean": float(errors.mean()), "std": float(errors.std(ddof=1))}


def fit_joint_drift(x_train: np.ndarray, x_test: np.ndarray, *, seed: int) -> tuple[bytes, dict[str, Any]]:
    """(ONNX bytes, the baseline's `joint_drift` block).

    The reference is the out-of-fold error of the training rows: unseen rows, as live traffic is (a model scores
    its own training rows too well), and as many of them as training has, so the monitor's test is not limited
    by a small hold-out. The hold-out's figures are stored beside it for reading.
    """
    model = JointDriftModel(x_train)
    out_of_fold = np.empty(len(x_train))
    for fit_rows, score_rows in KFold(REFERENCE_FOLDS, shuffle=True, random_state=seed).split(x_train):
        fold = JointDriftModel(x_train[fit_rows], n_components=model.n_components)
        out_of_fold[score_rows] = fold.errors(x_train[score_rows])
    block = {
        "file": JOINT_DRIFT_FILE,
        "output": JOINT_DRIFT_OUTPUT,
        "method": f"PCA on standardized features, {model.n_components} of {x_train.shape[1]} components "
        f"({model.explained_variance:.0%} of the variance); error = Euclidean norm of the standardized residual",
        "components": model.n_components,
        "reference": {**_figures(out_of_fold), "source": f"{REFERENCE_FOLDS}-fold out-of-fold training rows"},
        "holdout": _figures(model.errors(x_test)),
    }
    return model.to_onnx(), block
