"""Monitor benchmark: local evaluation time per window size, and the size of the Logs Insights answer.

    .venv/bin/python bench/monitor_bench.py [--sizes 10000 100000 1000000] [--model iris] [--repeat 3]

Generates contract-shaped prediction logs once under .build/monitor_bench/
(every record inside one 2-minute window), then times the whole local
evaluation (DuckDB read of the file + checks + alert decision, in-process,
fresh DuckDB connection each run). The AWS path moves no records to the
function: it receives the GetQueryResults JSON, whose size depends on the
number of features, not on traffic; the bench prints it for each size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from functions.contract.model_artifact import Baseline, load_baseline  # noqa: E402
from functions.monitor.checks import evaluate  # noqa: E402
from functions.monitor.insights import render_queries  # noqa: E402
from local.monitor import DuckDbEngine  # noqa: E402
from tests.unit.monitor.fakes import insights_results, numpy_values, sample_traffic, write_log  # noqa: E402

WINDOW_START_MS = 1_764_082_800_000
WINDOW_MS = 120_000
CHUNK = 100_000


def log_file(baseline: Baseline, records: int, folder: Path) -> Path:
    """Generated once and reused: the file name carries model and size."""
    path = folder / f"{baseline.model_name}-{records}.jsonl"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("")
    rng = np.random.default_rng(records)
    rejected_total = records // 100  # 1 % rejected requests
    written = 0
    while written < records:
        rejected = min(rejected_total * CHUNK // records, records - written) if records >= CHUNK else rejected_total
        n = min(CHUNK, records - written) - rejected
        traffic = sample_traffic(baseline, n, rng, rows_per_request=4, rejected=rejected)
        traffic.request_ids = [f"{written}-{r}" for r in traffic.request_ids]
        write_log(tmp, baseline, traffic, start_ms=WINDOW_START_MS, span_ms=WINDOW_MS, rng=rng)
        written += n + rejected
    tmp.rename(path)
    return path


def time_evaluation(baseline: Baseline, path: Path, repeat: int) -> tuple[list[float], int]:
    times = []
    rows = 0
    for _ in range(repeat):
        started = time.perf_counter()
        window = DuckDbEngine(baseline, path).read(WINDOW_START_MS, WINDOW_START_MS + WINDOW_MS)
        evaluation = evaluate(baseline, window)
        times.append(time.perf_counter() - started)
        rows = evaluation.window.rows + evaluation.window.rejected
    return times, rows


def insights_answer_bytes(baseline: Baseline, records: int) -> int:
    """Bytes of the GetQueryResults JSON bodies for one window (all queries), with realistic numbers."""
    traffic = sample_traffic(baseline, min(records, 20_000), np.random.default_rng(1), rows_per_request=4)
    traffic.rejected = records // 100
    values, groups = numpy_values(baseline, traffic)
    scale = records / max(len(traffic.labels), 1)  # counts as big as the real window's, so digits are realistic
    for alias, value in list(values.items()):
        if value is not None and (alias in ("rows", "requests", "conf_n") or alias.endswith("_n") or "_b" in alias):
            values[alias] = float(round(value * scale))
    groups = {alias: {k: round(n * scale) for k, n in g.items()} for alias, g in groups.items()}
    queries = render_queries(baseline, WINDOW_START_MS, WINDOW_START_MS + WINDOW_MS)
    results = insights_results(queries, values, groups)
    statistics_block = {"recordsMatched": float(records), "recordsScanned": float(records), "bytesScanned": float(records * 330)}
    return sum(
        len(json.dumps({"results": results[q.name], "statistics": statistics_block, "status": "Complete"}).encode())
        for q in queries
    )


def main() -> None:
    """Timing table, then the monitor-quality table (bench/monitor_quality.py) unless --no-quality."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-quality", action="store_true", help="skip the monitor-quality benchmark (~4 min)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--model", default="iris")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--folder", default=str(REPO / ".build" / "monitor_bench"))
    args = parser.parse_args()
    baseline = load_baseline(REPO / "models" / args.model / "baseline.json")
    print(
        f"model {baseline.model_name} ({baseline.n_features} features); {args.repeat} runs per size; "
        f"Logs Insights queries per window: {len(render_queries(baseline, 0, 1))}"
    )
    print(f"{'records':>10} {'file MB':>8} {'first s':>8} {'median s':>9} {'rows judged':>12} {'Insights answer B':>18}")
    for records in args.sizes:
        started = time.perf_counter()
        path = log_file(baseline, records, Path(args.folder))
        generated = time.perf_counter() - started
        times, rows = time_evaluation(baseline, path, args.repeat)
        size_mb = path.stat().st_size / 1e6
        note = f"   (file generated in {generated:.1f} s)" if generated > 1 else ""
        print(
            f"{records:>10} {size_mb:>8.1f} {times[0]:>8.3f} {statistics.median(times):>9.3f} {rows:>12} "
            f"{insights_answer_bytes(baseline, records):>18}{note}"
        )
    if not args.no_quality:
        print(flush=True)
        import monitor_quality

        sys.argv = [sys.argv[0]]
        monitor_quality.main()


if __name__ == "__main__":
    main()
