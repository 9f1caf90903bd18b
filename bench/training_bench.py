"""Training time on real-size data: rows of numeric features from `make_classification`, trained end to end by
`models.train` (classifier with calibration check, detector on a bounded sample, ONNX export and its check, card).
Printed only; the folders land in a temporary directory.

    python bench/training_bench.py --rows 60000 100000 --features 4
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification

from models.train import MAX_DETECTOR_ROWS, TrainingData, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[60_000, 100_000])
    parser.add_argument("--features", type=int, default=4)
    parser.add_argument("--classes", type=int, default=3)
    args = parser.parse_args()
    print(
        f"# training bench, {datetime.now(UTC):%Y-%m-%dT%H:%MZ}, {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}"
    )
    print(f"{'rows':>9} {'features':>8} {'seconds':>8} {'rows/s':>8}  detector rows  hold-out accuracy")
    for rows in args.rows:
        x, y = make_classification(
            n_samples=rows, n_features=args.features, n_informative=min(args.features, 3), n_redundant=0,
            n_classes=args.classes, random_state=0,
        )  # fmt: skip
        names = [f"f{i}" for i in range(args.features)]
        data = TrainingData(f"bench{rows}", "", "make_classification", np.asarray(x), np.asarray(y), names,
                            [f"c{i}" for i in range(args.classes)])  # fmt: skip
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            baseline = train(data, Path(out))
            seconds = time.perf_counter() - started
        detector = min(baseline["training_rows"], MAX_DETECTOR_ROWS)
        print(
            f"{rows:>9,} {args.features:>8} {seconds:>8.1f} {rows / seconds:>8,.0f}  "
            f"{detector:,} of {baseline['training_rows']:,}  {baseline['holdout']['accuracy']}"
        )


if __name__ == "__main__":
    main()
