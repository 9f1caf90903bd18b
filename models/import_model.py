"""Bring an existing ONNX classifier as it is: inspect it, measure it on reference data, write a model folder.

The service reads a classifier with one float input (rows, features), or, when the reference data has categorical
(string) columns, the two inputs `input` float32 (rows, numeric features) and `categories` string (rows,
categorical features), each in input order (the graph encodes the strings itself); and two outputs, `label` (int64 class
index) and `probabilities` (float, rows x classes). Converters name and shape these differently
(skl2onnx `output_label`/`output_probability`, onnxmltools `label`/`probabilities`, a ZipMap of
dictionaries, PyTorch one unnamed tensor). The import finds the probabilities among the outputs, removes a
ZipMap, and rewrites the graph so that `probabilities` is that tensor and `label` its ArgMax: the label the
service answers is always the most probable class. Anything else is refused in one line naming what it found.

Then it runs the model on the reference rows (the CSV's feature columns in input order, plus the label
column) to measure everything the model card holds, trains the outlier detector on them, and writes the
folder through the same code as `models/train.py`. Usage::

    python -m models.import_model --onnx model.onnx --data reference.csv --target label --name churn
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper
from sklearn.model_selection import train_test_split

from functions.contract.model_artifact import ModelArtifactError, load_model_artifact
from functions.contract.names import CATEGORICAL_INPUT, NUMERIC_INPUT
from models.train import (
    CV_FOLDS,
    ECE_BINS,
    MAX_DETECTOR_ROWS,
    MODELS_DIR,
    OUTLIER_TARGET_RATE,
    TrainingData,
    TrainingDataError,
    calibrate_detector,
    category_encoding,
    check_servable,
    default_detector,
    describe,
    encoded_graphs,
    expected_calibration_error,
    export_detector,
    feature_key,
    load_csv_dataset,
    onnx_feeds,
    write_model_folder,
)

# Output names converters give the class probabilities, best first (skl2onnx, onnxmltools, common hand exports).
PROBABILITY_NAMES = ("probabilities", "output_probability", "probability", "probs", "proba", "output_probabilities")
CLASS_LABEL_ATTRIBUTES = ("classlabels_strings", "classlabels_int64s", "classlabels_ints")
PROBABILITY_TOLERANCE = 1e-3  # rows must sum to 1 and lie in [0, 1] within this


class ModelImportError(ValueError):
    """The ONNX file or the reference data cannot become a servable model folder; the message says why."""


@dataclass(frozen=True)
class ClassifierOutputs:
    probabilities: str  # the tensor holding (rows, classes) probabilities
    class_labels: tuple[str, ...] | None  # the classes in probability order, when the graph names them
    zipmap: str | None  # the ZipMap node's output name, when the probabilities come out as one
    found: str  # the graph's outputs, as the messages show them


def _type_text(value: onnx.ValueInfoProto) -> str:
    kind = value.type.WhichOneof("value")
    if kind == "tensor_type":
        tensor = value.type.tensor_type
        dims = [d.dim_param or (str(d.dim_value) if d.HasField("dim_value") else "?") for d in tensor.shape.dim]
        elem = TensorProto.DataType.Name(tensor.elem_type).lower()
        return f"tensor({elem}) [{', '.join(dims)}]" if tensor.HasField("shape") else f"tensor({elem})"
    if kind == "sequence_type":
        return "sequence(map) (a ZipMap)" if value.type.sequence_type.elem_type.HasField("map_type") else "sequence"
    return kind or "unknown"


def describe_outputs(model: onnx.ModelProto) -> str:
    return ", ".join(f"{o.name} {_type_text(o)}" for o in model.graph.output) or "none"


def _class_labels(node: onnx.NodeProto) -> tuple[str, ...] | None:
    for attribute in node.attribute:
        if attribute.name in CLASS_LABEL_ATTRIBUTES:
            values = helper.get_attribute_value(attribute)
            if values:
                return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in values)
    return None


def _graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    initializers = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in initializers]


def _width(value: onnx.ValueInfoProto) -> int | None:
    width = value.type.tensor_type.shape.dim[1]
    return width.dim_value if width.HasField("dim_value") else None


def check_mixed_inputs(model: onnx.ModelProto, where: str, numeric: list[str], categorical: list[str]) -> None:
    """The reference data has categorical columns: the graph must take exactly the contract's two inputs, each 2-D,
    as wide as the data's numeric and categorical columns; else a one-line refusal naming both sides."""
    inputs = {i.name: i for i in _graph_inputs(model)}
    shown = ", ".join(f"{name} {_type_text(value)}" for name, value in inputs.items()) or "none"
    expected = [
        (NUMERIC_INPUT, TensorProto.FLOAT, numeric),
        (CATEGORICAL_INPUT, TensorProto.STRING, categorical),
    ]
    wanted = (
        f"the reference data has {len(numeric)} numeric columns ({', '.join(numeric) or 'none'}) and {len(categorical)} "
        f"categorical columns ({', '.join(categorical)}), so the model must take two inputs: {NUMERIC_INPUT!r} "
        f"tensor(float) [N, {len(numeric)}] and {CATEGORICAL_INPUT!r} tensor(string) [N, {len(categorical)}], each in "
        f"the data's column order; found {shown}"
    )
    if set(inputs) != {NUMERIC_INPUT, CATEGORICAL_INPUT}:
        raise ModelImportError(f"{where}: {wanted}")
    for name, elem_type, columns in expected:
        value = inputs[name]
        tensor = value.type.tensor_type
        if value.type.WhichOneof("value") != "tensor_type" or tensor.elem_type != elem_type or len(tensor.shape.dim) != 2:
            raise ModelImportError(f"{where}: {wanted}")
        if _width(value) not in (None, len(columns)):
            raise ModelImportError(f"{where}: input {name!r} takes {_width(value)} columns; {wanted}")


