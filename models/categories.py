"""Categorical features: which training categories are listed, their one-hot encoding, and the ONNX prefix.

Every model of a folder (classifier, outlier detector, joint drift) learns on one float matrix: the numeric
features in input order, then one column per listed category of each categorical feature (input order, categories
most frequent first). A value that is not listed (training's rare tail, or one training never saw) encodes as all
zeros. `CategoryEncoding.encode` is the reference (what scikit-learn is trained on); `with_category_inputs` puts the
same encoding in front of an ONNX graph, so the served graph takes the contract's two inputs (NUMERIC_INPUT float32
and CATEGORICAL_INPUT strings, functions/contract/names.py) and callers send the strings they have.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, compose, helper, numpy_helper

from functions.contract.model_artifact import FEATURE_CATEGORICAL, MAX_CATEGORIES
from functions.contract.names import CATEGORICAL_INPUT, NUMERIC_INPUT

# A category is listed (gets its own one-hot column and its own share in the baseline) only when training holds
# enough of it to learn from and to judge drift on: at least MIN_CATEGORY_ROWS rows and MIN_CATEGORY_SHARE of the
# rows. Rarer values join the `other` tail, which the model sees as all zeros, as it sees a value never seen.
MIN_CATEGORY_ROWS = 10
MIN_CATEGORY_SHARE = 0.005
ML_DOMAIN = "ai.onnx.ml"
ML_OPSET = 1  # OneHotEncoder's only version
ENCODED = "encoded_features"  # the prefix's output: the float matrix the inner graph was exported for


class CategoryError(ValueError):
    """A categorical column cannot be listed; the message names the column and what to change."""


@dataclass(frozen=True)
class CategoricalFeature:
    """One categorical feature's training listing: what the baseline stores and the one-hot columns."""

    name: str
    display_name: str
    count: int
    categories: tuple[str, ...]  # most frequent first
    shares: tuple[float, ...]
    other_share: float

    def baseline_entry(self) -> dict[str, Any]:
        """The `features[i]` entry of baseline.json (functions/contract/model_artifact.py)."""
        return {
            "name": self.name,
            "display_name": self.display_name,
            "type": FEATURE_CATEGORICAL,
            "count": self.count,
            "categories": list(self.categories),
            "shares": list(self.shares),
            "other_share": self.other_share,
        }


def list_categories(values: np.ndarray | list[str], *, name: str, display_name: str) -> CategoricalFeature:
    """Most frequent first (ties by value, so the order is reproducible), at most MAX_CATEGORIES, each covering at
    least MIN_CATEGORY_ROWS rows and MIN_CATEGORY_SHARE of them; the rest is `other_share`."""
    column = [str(v) for v in values]
    total = len(column)
    if not total:
        raise CategoryError(f"column {display_name!r}: no rows")
    ranked = sorted(Counter(column).items(), key=lambda item: (-item[1], item[0]))
    needed = max(MIN_CATEGORY_ROWS, MIN_CATEGORY_SHARE * total)
    listed = [(value, count) for value, count in ranked[:MAX_CATEGORIES] if count >= needed]
    if not listed:
        raise CategoryError(
            f"column {display_name!r}: no value covers {MIN_CATEGORY_ROWS} training rows and {MIN_CATEGORY_SHARE:.1%} of "
            f"them (most frequent: {ranked[0][0]!r}, {ranked[0][1]} of {total} rows), so the model could learn nothing "
            "from it; drop the column (an identifier?) or group its values"
        )
    shares = tuple(count / total for _, count in listed)
    return CategoricalFeature(
        name=name,
        display_name=display_name,
        count=total,
        categories=tuple(value for value, _ in listed),
        shares=shares,
        other_share=(total - sum(count for _, count in listed)) / total,
    )


