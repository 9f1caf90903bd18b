"""Categorical features in the monitor: one aggregate definition read by both engines, minute sums, and the
category_drift / unseen_category checks with their false-alarm budget and power."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from functions.contract import names
from functions.contract.model_artifact import Baseline, ModelArtifact, feature_field_position, parse_baseline
from functions.monitor import minutes
from functions.monitor.aggregates import CategoryWindow, Func, WindowAggregates, build_specs
from functions.monitor.alerts import STATE_ALARM, AlertState, CheckState, build_notification, decide, next_check_state
from functions.monitor.checks import (
    CHECK_CATEGORY_DRIFT,
    CHECK_UNSEEN_CATEGORY,
    Status,
    check_category_drift,
    check_unseen_category,
    evaluate,
)
from functions.monitor.insights import (
    InsightsEngine,
    InsightsRunner,
    category_query,
    parsed_feature_fields,
    render_queries,
)
from functions.monitor.service import metric_points
from functions.monitor.stats import binomial_lower_tail, binomial_upper_tail, bonferroni, pooled_buckets
from local.monitor import DuckDbEngine
from tests.unit.monitor.fakes import numpy_aggregates, sample_traffic, write_log
from tests.unit.monitor.insights_twin import InsightsTwin
from tests.unit.monitor.mixed import mixed_baseline, mixed_document, stationary_counts
from tests.unit.monitor.test_monitor_insights import END_MS, GOLDEN, START_MS, golden_text

WINDOW_MS = END_MS - START_MS


@pytest.fixture(scope="module")
def mixed() -> Baseline:
    return mixed_baseline()


def channel_shares(app: float = 0.30, index: int = 1) -> list[float]:
    """channel's training shares with category `index` ('app' by default) moved to `app`, the others scaled to keep
    the sum."""
    b = mixed_baseline().categorical_feature("channel")
    shares = [*b.shares, b.other_share]
    rest = 1.0 - shares[index]
    return [app if j == index else share * (1.0 - app) / rest for j, share in enumerate(shares)]


# --- one aggregate definition, two engines ------------------------------------------------------------------------


def test_mixed_query_text_matches_golden(mixed: Baseline) -> None:
    assert golden_text(mixed) == (GOLDEN / "mixed_insights.txt").read_text(encoding="utf-8")


def test_numbers_only_models_have_no_category_aggregates(iris_artifact: ModelArtifact, wine_artifact: ModelArtifact) -> None:
    for baseline in (iris_artifact.baseline, wine_artifact.baseline):
        assert not any(s.func is Func.COUNT_LISTED for s in build_specs(baseline))
        assert not any(q.name.startswith("categories-") for q in render_queries(baseline, START_MS, END_MS))
        assert not any(name.startswith("k:") for name in minutes.minute_layout(baseline))


def test_category_query_counts_listed_values_only_with_a_bounded_cap(mixed: Baseline) -> None:
    queries = {q.name: q for q in render_queries(mixed, START_MS, END_MS)}
    assert set(queries) >= {"categories-channel", "categories-plan"}
    channel = queries["categories-channel"].text
    assert 'and features.channel in ["web", "app", "branch", "phone"]' in channel
    assert channel.endswith("| stats count(*) as n by features.channel\n| sort n desc\n| limit 4")
    scalar = "\n".join(q.text for q in queries.values() if q.name.startswith("aggregates-"))
    assert "count(features.channel) as c1_n" in scalar and "count(features.plan) as c4_n" in scalar
    assert "avg(features.channel)" not in scalar and "features.plan)))" not in scalar  # no numeric aggregate of a string


def test_a_category_past_the_json_field_cap_is_parsed_as_a_string(mixed: Baseline) -> None:
    parsed = parsed_feature_fields(mixed, max_fields=feature_field_position(3))
    assert parsed == {"features.plan": "s4", "features.petal_width": "v5"}
    spec = next(s for s in build_specs(mixed) if s.func is Func.COUNT_LISTED and s.feature == "plan")
    text = category_query("filter x", spec, parsed).text
    assert '"plan":"(?<s4>[^"]*)"/' in text and '| filter s4 in ["basic", "pro"]' in text and "by s4" in text


def mixed_log(path: Path, baseline: Baseline, n: int, seed: int) -> tuple[WindowAggregates, list[str]]:
    """Mixed lines in the window (with unseen values and an unlisted tail), noise outside it; the numpy answer."""
    rng = np.random.default_rng(seed)
    inside = sample_traffic(baseline, n, rng, rows_per_request=2, rejected=1, confidence=0.9,
                            category_shares={"channel": channel_shares(0.4)})  # fmt: skip
    inside.features = np.round(inside.features, 4)
    write_log(path, baseline, inside, start_ms=START_MS, span_ms=WINDOW_MS, rng=rng)
    outside = sample_traffic(baseline, 40, rng, category_shares={"plan": [0.0, 0.0, 1.0]})
    write_log(path, baseline, outside, start_ms=END_MS, span_ms=60_000, rng=rng)
    return numpy_aggregates(baseline, inside, START_MS, END_MS), path.read_text().splitlines()


@pytest.mark.parametrize("n", [1, 57, 600])
def test_duckdb_and_the_rendered_insights_queries_read_the_same_category_counts(mixed: Baseline, n: int, tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    want, lines = mixed_log(path, mixed, n, seed=n)
    local = DuckDbEngine(mixed, path).read(START_MS, END_MS)
    runner = InsightsRunner(
        client=InsightsTwin(lines), log_group="/aws/lambda/inference", timeout_seconds=5, sleep=lambda _s: None
    )
    aws = InsightsEngine(mixed, runner).read(START_MS, END_MS)
    assert local.categories == want.categories == aws.categories
    assert sum(c.unseen for c in want.categories) > 0 or n < 50  # the fixture does exercise unseen values
    assert (local.rows, local.total_lines and local.unreadable_lines) == (n, 0)
    for engine in (local, aws):
        for got, expected in zip(engine.features, want.features, strict=True):
            assert got.count == expected.count and got.below == expected.below
            assert got.mean == pytest.approx(expected.mean, rel=1e-9)


def test_a_listed_count_above_the_rows_with_a_value_is_refused(mixed: Baseline) -> None:
    from functions.monitor.aggregates import AggregateError

    with pytest.raises(AggregateError, match="channel"):
        WindowAggregates.from_values(mixed, {"rows": 3, "c1_n": 2}, {"c1_listed": {"web": 3}}, start_ms=0, end_ms=1)


def test_a_group_for_an_unlisted_value_counts_as_unseen(mixed: Baseline) -> None:
    window = WindowAggregates.from_values(
        mixed, {"rows": 5, "c1_n": 5}, {"c1_listed": {"web": 2, "fax": 1}}, start_ms=0, end_ms=1
    )
    assert window.category("channel") == CategoryWindow("channel", 5, (2, 0, 0, 0), 3)


# --- minutes ------------------------------------------------------------------------------------------------------


def test_category_counts_are_minute_sums(mixed: Baseline, tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    rng = np.random.default_rng(5)
    start = START_MS - START_MS % minutes.MINUTE_MS
    write_log(path, mixed, sample_traffic(mixed, 300, rng), start_ms=start, span_ms=3 * minutes.MINUTE_MS, rng=rng)
    engine = DuckDbEngine(mixed, path)
    whole = engine.read(start, start + 3 * minutes.MINUTE_MS)
    starts = [start + i * minutes.MINUTE_MS for i in range(3)]
    parts = [minutes.from_window(mixed, window) for window in engine.read_minutes(starts).values()]
    summed = minutes.to_window(mixed, minutes.total(mixed, parts, start, start + 3 * minutes.MINUTE_MS))
    assert summed.categories == whole.categories
    assert all(sum(p.values[minutes.minute_layout(mixed).index("k:channel:n")] for p in parts[i : i + 1]) > 0 for i in range(3))
    assert [f"k:plan:c{j}" for j in range(2)] == [n for n in minutes.minute_layout(mixed) if n.startswith("k:plan:c")]


# --- checks -------------------------------------------------------------------------------------------------------


def window_with(baseline: Baseline, name: str, counts: list[int]) -> CategoryWindow:
    return CategoryWindow(name, sum(counts), tuple(counts[:-1]), counts[-1])


def test_a_ten_point_share_move_at_500_rows_is_named_in_the_evaluation(mixed: Baseline) -> None:
    rng = np.random.default_rng(11)
    shares = channel_shares(0.25, index=2)  # branch 15 % -> 25 %
    traffic = sample_traffic(mixed, 500, rng, category_shares={"channel": shares}, confidence=0.95)
    evaluation = evaluate(mixed, numpy_aggregates(mixed, traffic))
    named = {c.check for c in evaluation.alarms}
    assert "category_drift:channel" in named
    assert not named & {"unseen_category:channel", "category_drift:plan", "unseen_category:plan"}
    result = next(c for c in evaluation.checks if c.check == "category_drift:channel")
    assert "'branch'" in result.detail and result.condition.startswith("z ")


def test_category_figures_are_emf_metrics_under_contract_names(mixed: Baseline) -> None:
    """PSI and unseen share per categorical feature, as the dashboard draws them."""
    traffic = sample_traffic(mixed, 500, np.random.default_rng(11), category_shares={"channel": channel_shares(0.25, 2)})
    evaluation = evaluate(mixed, numpy_aggregates(mixed, traffic))
    points = {name: value for name, value, _ in metric_points(evaluation)}
    for category in mixed.categorical:
        assert points[names.category_drift_metric(category.name)] == evaluation.metrics[f"category_drift:{category.name}"]
        assert 0.0 <= points[names.unseen_category_metric(category.name)] <= 1.0
    assert points[names.category_drift_metric("channel")] > points[names.category_drift_metric("plan")]


@pytest.mark.parametrize(("index", "points"), [(0, 0.10), (0, -0.10), (1, 0.10), (1, -0.10), (2, 0.10), (2, -0.10), (3, 0.10)])
def test_a_ten_point_move_of_any_category_at_500_rows_is_notified(mixed: Baseline, index: int, points: float) -> None:
    """Per window a 10-point move of a large category is at the edge of the family alpha (bench/category_bench.py prints
    the figures); a drift that goes on reaches ALARM (2 of 3 windows, or one strong) within 30 windows of 500 rows."""
    rng = np.random.default_rng(12 + index)
    feature = mixed.categorical_feature("channel")
    alpha = bonferroni(mixed.thresholds.family_alpha, mixed.n_features)
    shares = channel_shares(feature.shares[index] + points, index=index)
    notified = 0
    for _ in range(60):
        state = CheckState()
        for k, counts in enumerate(rng.multinomial(500, shares, size=30), start=1):
            result = check_category_drift(feature, window_with(mixed, "channel", list(counts)), mixed, alpha)
            state = next_check_state(state, result, mixed.thresholds, k)
            if state.state == STATE_ALARM:
                notified += 1
                break
    assert notified >= 57  # 95 %


def test_unseen_values_rising_are_named_and_a_thin_tail_is_not(mixed: Baseline) -> None:
    feature = mixed.categorical_feature("plan")  # no unlisted tail in training
    alpha = bonferroni(mixed.thresholds.family_alpha, mixed.n_features)
    risen = check_unseen_category(feature, window_with(mixed, "plan", [380, 100, 20]), mixed, alpha)
    assert risen.in_alarm and risen.observed == pytest.approx(0.04) and "rise +4.0%" in risen.condition
    thin = check_unseen_category(feature, window_with(mixed, "plan", [399, 100, 1]), mixed, alpha)
    assert thin.status is Status.OK and "< 1.0%" in thin.condition  # significant, but under the floor
    channel = mixed.categorical_feature("channel")  # a 3 % tail: 4 % of 500 rows is within chance
    assert not check_unseen_category(channel, window_with(mixed, "channel", [225, 150, 75, 30, 20]), mixed, alpha).in_alarm
    few = check_unseen_category(feature, window_with(mixed, "plan", [10, 5, 5]), mixed, alpha)
    assert few.status is Status.INSUFFICIENT_DATA


def test_the_effect_size_floor_keeps_a_huge_window_quiet_on_a_tiny_move(mixed: Baseline) -> None:
    feature = mixed.categorical_feature("channel")
    n = 2_000_000
    counts = [round(n * s) for s in channel_shares(0.33)]  # app 30 % -> 33 %: significant, immaterial
    result = check_category_drift(feature, window_with(mixed, "channel", counts), mixed, 1e-5)
    assert result.score is not None and result.critical is not None and result.score > result.critical
    assert result.status is Status.OK and result.observed is not None and result.observed < mixed.thresholds.category_psi


@pytest.mark.parametrize(("k", "n", "p"), [(3, 30, 0.005), (20, 500, 0.03), (3300, 100_000, 0.03), (0, 10, 0.1),
                                           (10, 10, 0.5), (60_500, 2_000_000, 0.03), (1, 500, 0.45)])  # fmt: skip
def test_binomial_tails_match_scipy(k: int, n: int, p: float) -> None:
    assert binomial_upper_tail(k, n, p) == pytest.approx(scipy_stats.binom.sf(k - 1, n, p), rel=1e-7, abs=1e-300)
    assert binomial_lower_tail(k, n, p) == pytest.approx(scipy_stats.binom.cdf(k, n, p), rel=1e-7, abs=1e-300)


def test_rare_buckets_are_pooled_from_training_shares_only() -> None:
    shares = [0.45, 0.30, 0.15, 0.07, 0.03]
    assert pooled_buckets(shares, 30, 10_000) == [[4, 3, 2], [1], [0]]
    assert pooled_buckets(shares, 1000, 10_000) == [[4], [3], [2], [1], [0]]
    assert pooled_buckets([0.99, 0.01], 100, 10_000) == [[1, 0]]  # one bucket: nothing to test


def test_missing_categorical_values_are_a_data_quality_alarm(mixed: Baseline) -> None:
    rng = np.random.default_rng(3)
    window = numpy_aggregates(mixed, sample_traffic(mixed, 200, rng))
    blind = dataclasses.replace(window, categories=(window.categories[0],))  # plan read from no row
    evaluation = evaluate(mixed, blind)
    quality = next(c for c in evaluation.checks if c.check == "data_quality")
    assert quality.in_alarm and "'plan' missing in 200 of 200 rows" in quality.detail
    assert next(c for c in evaluation.checks if c.check == "category_drift:plan").status is Status.INSUFFICIENT_DATA


def test_alerts_name_the_category_checks(mixed: Baseline) -> None:
    rng = np.random.default_rng(4)
    traffic = sample_traffic(mixed, 800, rng, category_shares={"plan": [0.6, 0.2, 0.2]}, confidence=0.95)
    evaluation = evaluate(mixed, numpy_aggregates(mixed, traffic, START_MS, END_MS))
    decision = decide(evaluation, AlertState(), mixed.thresholds, END_MS)  # strong evidence: ALARM in one window
    names = [t.check.check for t in decision.notify]
    assert {"category_drift:plan", "unseen_category:plan"} <= set(names)
    message = build_notification(evaluation, decision.notify, where="test")
    assert "unseen_category:plan" in message.subject and "Check first: Compare recent requests' 'plan' values" in message.text
    assert evaluation.metrics["unseen_category:plan"] == pytest.approx(traffic_unseen_share(traffic, 1), abs=1e-12)


def traffic_unseen_share(traffic: object, column: int) -> float:
    rows = traffic.categories  # type: ignore[attr-defined]
    return sum(1 for row in rows if row[column].startswith("unseen-")) / len(rows)


# --- the false-alarm budget -----------------------------------------------------------------------------------------

SIZES = (30, 100, 500, 5_000, 50_000)
WINDOWS = 2_000


def false_alarms(baseline: Baseline, alpha: float, seed: int) -> dict[tuple[int, str], int]:
    """Windows of stationary traffic in which each check alarmed."""
    rng = np.random.default_rng(seed)
    feature_alpha = bonferroni(alpha, baseline.n_features)
    out: dict[tuple[int, str], int] = {}
    for n in SIZES:
        for feature in baseline.categorical:
            for check in (check_category_drift, check_unseen_category):
                out[(n, f"{check.__name__.removeprefix('check_')}:{feature.name}")] = 0
            for counts in stationary_counts(feature, n, rng, WINDOWS):
                window = window_with(baseline, feature.name, list(counts))
                out[(n, f"{CHECK_CATEGORY_DRIFT}:{feature.name}")] += check_category_drift(
                    feature, window, baseline, feature_alpha
                ).in_alarm
                out[(n, f"{CHECK_UNSEEN_CATEGORY}:{feature.name}")] += check_unseen_category(
                    feature, window, baseline, feature_alpha
                ).in_alarm
    return out


def test_stationary_traffic_keeps_the_family_false_alarm_budget(mixed: Baseline) -> None:
    """At the shipped alpha no window may alarm; with alpha raised to 0.05 (so a miscalibrated test shows) each check
    stays within the binomial 99.9 % bound of its share of the budget, and the two checks of a feature together too."""
    assert sum(false_alarms(mixed, mixed.thresholds.family_alpha, seed=1).values()) <= 1
    # Without the effect-size floors, so the tests themselves are measured.
    bare = parse_baseline({**mixed_document(), "thresholds": {**mixed_document()["thresholds"], "category_psi": 0.0,
                                                               "unseen_category_floor": 0.0}})  # fmt: skip
    alpha = 0.05
    per_check = bonferroni(alpha, bare.n_features)
    bound = scipy_stats.binom.ppf(0.999, WINDOWS, per_check)
    counts = false_alarms(bare, alpha, seed=2)
    assert max(counts.values()) <= bound, counts
    assert sum(counts.values()) <= scipy_stats.binom.ppf(0.999, WINDOWS * len(counts), per_check), counts
    assert math.isfinite(bound) and bound < WINDOWS * per_check * 2  # the bound is tight enough to fail


# --- the local monitor over mixed lines -------------------------------------------------------------------------------


def test_local_monitor_cli_names_a_category_drift_in_mixed_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import json

    from functions.monitor.alerts import iso
    from local.monitor import main

    monkeypatch.delenv("ALERT_TOPIC_ARN", raising=False)
    monkeypatch.delenv("ALERT_STATE_TABLE", raising=False)
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "baseline.json").write_text(json.dumps(mixed_document()), encoding="utf-8")
    baseline = mixed_baseline()
    rng = np.random.default_rng(21)
    path = tmp_path / "predictions.jsonl"
    for k in range(2):  # plan: 'pro' 20 % -> 35 %, and 5 % of values unseen
        traffic = sample_traffic(baseline, 400, rng, category_shares={"plan": [0.6, 0.35, 0.05]}, confidence=0.95)
        write_log(path, baseline, traffic, start_ms=START_MS + k * WINDOW_MS, span_ms=WINDOW_MS, rng=rng)

    def run(*extra: str) -> dict[str, object]:
        out = io.StringIO()
        args = ["--log-file", str(path), "--model-dir", str(folder), "--alert-file", str(tmp_path / "alerts.jsonl"),
                "--state-file", str(tmp_path / "state.json"), "--json", *extra]  # fmt: skip
        assert main(args, out) == 0, out.getvalue()
        return json.loads(out.getvalue())  # type: ignore[no-any-return]

    summary = run("--window-end", iso(START_MS + WINDOW_MS), "--window-minutes", "2", "--report", str(tmp_path / "r.png"))
    alarms = set(summary["alarms"])  # type: ignore[arg-type]
    assert {"category_drift:plan", "unseen_category:plan"} <= alarms
    assert not {a for a in alarms if a.startswith(("mean_shift:", "distribution:", "spread:", "category_drift:channel"))}
    alert = json.loads((tmp_path / "alerts.jsonl").read_text().splitlines()[0])
    assert "unseen_category:plan" in alert["subject"] and "not among the 2 training categories" in alert["text"]
    assert (tmp_path / "r.png").read_bytes().startswith(b"\x89PNG")
    minute_files = ["--minute-file", str(tmp_path / "minutes.json"), "--state-file", str(tmp_path / "minute-state.json")]
    minute = run("--window-end", iso(START_MS + 2 * WINDOW_MS + 5 * 60_000), "--horizons", "2,15", *minute_files)
    assert {"category_drift:plan", "unseen_category:plan"} <= set(minute["alarms"])  # type: ignore[arg-type]
    assert minute["rows_seen"] == 800 and "category_drift:plan:ALARM" in minute["notified"]  # type: ignore[operator]


def test_a_category_alarm_recovers_on_clean_windows_and_not_on_thin_ones(mixed: Baseline) -> None:
    rng = np.random.default_rng(31)
    drifted = sample_traffic(mixed, 800, rng, category_shares={"plan": [0.55, 0.45, 0.0]}, confidence=0.95)
    state = decide(evaluate(mixed, numpy_aggregates(mixed, drifted, 0, 120_000)), AlertState(), mixed.thresholds, 120_000).state
    assert state.checks["category_drift:plan"].state == STATE_ALARM
    thin = evaluate(mixed, numpy_aggregates(mixed, sample_traffic(mixed, 10, rng, confidence=0.95), 120_000, 240_000))
    held = decide(thin, state, mixed.thresholds, 240_000)
    assert held.state.checks["category_drift:plan"].state == STATE_ALARM and not held.notify  # 10 rows judge nothing
    clean = evaluate(mixed, numpy_aggregates(mixed, sample_traffic(mixed, 800, rng, confidence=0.95), 240_000, 360_000))
    recovered = decide(clean, held.state, mixed.thresholds, 360_000)
    assert [(t.check.check, t.current) for t in recovered.notify if t.check.check.startswith("category")] == [
        ("category_drift:plan", "OK")
    ]


def test_the_widest_category_list_fits_one_query() -> None:
    """50 listed categories of 64 characters (the contract's bounds), with quotes to escape, stay under 10,000 chars."""
    from functions.contract.model_artifact import MAX_CATEGORIES
    from functions.contract.prediction_log import MAX_CATEGORY_CHARS
    from functions.monitor.insights import MAX_QUERY_CHARS

    document = mixed_document()
    wide = [f'{i:02d}"' + "x" * (MAX_CATEGORY_CHARS - 3) for i in range(MAX_CATEGORIES)]
    document["features"][1] = {**document["features"][1], "categories": wide, "shares": [0.97 / MAX_CATEGORIES] * MAX_CATEGORIES}
    baseline = parse_baseline(document)
    query = next(q for q in render_queries(baseline, START_MS, END_MS) if q.name == "categories-channel")
    assert len(query.text) <= MAX_QUERY_CHARS and query.text.endswith(f"| limit {MAX_CATEGORIES}")
    assert '"00\\"xxx' in query.text  # the quote inside a category is escaped