def model_input(model: onnx.ModelProto, where: str) -> tuple[str, int | None]:
    """(input name, width or None when symbolic); one 2-D float input, or a one-line refusal naming what was found."""
    inputs = _graph_inputs(model)
    shown = ", ".join(f"{i.name} {_type_text(i)}" for i in inputs) or "none"
    if any(i.type.tensor_type.elem_type == TensorProto.STRING for i in inputs):
        raise ModelImportError(
            f"{where}: the model takes strings ({shown}) but every column of the reference data is a number; declare "
            f"the categorical columns with --categorical (then the model must take {NUMERIC_INPUT!r} tensor(float) and "
            f"{CATEGORICAL_INPUT!r} tensor(string))"
        )
    if len(inputs) != 1:
        raise ModelImportError(f"{where}: needs one input tensor (rows, features), found {len(inputs)}: {shown}")
    tensor = inputs[0].type.tensor_type
    if inputs[0].type.WhichOneof("value") != "tensor_type" or tensor.elem_type != TensorProto.FLOAT:
        raise ModelImportError(f"{where}: the input must be a float32 tensor (rows, features), found {shown}")
    if len(tensor.shape.dim) != 2:
        raise ModelImportError(f"{where}: the input must be 2-D (rows, features), found {shown}")
    width = tensor.shape.dim[1]
    return inputs[0].name, (width.dim_value if width.HasField("dim_value") else None)


