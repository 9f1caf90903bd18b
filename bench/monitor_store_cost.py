"""Monthly cost of the monitor's minute store (DynamoDB on demand) at 1 to 200 features, from measured item sizes.

    .venv/bin/python bench/monitor_store_cost.py [--prices-rru 0.125 --prices-wru 0.625]

Item size: a stored minute of the iris model (4 features, 11 cuts each) built from real traffic through
`minutes.from_window` and `minute_store`'s JSON, split into the fixed part and the part per feature, then
scaled to 1, 4, 13 and 200 features (same cuts per feature). Per run (one a minute, 43,200 a month) the monitor
queries, strongly consistent: the 120 most recent minutes, the minutes at the two edges of the day window
(30 each on average) and ~22 hourly roll-ups; it writes one minute, and one hour item an hour. Re-reads of
late minutes add writes in proportion (not counted). Prices: us-east-1 on demand, per million request units
(third-party sources, verify on the AWS pricing page); storage $0.25 per GB-month, point-in-time recovery
$0.20 per GB-month.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from functions.contract.model_artifact import load_model_artifact  # noqa: E402
from functions.monitor import minutes as mm  # noqa: E402
from tests.unit.monitor.fakes import numpy_aggregates, sample_traffic  # noqa: E402

RUNS_PER_MONTH = 30 * 24 * 60
ITEMS_PER_RUN = {"recent minutes": 120, "edge minutes": 60, "hour roll-ups": 22}
KEY_AND_ATTRIBUTE_BYTES = 80  # series key, start, late, expires_at and attribute names


def item_bytes(features: int, fixed: float, per_feature: float) -> int:
    return math.ceil(fixed + per_feature * features + KEY_AND_ATTRIBUTE_BYTES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--price-rru", type=float, default=0.125, help="$ per million read request units")
    parser.add_argument("--price-wru", type=float, default=0.625, help="$ per million write request units")
    parser.add_argument("--rate", type=int, default=200, help="rows per minute in the measured minute")
    args = parser.parse_args()
    b = load_model_artifact(REPO / "models" / "iris").baseline
    minute = mm.from_window(b, numpy_aggregates(b, sample_traffic(b, args.rate, np.random.default_rng(1), confidence=0.9)))
    text = json.dumps(mm.to_json(minute), separators=(",", ":"))
    layout = mm.minute_layout(b)
    fixed_slots = sum(1 for name in layout if not name.startswith("f:"))
    values = mm.to_json(minute)
    fixed = len(json.dumps(values[:fixed_slots], separators=(",", ":")))
    per_feature = (len(text) - fixed) / b.n_features
    print(f"measured: iris minute at {args.rate} rows/min, {len(layout)} slots, {len(text)} bytes of JSON "
          f"({fixed} fixed, {per_feature:.0f} per feature)")  # fmt: skip
    print("\n| features | item | reads per run (RRU) | writes per run (WRU) | reads $/month | writes $/month | "
          "storage GB | storage + PITR $/month | total $/month |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for features in (1, 4, 13, 200):  # one, iris, wine, the widest model served
        size = item_bytes(features, fixed, per_feature)
        # Query rounds the summed size of the returned items up to 4 KB; strongly consistent: 1 RRU per 4 KB.
        rru = sum(math.ceil(n * size / 4096) for n in ITEMS_PER_RUN.values())
        wru = math.ceil(size / 1024) * (1 + 1 / 60)
        storage_gb = size * (26 * 60 + 8 * 24) / 1e9
        reads = rru * RUNS_PER_MONTH * args.price_rru / 1e6
        writes = wru * RUNS_PER_MONTH * args.price_wru / 1e6
        storage = storage_gb * (0.25 + 0.20)
        print(
            f"| {features} | {size / 1024:.1f} KB | {rru} | {wru:.1f} | {reads:.2f} | {writes:.2f} | {storage_gb:.3f} | "
            f"{storage:.3f} | {reads + writes + storage:.2f} |"
        )


if __name__ == "__main__":
    main()
