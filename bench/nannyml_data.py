"""Write bench/data/nannyml_multiclass.csv.gz: all seven features of NannyML's synthetic multiclass data set.

    .venv/bin/python bench/nannyml_data.py [--source DIR]

NannyML (Apache-2.0, bench/data/NANNYML-LICENSE) ships the data inside its wheel as
`nannyml/datasets/data/mc_{reference,analysis,analysis_gt}.csv`, which
`nannyml.load_synthetic_multiclass_classification_dataset()` reads. This script reads the same files from an
installed nannyml, or from a folder holding the unpacked wheel (`pip download nannyml==0.13.1 --no-deps`,
then unzip), so the package never has to be installed into the project's virtualenv. `make bench-drift` reads
only the committed file: nothing is downloaded at test or bench time.

Rows keep their order; each period is cut into 10 chunks of 6,000 rows, as NannyML's examples do. Columns:
period, chunk, the four numeric features, y_true, then the three categorical ones (acq_channel, app_channel,
is_customer) after the label, so readers of the numeric columns keep their positions.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib.util
from pathlib import Path

FEATURES = ("app_behavioral_score", "requested_credit_limit", "credit_bureau_score", "stated_income")
CATEGORICAL = ("acq_channel", "app_channel", "is_customer")
TARGET = "y_true"
CHUNK_ROWS = 6000
OUT = Path(__file__).resolve().parent / "data" / "nannyml_multiclass.csv.gz"


def data_folder(source: Path | None) -> Path:
    if source is not None:
        return source / "nannyml" / "datasets" / "data" if (source / "nannyml").is_dir() else source
    spec = importlib.util.find_spec("nannyml")
    if spec is None or spec.origin is None:
        raise SystemExit("nannyml is not installed: pass --source with the unpacked wheel (see the docstring)")
    return Path(spec.origin).parent / "datasets" / "data"


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, help="unpacked nannyml wheel, or its datasets/data folder")
    args = parser.parse_args()
    folder = data_folder(args.source)
    reference = read(folder / "mc_reference.csv")
    analysis = read(folder / "mc_analysis.csv")
    truth = {row["id"]: row[TARGET] for row in read(folder / "mc_analysis_gt.csv")}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # mtime 0: the same input gives the same bytes
    with gzip.GzipFile(OUT, "wb", mtime=0) as handle:
        text = ["period,chunk," + ",".join((*FEATURES, TARGET, *CATEGORICAL))]
        for period, rows in (("reference", reference), ("analysis", analysis)):
            for index, row in enumerate(rows):
                label = row[TARGET] if period == "reference" else truth[row["id"]]
                values = [*(row[f] for f in FEATURES), label, *(row[f] for f in CATEGORICAL)]
                text.append(f"{period},{index // CHUNK_ROWS}," + ",".join(values))
        handle.write(("\n".join(text) + "\n").encode("utf-8"))
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes): {len(reference)} reference and {len(analysis)} analysis rows")


if __name__ == "__main__":
    main()