def classifier_outputs(model: onnx.ModelProto, where: str) -> ClassifierOutputs:
    """Which output holds the class probabilities (a ZipMap's input, or a 2-D float tensor), and the class order."""
    found = describe_outputs(model)
    graph = model.graph
    output_names = {o.name for o in graph.output}
    labels = next((labels for node in graph.node if (labels := _class_labels(node))), None)
    zipmaps = [n for n in graph.node if n.op_type == "ZipMap" and n.output[0] in output_names]
    if len(zipmaps) == 1:
        node = zipmaps[0]
        return ClassifierOutputs(node.input[0], _class_labels(node) or labels, node.output[0], found)
    candidates = []
    for output in graph.output:
        tensor = output.type.tensor_type
        if output.type.WhichOneof("value") == "tensor_type" and tensor.elem_type == TensorProto.FLOAT:
            dims = tensor.shape.dim
            width = dims[1].dim_value if len(dims) == 2 and dims[1].HasField("dim_value") else None
            if len(dims) == 2 and width != 1:
                candidates.append(output.name)
    if len(candidates) > 1:
        named = [name for name in PROBABILITY_NAMES if name in candidates]
        candidates = named[:1]
    if len(candidates) != 1:
        single = [o.name for o in graph.output if o.type.tensor_type.elem_type == TensorProto.FLOAT]
        hint = (
            " (one value per row: a regression model, or a binary classifier giving one probability; export both "
            "class probabilities)"
            if single and not candidates
            else ""
        )
        raise ModelImportError(
            f"{where}: cannot tell which output holds the class probabilities{hint}; found {found}. Expected a "
            f"(rows, classes) float tensor (named one of {', '.join(PROBABILITY_NAMES)} when there are several) or a ZipMap"
        )
    return ClassifierOutputs(candidates[0], labels, None, found)


def _needed_nodes(graph: onnx.GraphProto, wanted: set[str]) -> list[onnx.NodeProto]:
    """The nodes the wanted tensors depend on, in graph order (ONNX graphs are topologically sorted)."""
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for n in graph.node for a in n.attribute):
        return list(graph.node)  # subgraphs may read outer names: keep everything
    needed, kept = set(wanted), []
    for node in reversed(graph.node):
        if needed.intersection(node.output):
            kept.append(node)
            needed.update(name for name in node.input if name)
    return list(reversed(kept))


def contract_classifier(model: onnx.ModelProto, outputs: ClassifierOutputs, n_classes: int) -> onnx.ModelProto:
    """The same model with exactly the service's two outputs: `label` = ArgMax(probabilities), `probabilities`."""
    rewritten = copy.deepcopy(model)
    graph = rewritten.graph
    taken = {"label", "probabilities"}
    renamed = {name: f"imported_{name}" for name in taken}
    for node in graph.node:  # free the two names: converters often use them for their own outputs
        node.input[:] = [renamed.get(name, name) for name in node.input]
        node.output[:] = [renamed.get(name, name) for name in node.output]
    for value in (*graph.input, *graph.initializer):
        value.name = renamed.get(value.name, value.name)
    source = renamed.get(outputs.probabilities, outputs.probabilities)
    kept = _needed_nodes(graph, {source})
    del graph.node[:]
    graph.node.extend(kept)
    graph.node.append(helper.make_node("Identity", [source], ["probabilities"], name="ImportedProbabilities"))
    graph.node.append(helper.make_node("ArgMax", [source], ["label"], axis=1, keepdims=0, name="ImportedLabel"))
    del graph.output[:]
    graph.output.extend(
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", n_classes]),
        ]
    )
    used_domains = {node.domain or "" for node in graph.node}
    present = {o.domain or "" for o in rewritten.opset_import}
    if "" not in present:
        rewritten.opset_import.add(domain="", version=13)
    kept_imports = [(o.domain, o.version) for o in rewritten.opset_import if (o.domain or "") in used_domains | {""}]
    del rewritten.opset_import[:]
    for domain, version in sorted(kept_imports):
        rewritten.opset_import.add(domain=domain, version=version)
    del graph.value_info[:]  # shapes of removed tensors; onnxruntime infers what it needs
    onnx.checker.check_model(rewritten)
    return rewritten


def run_probabilities(model_bytes: bytes, x: np.ndarray, where: str, categories: np.ndarray | None = None) -> np.ndarray:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    try:
        session = onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        _, probabilities = session.run(["label", "probabilities"], onnx_feeds(session, x, categories))
    except Exception as error:  # onnxruntime's own exception types
        reason = " ".join(str(error).split())  # onnxruntime's messages span lines
        raise ModelImportError(f"{where}: onnxruntime cannot run it on the reference rows ({reason})") from None
    return np.asarray(probabilities, dtype=np.float64)