@dataclass(frozen=True)
class CategoryEncoding:
    """The numeric features followed by the one-hot columns of the listed categories."""

    n_numeric: int
    features: tuple[CategoricalFeature, ...]  # input order among the categorical features

    @property
    def width(self) -> int:
        return self.n_numeric + sum(len(feature.categories) for feature in self.features)

    def encode(self, numeric: np.ndarray, categories: np.ndarray) -> np.ndarray:
        """(rows, width) float64: the reference the ONNX prefix must reproduce."""
        numeric = np.asarray(numeric, dtype=np.float64).reshape(len(categories), self.n_numeric)
        blocks = [numeric]
        for index, feature in enumerate(self.features):
            column = np.asarray(categories)[:, index].astype(str)
            blocks.append((column[:, np.newaxis] == np.array(feature.categories)[np.newaxis, :]).astype(np.float64))
        return np.hstack(blocks)

    def prefix(self) -> onnx.ModelProto:
        """The graph NUMERIC_INPUT, CATEGORICAL_INPUT -> ENCODED: per categorical column, ai.onnx.ml OneHotEncoder
        with zeros=1 (an unlisted string gives all zeros), concatenated after the numeric columns."""
        rows = "N"
        nodes: list[onnx.NodeProto] = []
        initializers: list[onnx.TensorProto] = []
        encoded = [NUMERIC_INPUT]
        for index, feature in enumerate(self.features):
            column, onehot, flat = f"category_{index}", f"category_{index}_onehot", f"category_{index}_columns"
            initializers.append(numpy_helper.from_array(np.array([index], dtype=np.int64), f"category_{index}_position"))
            nodes += [
                helper.make_node("Gather", [CATEGORICAL_INPUT, f"category_{index}_position"], [column], axis=1),
                helper.make_node(
                    "OneHotEncoder", [column], [onehot], domain=ML_DOMAIN, cats_strings=list(feature.categories), zeros=1
                ),
                helper.make_node("Flatten", [onehot], [flat], axis=1),
            ]
            encoded.append(flat)
        nodes.append(helper.make_node("Concat", encoded, [ENCODED], axis=1))
        graph = helper.make_graph(
            nodes,
            "category_encoding",
            [
                helper.make_tensor_value_info(NUMERIC_INPUT, TensorProto.FLOAT, [rows, self.n_numeric]),
                helper.make_tensor_value_info(CATEGORICAL_INPUT, TensorProto.STRING, [rows, len(self.features)]),
            ],
            [helper.make_tensor_value_info(ENCODED, TensorProto.FLOAT, [rows, self.width])],
            initializers,
        )
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(ML_DOMAIN, ML_OPSET)])


def with_category_inputs(model_bytes: bytes, encoding: CategoryEncoding) -> onnx.ModelProto:
    """`model_bytes` (one float input of `encoding.width` columns) behind the encoding prefix: the two contract
    inputs in, the model's own outputs out (onnx.compose.merge_models)."""
    inner = onnx.load_from_string(model_bytes)
    initializers = {i.name for i in inner.graph.initializer}
    (inner_input,) = [i for i in inner.graph.input if i.name not in initializers]
    prefix = encoding.prefix()
    prefix.ir_version = inner.ir_version
    opsets = {o.domain or "": o.version for o in inner.opset_import}
    del prefix.opset_import[:]
    for domain, version in sorted({**opsets, "": opsets.get("", 17), ML_DOMAIN: opsets.get(ML_DOMAIN, ML_OPSET)}.items()):
        prefix.opset_import.add(domain=domain, version=version)
    # Free the contract's input names inside the inner graph (skl2onnx names its input `input` too).
    inner = compose.add_prefix(
        inner, "encoded_", rename_nodes=False, rename_edges=False, rename_inputs=True, rename_outputs=False,
        rename_initializers=False, rename_value_infos=False, rename_functions=False,
    )  # fmt: skip
    merged = compose.merge_models(
        prefix,
        inner,
        io_map=[(ENCODED, f"encoded_{inner_input.name}")],
        producer_name=inner.producer_name,
        producer_version=inner.producer_version,
    )
    merged_opsets = {o.domain or "": o.version for o in merged.opset_import}  # merge_models repeats shared domains
    del merged.opset_import[:]
    for domain, version in sorted(merged_opsets.items()):
        merged.opset_import.add(domain=domain, version=version)
    onnx.checker.check_model(merged)
    return merged


def prefix_disagreement(
    wrapped: bytes, inner: bytes, encoding: CategoryEncoding, numeric: np.ndarray, categories: np.ndarray
) -> float:
    """Largest difference, relative to the outputs' largest size, between the graph behind the prefix fed numbers and
    strings and the graph alone fed `encoding.encode` of the same rows: the prefix computes the reference encoding."""
    x32 = np.asarray(numeric, dtype=np.float32)
    served = onnxruntime.InferenceSession(wrapped, providers=["CPUExecutionProvider"])
    alone = onnxruntime.InferenceSession(inner, providers=["CPUExecutionProvider"])
    outputs = served.run(None, {NUMERIC_INPUT: x32, CATEGORICAL_INPUT: np.asarray(categories).astype(str)})
    expected = alone.run(None, {alone.get_inputs()[0].name: encoding.encode(x32, categories).astype(np.float32)})
    gaps = [0.0]
    for output, reference in zip(outputs, expected, strict=True):
        got, want = np.asarray(output, dtype=np.float64), np.asarray(reference, dtype=np.float64)
        if want.size:
            gaps.append(float(np.abs(got - want).max()) / (float(np.abs(want).max()) or 1.0))
    return max(gaps)


UNSEEN = "(a category training never saw: export check)"


def unseen_rows(numeric: np.ndarray, categories: np.ndarray, limit: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """The first `limit` rows again, with each categorical feature in turn (then all of them) set to a value no
    listing holds: what the export check runs beside the training rows (it must encode as all zeros in both)."""
    numeric, base = np.asarray(numeric)[:limit], np.asarray(categories, dtype=object)[:limit]
    variants = []
    for index in [*([i] for i in range(base.shape[1])), list(range(base.shape[1]))]:
        variant = base.copy()
        variant[:, index] = UNSEEN
        variants.append(variant)
    return np.vstack([numeric] * len(variants)), np.vstack(variants)
