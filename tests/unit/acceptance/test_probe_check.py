"""The probe check's choreography: every probe's records written to the suite's log group, a bounded wait until
Logs Insights counts them all, then each probe's queries run and judged into its own row. Logs Insights is played
by a fake that answers the way the documented (or assumed) behaviour would."""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

from acceptance import probes as p
from acceptance.checks.insights import PROBE_PREFIX, check_probes
from acceptance.config import RunConfig
from acceptance.context import RunContext
from acceptance.cost import Usage
from acceptance.results import Status


class FakeProbeInsights:
    def __init__(self, records: list[dict[str, Any]], visible: float = 1.0) -> None:
        self.records, self.visible = records, visible
        self.answers: dict[str, list[list[dict[str, str]]]] = {}

    def _rows(self, text: str) -> list[list[dict[str, str]]]:
        def cells(**fields: Any) -> list[dict[str, str]]:
            return [{"field": k, "value": str(v)} for k, v in fields.items()]

        probe = re.search(r'probe = "([^"]+)"', text)
        if probe is None:  # the arrival count
            return [cells(n=int(len(self.records) * self.visible))]
        mine = [r for r in self.records if r["probe"] == probe.group(1)]
        name = probe.group(1)
        if name == "boolean_sum" and "by flag" in text:
            flags = [r["flag"] for r in mine]
            return [cells(flag="true", n=sum(flags)), cells(flag="false", n=len(flags) - sum(flags))]
        if name == "boolean_sum":
            return [cells(s=sum(r["flag"] for r in mine), n=len(mine))]
        if name == "missing_by_field":
            groups: dict[tuple[str, str | None], int] = {}
            for r in mine:
                groups[(r["kind"], r.get("label"))] = groups.get((r["kind"], r.get("label")), 0) + 1
            return [cells(kind=k, **({"label": lab} if lab else {}), n=n) for (k, lab), n in groups.items()]
        if name == "wide_record:contract":  # `fields` of every leaf, as text
            flat = p._leaf_values(mine[0])
            return [cells(**{k: str(v).lower() if isinstance(v, bool) else v for k, v in flat.items()})]
        if name == "wide_record:cap":
            return [cells(**{f"f{i:03d}": i for i in range(198)})]
        if name == "wide_record:parse":
            return [cells(n=len(mine), n_parsed=len(mine), s_parsed=(p.WIDE_FIELDS - 1) * len(mine))]
        if name == "pct_quantile":
            disc = p.duckdb_quantiles([r["v"] for r in mine], p.PCT_LEVELS)["disc"]
            return [cells(**{f"p{q}": v for q, v in zip(p.PCT_LEVELS, disc, strict=True)})]
        if name.startswith("count_distinct:"):
            return [cells(d=len({r["id"] for r in mine}), n=len(mine))]
        raise AssertionError(text)

    def start_query(self, *, queryString: str, **_: Any) -> dict[str, str]:  # noqa: N803
        query_id = str(len(self.answers))
        self.answers[query_id] = self._rows(queryString)
        return {"queryId": query_id}

    def get_query_results(self, *, queryId: str) -> dict[str, Any]:  # noqa: N803
        return {"status": "Complete", "results": self.answers[queryId]}

    def stop_query(self, **_: Any) -> None:
        return None


def run(visible: float) -> list[Any]:
    written: list[dict[str, Any]] = []
    probe_log = mock.Mock(created=False, group="g", bytes_written=1000, batches=[1])
    probe_log.write.side_effect = lambda records, _ts: written.extend(records)
    insights = FakeProbeInsights(written, visible)
    ticks = iter(range(100_000))
    ctx = RunContext(
        config=RunConfig.from_env({"ACCEPTANCE_STACK_NAME": "ServerlessInference-acc-0123abcd"}),
        clients=lambda service: insights,
        outputs=mock.Mock(),
        baseline=mock.Mock(n_features=4),
        api=mock.Mock(),
        queue=mock.Mock(),
        logs=mock.Mock(),
        probe_log=probe_log,
        usage=Usage(),
        region="us-east-1",
        account="123456789012",
        log=lambda _: None,
        clock=lambda: float(next(ticks)),
        sleep=lambda _: None,
    )
    ctx.shared["window_requests"] = 11
    from acceptance.checks import insights as insights_check

    with mock.patch.object(insights_check, "widest_baseline", lambda _: _wine()):
        return check_probes(ctx)


def _wine() -> Any:
    from pathlib import Path

    from functions.contract.model_artifact import load_baseline

    return load_baseline(Path(__file__).resolve().parents[3] / "models" / "wine" / "baseline.json")


def test_every_probe_is_a_row_with_what_aws_did() -> None:
    rows = run(visible=1.0)
    assert [r.name.removeprefix(PROBE_PREFIX) for r in rows] == [
        "boolean_sum",
        "missing_by_field",
        "wide_record",
        "pct_quantile",
        "count_distinct",
    ]
    assert all(r.status is Status.PASS for r in rows), [(r.name, r.observations) for r in rows]
    assert all(len(r.observations) == 2 and r.observations[1].startswith("backs: ") for r in rows)
    assert all(r.data["decision"] for r in rows)  # each row names the monitor design decision it backs
    assert rows[4].observations[0] == "count_distinct: exact at 11 ids; exact at 10000 ids"


def test_records_insights_never_sees_make_every_probe_an_error_after_a_bounded_wait() -> None:
    rows = run(visible=0.5)
    assert len(rows) == 5 and all(r.status is Status.ERROR for r in rows)
    assert "of" in rows[0].summary and "within 180 s" in rows[0].summary