def check_probabilities(probabilities: np.ndarray, output: str, where: str) -> None:
    if not np.isfinite(probabilities).all():
        raise ModelImportError(f"{where}: output {output!r} gives NaN or infinity on the reference rows")
    sums = probabilities.sum(axis=1)
    low, high = float(probabilities.min()), float(probabilities.max())
    if low < -PROBABILITY_TOLERANCE or high > 1 + PROBABILITY_TOLERANCE or np.abs(sums - 1).max() > PROBABILITY_TOLERANCE:
        raise ModelImportError(
            f"{where}: output {output!r} is not class probabilities (values {low:.3g}..{high:.3g}, rows sum to "
            f"{float(sums.min()):.3g}..{float(sums.max()):.3g}); export the model with its softmax"
        )


def _label_text(value: str) -> str:
    """'1', '1.0' and 1 name the same class."""
    try:
        number = float(value)
    except ValueError:
        return value.strip()
    return str(int(number)) if math.isfinite(number) and number == int(number) else value.strip()


def class_order(model_labels: tuple[str, ...] | None, data_labels: list[str], n_classes: int, where: str) -> list[str]:
    """The model's classes in probability order, named as the reference data names them."""
    if model_labels is not None:
        if len(model_labels) != n_classes:
            raise ModelImportError(f"{where}: names {len(model_labels)} classes but gives {n_classes} probabilities")
        names = [_label_text(label) for label in model_labels]
        unknown = sorted({_label_text(label) for label in data_labels} - set(names))
        if unknown:
            raise ModelImportError(
                f"{where}: the reference labels {', '.join(unknown)} are not among the model's classes ({', '.join(names)})"
            )
        return names
    names = sorted({_label_text(label) for label in data_labels}, key=lambda v: (not v.lstrip("-").isdigit(), _sortable(v)))
    if len(names) != n_classes:
        raise ModelImportError(
            f"{where}: gives {n_classes} probabilities per row but the reference data has {len(names)} labels "
            f"({', '.join(names)}) and the graph does not name its classes; pass --labels in probability order"
        )
    return names


def _sortable(value: str) -> Any:
    return int(value) if value.lstrip("-").isdigit() else value


@dataclass(frozen=True)
class ImportedModel:
    classifier_bytes: bytes
    outputs: ClassifierOutputs
    label_names: list[str]
    producer: str


def inspect_and_contract(data: TrainingData, onnx_path: Path, labels: list[str] | None) -> ImportedModel:
    where = str(onnx_path)
    try:
        model = onnx.load(str(onnx_path))
    except Exception as error:  # onnx raises DecodeError, OSError...
        raise ModelImportError(f"{where}: not an ONNX model ({' '.join(str(error).split())})") from None
    width, data_labels = data.x.shape[1], data.label_names
    if data.has_categories:
        check_mixed_inputs(model, where, data.numeric_names, data.categorical_names)
    else:
        _, model_width = model_input(model, where)
        if model_width is not None and model_width != width:
            raise ModelImportError(
                f"{where}: the input takes {model_width} features, the reference data has {width} feature columns"
            )
    outputs = classifier_outputs(model, where)
    # The class count: a named class list, else the probability tensor's declared width, else one dry run.
    declared = next(
        (o.type.tensor_type.shape.dim[1].dim_value for o in model.graph.output
         if o.name == outputs.probabilities and len(o.type.tensor_type.shape.dim) == 2),
        0,
    )  # fmt: skip
    n_classes = len(outputs.class_labels) if outputs.class_labels else declared
    if not n_classes:
        probe = contract_classifier(model, outputs, 0).SerializeToString()
        probe_categories = data.categories[:1] if data.categories is not None else None
        n_classes = run_probabilities(probe, np.zeros((1, width)), where, probe_categories).shape[1]
    if n_classes < 2:
        raise ModelImportError(f"{where}: output {outputs.probabilities!r} has {n_classes} column; a classifier needs 2 or more")
    if labels is not None:
        if len(labels) != n_classes:
            raise ModelImportError(f"--labels names {len(labels)} classes, the model gives {n_classes} probabilities")
        label_names = [_label_text(label) for label in labels]
        unknown = sorted({_label_text(label) for label in data_labels} - set(label_names))
        if unknown or len(set(label_names)) != len(label_names):
            raise ModelImportError(
                f"--labels {', '.join(label_names)}: must be distinct and name every reference label "
                f"(missing: {', '.join(unknown) or 'none'})"
            )
    else:
        label_names = class_order(outputs.class_labels, data_labels, n_classes, where)
    contracted = contract_classifier(model, outputs, n_classes)
    producer = " ".join(p for p in (model.producer_name, model.producer_version) if p) or "unknown producer"
    return ImportedModel(contracted.SerializeToString(), outputs, label_names, producer)


