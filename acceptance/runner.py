"""One acceptance run: preflight, deploy, every check (each a row), teardown even when something failed, cost.

Everything that talks to AWS or starts a process is injected (session, deployer, checks, clock), so the order
of events (a failing check still tears down, KEEP=1 does not, no credentials never deploys) is tested offline.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from functions.contract.model_artifact import Baseline, load_baseline
from functions.contract.names import BASELINE_FILE

from .alert_queue import AlertQueue
from .aws import Clients, NoCredentialsError, preflight
from .checks.alarms import check_alarms
from .checks.api import check_api
from .checks.archive import check_athena, check_feedback, check_s3
from .checks.dashboard import check_dashboard
from .checks.delivery import check_delivery
from .checks.insights import check_monitor_queries, check_probes
from .checks.log_contract import check_log_contract
from .checks.monitor import check_monitor
from .checks.quality import check_quality_run
from .cloudwatch import LogReader, ProbeLog
from .config import REPO_ROOT, RunConfig
from .context import MONITOR_GB_SECONDS_PER_RUN, RunContext
from .cost import Usage, describe, estimate
from .deploy import API_TYPE_HTTP, API_TYPE_URL, Deployer, StackOutputs, deploy_command, require_bootstrap, stack_resources
from .http_api import ApiClient, sigv4_signer
from .results import CheckResult, ResultTable, Status
from .teardown import Teardown

CheckFn = Callable[[RunContext], list[CheckResult]]

# Run order (the table is sorted by number): the archive check waits for Firehose's buffer after the first
# traffic, so it runs once the earlier checks have spent most of that time; the quality run follows the feedback
# line it judges; the monitor check owns three whole windows and must not share them with other traffic (its
# schedule is paused meanwhile); the dashboard comes last, when every metric (the quality run's too) has data.
CHECKS: tuple[tuple[str, str, CheckFn], ...] = (
    ("1 api", "every route; auth refused without credentials; the README's bad inputs", check_api),
    ("2 log contract", "a known request's records in CloudWatch within 120 s, equal to the local server's", check_log_contract),
    ("2 log delivery delay", "30 lines: write -> first FilterLogEvents hit, p50/p99/max; all within 300 s", check_delivery),
    (
        "3 insights: monitor queries vs duckdb",
        "the monitor's queries over known traffic vs DuckDB on the same records",
        check_monitor_queries,
    ),
    ("3 insights probes", "boolean groups and sum, missing `by` field, field cap, pct vs quantile, count_distinct", check_probes),
    ("5 alarms reach the topic", "SetAlarmState ALARM on every alarm; each message arrives in the queue", check_alarms),
    ("6 archive: records reach S3", "Firehose delivers contract lines within buffer + margin", check_s3),
    ("6 archive: athena types", "Athena on the Glue table returns them with the right types", check_athena),
    ("6 archive: feedback table", "a feedback line reaches its own table (skipped when absent)", check_feedback),
    ("6 quality run", "the quality function, invoked as its own role, joins the feedback in Athena", check_quality_run),
    ("4 monitor", "scheduled-event invocations, EMF via GetMetricData, ALARM then recovery in the queue", check_monitor),
    ("7 dashboard", "the dashboard exists and every plotted metric exists (ListMetrics)", check_dashboard),
)

# The plan's expectations (no real run was possible where this was written: replace with measured figures).
PLANNED_MINUTES = {"deploy": 8, "checks": 27, "teardown": 6}
PLANNED_ALARMS = 9


def custom_metric_count(baseline: Baseline) -> int:
    """Custom metrics the stack publishes: the inference log group's metric filters (7 + one per class,
    infra/line_metrics.py) and the cold start's EMF, the monitor's EMF (5 + two per feature)."""
    from infra.line_metrics import line_metrics  # infra needs aws-cdk-lib, installed wherever acceptance deploys

    return len(line_metrics(baseline.label_names)) + 1 + 5 + 2 * baseline.n_features


def planned_usage(baseline: Baseline) -> Usage:
    minutes = sum(PLANNED_MINUTES.values())
    rows = 3 + 30 + 220 + 300
    requests = 45 + 1 + 30 + 17 + 15 + 1
    return Usage(
        api_requests=requests,
        inference_invocations=requests,
        inference_gb_seconds=requests * 0.05,
        monitor_invocations=minutes + 6,
        monitor_gb_seconds=(minutes + 6) * 2.5,
        log_bytes_ingested=rows * 400 * 3 + 2_000 * 60,
        insights_bytes_scanned=12 * rows * 400 * 3 + 10 * 200_000,
        firehose_records=rows,
        s3_puts=8,
        s3_gets=8,
        athena_queries=1,
        get_metric_data_metrics=40,
        cloudwatch_requests=80,
        sns_sqs_requests=200,
        dynamodb_writes=20,
        kms_requests=60,
        stack_hours=minutes / 60,
        alarms=PLANNED_ALARMS,
        dashboards=1,
        custom_metrics=custom_metric_count(baseline),
        kms_keys=1,
        notes=[f"planned: {minutes} minutes of stack life ({PLANNED_MINUTES}), {rows} predicted rows"],
    )


def git_commit() -> str | None:
    """The repository commit that was tested, for the report (None outside a git checkout)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def plan(config: RunConfig, out: IO[str]) -> dict[str, Any]:
    """DRY_RUN=1: what would happen, without calling AWS."""
    cost = estimate(planned_usage(load_baseline(config.model_dir / BASELINE_FILE)))
    document: dict[str, Any] = {
        "stack_name": config.stack_name,
        "model": config.model,
        "region": config.region or "(from your AWS profile)",
        "context": dict(config.extra_context),
        "deploy": " ".join(deploy_command(config, config.results_dir / f"{config.stack_name}-outputs.json")),
        "checks": [{"name": name, "what": what} for name, what, _ in sorted(CHECKS, key=lambda c: c[0].split(" ")[0])],
        "teardown": "kept (KEEP=1)" if config.keep else "stack deleted, archive bucket emptied and deleted, log groups deleted",
        "expected_minutes": PLANNED_MINUTES,
        "expected_cost": cost,
    }
    out.write(f"acceptance plan (DRY_RUN=1: nothing is called)\n  stack   {config.stack_name} (model {config.model})\n")
    options = " ".join(f"{k}={v}" for k, v in config.extra_context.items()) or "(defaults)"
    out.write(f"  region  {document['region']}\n  options {options}\n  deploy  {document['deploy']}\n  checks:\n")
    out.writelines(f"    {c['name']:<38} {c['what']}\n" for c in document["checks"])
    out.write(f"  teardown  {document['teardown']}\n")
    out.write(f"  expected  ~{sum(PLANNED_MINUTES.values())} minutes; {describe(cost)}\n")
    out.flush()
    return document


