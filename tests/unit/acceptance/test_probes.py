"""Each Logs Insights probe judged on fake answers: the answer AWS would give if the assumption holds passes,
every way it could break fails, and the sentence says what AWS did."""

from __future__ import annotations

from typing import Any

from acceptance import probes as p


def cells(**fields: Any) -> list[dict[str, str]]:
    return [{"field": k, "value": str(v)} for k, v in fields.items()]


def test_records_carry_probe_and_run_first(iris_artifact: Any, wine_artifact: Any) -> None:
    for probe in p.build_probes("run1", wine_artifact.baseline, cardinality=40):
        for record in probe.records:
            assert list(record)[:2] == ["probe", "run"], probe.name
        assert all('run = "run1"' in q for q in probe.queries.values())


def test_boolean_sum() -> None:
    probe = p.boolean_sum("r")
    assert sum(r["flag"] for r in probe.records) == 7
    assert "by flag" in probe.queries["boolean_sum:groups"] and "sum(flag)" in probe.queries["boolean_sum"]
    words = [cells(flag="true", n=7), cells(flag="false", n=13)]
    passed = probe.judge({"boolean_sum": [cells(s=7, n=20)], "boolean_sum:groups": words})
    assert passed.passed and "counts true as 1" in passed.observed and "'true': 7" in passed.observed
    digits = [cells(flag="1", n=7), cells(flag="0", n=13)]
    # the monitor does not sum booleans: a sum with no value is recorded, not failed
    no_sum = probe.judge({"boolean_sum": [cells(s="", n=20)], "boolean_sum:groups": digits})
    assert no_sum.passed and "gave no value" in no_sum.observed
    dropped = [cells(n=7), cells(flag="false", n=13)]  # the field came back absent for the true group
    outcome = probe.judge({"boolean_sum": [cells(s=7, n=20)], "boolean_sum:groups": dropped})
    assert not outcome.passed and "0 outliers of 7, 7 unreadable" in outcome.observed
    merged = [cells(flag="false", n=20)]
    assert not probe.judge({"boolean_sum": [cells(s=20, n=20)], "boolean_sum:groups": merged}).passed
    assert not probe.judge({"boolean_sum": [cells(s=7, n=20)]}).passed  # no groups at all
    assert probe.decision.startswith("outliers come from `count(*) by is_outlier")


def test_missing_by_field_counts_or_drops() -> None:
    probe = p.missing_by_field("r")
    kept = [cells(kind="prediction", label="a", n=4), cells(kind="prediction", label="b", n=3), cells(kind="rejected", n=5)]
    outcome = probe.judge({"missing_by_field": kept})
    assert outcome.passed and "no label field" in outcome.observed
    empty = [*kept[:2], cells(kind="rejected", label="", n=5)]
    assert "an empty label" in probe.judge({"missing_by_field": empty}).observed
    dropped = probe.judge({"missing_by_field": kept[:2]})  # the monitor holds either way: recorded, passes
    assert dropped.passed and "are dropped" in dropped.observed
    partly = probe.judge({"missing_by_field": [*kept[:2], cells(kind="rejected", n=2)]})
    assert not partly.passed and "2 of 5" in partly.observed
    merged = [cells(kind="prediction", label="a", n=4), cells(kind="prediction", label="b", n=8)]
    assert not probe.judge({"missing_by_field": merged}).passed  # lacking events folded into a labelled group
    assert "grouped by `message` alone" in probe.decision


def _as_insights_returns(record: dict[str, Any]) -> list[dict[str, str]]:
    """A `fields` row of every leaf of `record`, values as text the way Logs Insights answers."""
    flat = p._leaf_values(record)
    return cells(**{k: ("true" if v is True else "false" if v is False else v) for k, v in flat.items()})