def relabelled(data: TrainingData, label_names: list[str]) -> TrainingData:
    """The same rows with y as an index into the model's class order."""
    index = {label: i for i, label in enumerate(label_names)}
    y = np.array([index[_label_text(data.label_names[i])] for i in data.y], dtype=np.int64)
    return replace(data, y=y, label_names=label_names)


def import_model(
    onnx_path: Path,
    data_path: Path,
    out_dir: Path,
    *,
    target: str,
    name: str,
    description: str = "",
    owner: str = "ml-platform",
    labels: list[str] | None = None,
    seed: int = 42,
    nu: float = 0.1,
    outlier_target_rate: float = OUTLIER_TARGET_RATE,
    categorical: list[str] | None = None,
) -> dict[str, Any]:
    """Write a servable model folder for an existing ONNX classifier; returns the baseline document."""
    data = load_csv_dataset(
        data_path,
        target=target,
        name=name,
        description=description or f"Imported from {onnx_path.name}",
        categorical=categorical,
    )
    check_servable(data)
    imported = inspect_and_contract(data, onnx_path, labels)
    data = relabelled(data, imported.label_names)
    counts = np.bincount(data.y, minlength=len(data.label_names))
    present = counts[counts > 0]
    if present.size < 2 or present.min() < CV_FOLDS * 2:
        rare = data.label_names[int(np.flatnonzero(counts > 0)[int(present.argmin())])] if present.size else "-"
        raise ModelImportError(
            f"{data_path}: every label present needs at least {CV_FOLDS * 2} rows (hold-out split and {CV_FOLDS}-fold "
            f"detector threshold), and 2 labels at least; {rare!r} has {int(present.min()) if present.size else 0}"
        )
    where = str(onnx_path)
    probabilities = run_probabilities(imported.classifier_bytes, data.x, where, data.categories)
    check_probabilities(probabilities, imported.outputs.probabilities, where)
    train_rows, test_rows = train_test_split(np.arange(len(data.y)), test_size=0.2, random_state=seed, stratify=data.y)
    (x_train, categories_train), (x_test, categories_test) = data.rows(train_rows), data.rows(test_rows)
    y_train, y_test = data.y[train_rows], data.y[test_rows]
    # The detector (and the joint-drift model) see the categories as training does: one-hot over the listed ones.
    encoding = category_encoding(data, categories_train)
    wide_train = encoding.encode(x_train, categories_train) if encoding is not None and categories_train is not None else x_train
    detector, threshold = calibrate_detector(
        default_detector(nu), wide_train, y_train, seed=seed, target_rate=outlier_target_rate
    )
    (detector_bytes,) = encoded_graphs(encoding, export_detector(detector, wide_train))
    test_probabilities = probabilities[test_rows]
    reports = {
        "imported": {
            "onnx": onnx_path.name,
            "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
            "producer": imported.producer,
            "outputs_found": imported.outputs.found,
            "probabilities_from": imported.outputs.probabilities
            + (f" (the ZipMap {imported.outputs.zipmap!r} removed)" if imported.outputs.zipmap else ""),
            "label": "ArgMax of probabilities",
            "classes_from": "the graph's class list"
            if imported.outputs.class_labels and labels is None
            else ("--labels" if labels else "the reference labels, sorted"),
        },
        "calibration": {
            "measure": f"expected calibration error, top class, {ECE_BINS} equal-width bins, on the hold-out rows",
            "holdout_ece": round(expected_calibration_error(test_probabilities, y_test), 4),
            "calibrated": False,
            "method": None,
            "note": "imported as it is: its calibration is measured, not changed",
        },
        "outlier_threshold": threshold,
        "quality_reference": quality_on_reference(probabilities, data.y, data.label_names),
    }
    baseline = write_model_folder(
        out_dir,
        data=data,
        classifier_bytes=imported.classifier_bytes,
        detector_bytes=detector_bytes,
        classifier_description=f"imported ONNX {onnx_path.name} ({imported.producer})",
        detector_description=describe(detector),
        x_train=x_train,
        x_test=x_test,
        y_test=y_test,
        owner=owner,
        seed=seed,
        reports=reports,
        categories_train=categories_train,
        categories_test=categories_test,
        encoding=encoding,
    )
    try:
        load_model_artifact(out_dir)
    except ModelArtifactError as error:  # a bug here, not the user's: say so plainly
        raise ModelImportError(f"the written folder does not load: {error}") from None
    return baseline