@dataclass
class Runner:
    config: RunConfig
    session: Any
    deployer: Any = None  # .deploy() -> StackOutputs; default: the CDK CLI through npx
    checks: Sequence[tuple[str, str, CheckFn]] = CHECKS
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    err: IO[str] = field(default_factory=lambda: sys.stderr)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    reuse: bool = False  # run the checks against an existing (kept) stack instead of deploying
    api_type: str = "REST"  # from the stack outputs once deployed (prices differ)

    def log(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def run(self) -> int:
        if self.config.dry_run:
            document = plan(self.config, self.out)
            path = self.config.results_dir / f"{self.config.stack_name}-plan.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
            return 0
        try:
            identity = preflight(self.session, self.config.region)
        except NoCredentialsError as error:
            self.err.write(f"acceptance: {error}\nNothing was deployed.\n")
            self.err.flush()
            return 2
        self.log(
            f"acceptance: account {identity.account} ({identity.arn}), region {identity.region}, stack {self.config.stack_name}"
        )
        clients = Clients(self.session, identity.region)
        table = ResultTable(self.config.stack_name, identity.region, self.config.model)
        usage = Usage()
        queue = AlertQueue(
            sqs=clients("sqs"), sns=clients("sns"), topic_arn="", name=f"{self.config.stack_name}-alerts", clock=self.clock
        )
        probe_log = ProbeLog(clients("logs"), f"{self.config.stack_name}-probes")
        born = self.clock()
        try:
            self._deploy_and_check(clients, identity, table, usage, queue, probe_log)
        except KeyboardInterrupt:
            table.add(CheckResult("interrupted", Status.ERROR, "stopped by the user; tearing down"))
        finally:
            self._finish(clients, table, usage, queue, probe_log, born)
        return 0 if table.passed else 1

    def _deploy_and_check(
        self, clients: Clients, identity: Any, table: ResultTable, usage: Usage, queue: AlertQueue, probe_log: ProbeLog
    ) -> None:
        started = self.clock()
        try:
            if self.reuse:
                from .deploy import stack_outputs_from_cloudformation

                outputs = stack_outputs_from_cloudformation(clients("cloudformation"), self.config.stack_name)
            else:
                require_bootstrap(clients("cloudformation"), identity)
                outputs = (self.deployer or Deployer(self.config)).deploy()
            resources = stack_resources(clients("cloudformation"), self.config.stack_name)
            queue.topic_arn = outputs.alert_topic_arn
            queue.create()
            api = self._api_client(clients, outputs)
        except Exception as error:
            table.add(CheckResult("0 deploy", Status.ERROR, f"{type(error).__name__}: {error}", seconds=self.clock() - started))
            return
        table.add(CheckResult("0 deploy", Status.PASS, f"{len(resources)} resources", seconds=self.clock() - started))
        self.api_type = outputs.api_type
        usage.alarms = sum(r.get("ResourceType") == "AWS::CloudWatch::Alarm" for r in resources)
        usage.dashboards = sum(r.get("ResourceType") == "AWS::CloudWatch::Dashboard" for r in resources)
        usage.kms_keys = sum(r.get("ResourceType") == "AWS::KMS::Key" for r in resources)
        baseline = load_baseline(self.config.model_dir / BASELINE_FILE)
        usage.custom_metrics = custom_metric_count(baseline)
        ctx = RunContext(
            config=self.config,
            clients=clients,
            outputs=outputs,
            baseline=baseline,
            api=api,
            queue=queue,
            logs=LogReader(clients("logs"), clock=self.clock, sleep=self.sleep),
            probe_log=probe_log,
            usage=usage,
            region=identity.region,
            account=identity.account,
            resources=resources,
            log=self.log,
            clock=self.clock,
            sleep=self.sleep,
        )
        for name, _, check in self.checks:
            self.log(f"acceptance: running {name}")
            began = self.clock()
            try:
                rows = check(ctx)
            except Exception as error:
                rows = [CheckResult(name, Status.ERROR, f"{type(error).__name__}: {error}")]
            for row in rows:
                row.seconds = (self.clock() - began) / len(rows)
                table.add(row)
                self.log(f"  {row.status.value:<5} {row.name}: {row.summary}")
        usage.api_requests = ctx.api.requests

    def _api_client(self, clients: Clients, outputs: StackOutputs) -> ApiClient:
        if outputs.api_key_id:
            key = clients("apigateway").get_api_key(apiKey=outputs.api_key_id, includeValue=True)["value"]
            return ApiClient(outputs.api_url, api_key=key)
        service = "lambda" if outputs.api_type == API_TYPE_URL else "execute-api"
        return ApiClient(outputs.api_url, signer=sigv4_signer(self.session, clients.region, service))

    def _finish(
        self, clients: Clients, table: ResultTable, usage: Usage, queue: AlertQueue, probe_log: ProbeLog, born: float
    ) -> None:
        if self.config.keep:
            self.log(
                f"acceptance: KEEP=1, stack {self.config.stack_name} and its data are kept (they cost money while they exist); "
                f"delete them with: ACCEPTANCE_STACK_NAME={self.config.stack_name} .venv/bin/python -m acceptance --teardown"
            )
            table.extra["teardown"] = {"kept": True}
        else:
            began = self.clock()
            teardown = Teardown(
                clients,
                self.config.stack_name,
                log=self.log,
                extra_steps=[("alert queue and its subscription", queue.delete), ("probe log group", probe_log.delete)],
            )
            report = teardown.run()
            status = Status.PASS if report.ok else Status.FAIL
            summary = f"{len(report.deleted)} deleted" + (
                f", {len(report.errors)} failed: {report.errors[0]}" if report.errors else ""
            )
            table.add(CheckResult("9 teardown", status, summary, seconds=self.clock() - began, observations=report.errors))
            table.extra["teardown"] = {"deleted": report.deleted, "errors": report.errors, "left_on_purpose": report.left}
        usage.stack_hours = (self.clock() - born) / 3600
        scheduled_runs = int(usage.stack_hours * 60)  # the EventBridge rule runs the monitor every minute meanwhile
        usage.monitor_invocations += scheduled_runs
        usage.monitor_gb_seconds += scheduled_runs * MONITOR_GB_SECONDS_PER_RUN
        usage.sns_sqs_requests += queue.requests
        cost = estimate(usage, http_api=self.api_type == API_TYPE_HTTP)
        table.extra["run"] = {
            "started_at": self.config.started_at.isoformat(timespec="seconds"),
            "commit": git_commit(),
            "api_type": self.api_type,
            "context": dict(self.config.extra_context),  # the options this run proved (ACCEPTANCE_CONTEXT)
        }
        table.extra["cost"] = cost
        table.rows.sort(key=lambda r: r.name.split(" ")[0])
        table.print(self.out)
        self.log(describe(cost))
        self.log(f"acceptance: results written to {table.write(self.config.results_file)}")