def test_wide_record_judges_every_field_of_the_widest_line_and_the_cap(wine_artifact: Any) -> None:
    probe = p.wide_record("r", wine_artifact.baseline)
    contract, synthetic, nested = probe.records
    paths = p.leaf_paths(contract)
    assert all(path in probe.queries["contract"] for path in paths)  # every field is read back, not only the last
    assert len(p.leaf_paths(synthetic)) == p.WIDE_FIELDS + 2 == len(p.leaf_paths(nested))
    assert '"f299":(?<v_last>' in probe.queries["parse"]  # the monitor's own parse of a feature past the cap
    parsed = {"parse": [cells(n=1, n_parsed=1, s_parsed=p.WIDE_FIELDS - 1)]}
    exact = [_as_insights_returns(contract)]
    capped = cells(**{f"f{i:03d}": i for i in range(198)})
    outcome = probe.judge({"contract": exact, "cap": [capped], **parsed})
    assert outcome.passed and "the first 200 fields were extracted" in outcome.observed
    assert f"every one of the widest model's {len(paths)} fields" in outcome.observed
    assert "read with `parse @message`: the value came back" in outcome.observed
    everything = cells(**{f"f{i:03d}": i for i in range(p.WIDE_FIELDS)})
    assert "all 302 fields" in probe.judge({"contract": exact, "cap": [everything], **parsed}).observed
    # a middle field missing (not the last one): a judge reading only the last field would pass this
    middle = paths[len(paths) // 2]
    dropped = [[cell for cell in exact[0] if cell["field"] != middle]]
    outcome = probe.judge({"contract": dropped, "cap": [capped], **parsed})
    assert not outcome.passed and middle in outcome.observed
    changed = [[{**cell, "value": "999"} if cell["field"] == middle else cell for cell in exact[0]]]
    assert not probe.judge({"contract": changed, "cap": [capped], **parsed}).passed
    # a cap below the 200 the query plan assumes fails: features between the two would be lost
    older_docs_cap = cells(**{f"f{i:03d}": i for i in range(98)})
    outcome = probe.judge({"contract": exact, "cap": [older_docs_cap], **parsed})
    assert not outcome.passed and "only 100 fields are extracted, below the 200" in outcome.observed
    assert not probe.judge({"contract": [], "cap": [everything], **parsed}).passed
    not_parsed = probe.judge({"contract": exact, "cap": [capped], "parse": [cells(n=1, n_parsed=0)]})
    assert not not_parsed.passed and "0.0 of 1.0 values" in not_parsed.observed


def test_pct_against_duckdb_quantiles() -> None:
    probe = p.pct_quantiles("r")
    values = [r["v"] for r in probe.records]
    expected = p.duckdb_quantiles(values, p.PCT_LEVELS)
    as_disc = probe.judge({"pct_quantile": [cells(**{f"p{q}": v for q, v in zip(p.PCT_LEVELS, expected["disc"], strict=True)})]})
    assert as_disc.passed and f"quantile_disc at {len(p.PCT_LEVELS)}/" in as_disc.observed
    as_cont = probe.judge({"pct_quantile": [cells(**{f"p{q}": v for q, v in zip(p.PCT_LEVELS, expected["cont"], strict=True)})]})
    assert as_cont.passed and f"quantile_cont at {len(p.PCT_LEVELS)}/" in as_cont.observed
    assert "within the rank tolerance" in as_cont.observed
    shifted = [max(values)] * len(p.PCT_LEVELS)  # every level answered with the maximum: not a quantile
    far = probe.judge({"pct_quantile": [cells(**{f"p{q}": v for q, v in zip(p.PCT_LEVELS, shifted, strict=True)})]})
    assert not far.passed and "OUTSIDE the rank tolerance" in far.observed
    assert far.data["rank_error_max"] > far.data["tolerance"]
    ordered = sorted(values)  # one rank step off at every level: still within max(1/n, 1 %)
    one_step = [ordered[min(len(ordered) - 1, round(q / 100 * len(ordered)))] for q in p.PCT_LEVELS]
    near = probe.judge({"pct_quantile": [cells(**{f"p{q}": v for q, v in zip(p.PCT_LEVELS, one_step, strict=True)})]})
    assert near.passed, near.observed
    assert not probe.judge({"pct_quantile": []}).passed  # no answer at all: pct is not usable
    assert "no percentiles" in probe.decision


def test_rank_interval() -> None:
    values = [float(v) for v in range(1, 101)]
    assert p.rank_interval(values, 50.0) == (0.49, 0.50)
    assert p.rank_interval(values, 50.5) == (0.50, 0.50)


def test_count_distinct_exact_approximate_or_wrong() -> None:
    probe = p.count_distinct("r", (500, 11))
    assert set(probe.queries) == {"11", "500"}
    assert len({(r["probe"], r["id"]) for r in probe.records}) == 511 and len(probe.records) == 1022

    def answer(d500: object, d11: object = 11) -> dict[str, list[list[dict[str, str]]]]:
        return {"500": [cells(d=d500, n=1000)], "11": [cells(d=d11, n=22)]}

    exact = probe.judge(answer(500))
    assert exact.passed and exact.observed == "count_distinct: exact at 11 ids; exact at 500 ids"
    approx = probe.judge(answer(495))
    assert approx.passed and "approximate at 500 ids: 495 (off by 1.00%)" in approx.observed
    assert not probe.judge(answer(450)).passed
    assert not probe.judge(answer(500, 12)).passed
    assert not probe.judge({"500": [cells(d=500, n=1000)]}).passed  # no answer for one level