def quality_on_reference(probabilities: np.ndarray, y: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """Accuracy and per-class recall of the imported model on every reference row."""
    predicted = probabilities.argmax(axis=1)
    per_class = {}
    for index, label in enumerate(labels):
        rows = y == index
        if rows.any():
            per_class[label] = {"rows": int(rows.sum()), "recall": round(float((predicted[rows] == index).mean()), 4)}
    return {
        "source": "the imported model on every reference row (optimistic if it learned from some of them)",
        "rows": len(y),
        "accuracy": round(float((predicted == y).mean()), 4),
        "per_class": per_class,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--onnx", type=Path, required=True, help="the classifier, exported to ONNX by any framework")
    parser.add_argument("--data", type=Path, required=True, help="reference CSV: header row, feature columns, label column")
    parser.add_argument("--target", default="label", help="the label column of --data")
    parser.add_argument("--name", help="model name (default: the ONNX file's stem)")
    parser.add_argument("--out", type=Path, help="output folder (default: models/<name>)")
    parser.add_argument("--labels", help="comma-separated class names in probability order, when the graph has none")
    parser.add_argument(
        "--categorical", default="",
        help="comma-separated columns of --data that are categories even though their values look like numbers",
    )  # fmt: skip
    parser.add_argument("--description", default="")
    parser.add_argument("--owner", default="ml-platform")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    name = args.name or feature_key(args.onnx.stem)
    out_dir = args.out or MODELS_DIR / name
    started = time.perf_counter()
    try:
        baseline = import_model(
            args.onnx,
            args.data,
            out_dir,
            target=args.target,
            name=name,
            description=args.description,
            owner=args.owner,
            labels=[label.strip() for label in args.labels.split(",")] if args.labels else None,
            seed=args.seed,
            categorical=[column.strip() for column in args.categorical.split(",") if column.strip()],
        )
    except (ModelImportError, TrainingDataError, OSError) as error:
        print(f"models.import_model: {error}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    model, holdout = baseline["model"], baseline["holdout"]
    print(
        f"{model['name']} {model['version']}: imported {args.onnx.name} ({model['imported']['producer']}), "
        f"{len(baseline['features'])} features, labels {', '.join(baseline['labels'])}; probabilities from "
        f"{model['imported']['probabilities_from']}; hold-out accuracy {holdout['accuracy']}, mean confidence "
        f"{holdout['mean_confidence']}, ECE {holdout['expected_calibration_error']}, outlier rate {holdout['outlier_rate']} "
        f"-> {out_dir} ({seconds:.1f} s; outlier detector on {min(baseline['training_rows'], MAX_DETECTOR_ROWS)} rows)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
