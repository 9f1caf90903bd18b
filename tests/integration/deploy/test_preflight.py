"""`make deploy`'s preflight: no credentials, no region, no bootstrap each end in one message with the fix and exit 2.

The AWS side (STS GetCallerIdentity, the bootstrap version in SSM) runs against moto's server on 127.0.0.1, or
against whatever AWS_ENDPOINT_URL names. The environment is built from scratch for each run, so nothing from the
machine's own AWS configuration leaks in, and instance metadata is never asked.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "deploy_preflight.py"
BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"


@pytest.fixture
def endpoint(aws_endpoint: str) -> str:
    return aws_endpoint


def bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No AWS settings at all: an empty home, no config files, no instance metadata."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PYTHONPATH": str(REPO),
        "AWS_CONFIG_FILE": str(home / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra,
    }


def preflight(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def keys(endpoint: str, **extra: str) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", **extra}


def test_no_credentials_names_the_profile_the_region_and_bootstrap(tmp_path: Path) -> None:
    done = preflight(bare_env(tmp_path))
    assert done.returncode == 2
    assert "no AWS credentials found" in done.stderr
    for hint in ("export AWS_PROFILE=", "aws sso login", "AWS_ACCESS_KEY_ID", "make bootstrap"):
        assert hint in done.stderr
    assert "Traceback" not in done.stderr


def test_a_profile_that_does_not_exist_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    done = preflight(bare_env(tmp_path, AWS_PROFILE="typo"))
    assert done.returncode == 2
    assert "(typo) could not be found" in done.stderr and "export AWS_PROFILE=" in done.stderr
    assert "Traceback" not in done.stderr


def test_credentials_without_a_region_ask_for_the_region(tmp_path: Path, endpoint: str) -> None:
    done = preflight(bare_env(tmp_path, **keys(endpoint)))
    assert done.returncode == 2
    assert "no AWS region set" in done.stderr and "export AWS_REGION=" in done.stderr


def test_an_account_that_is_not_bootstrapped_is_told_to_run_make_bootstrap(tmp_path: Path, endpoint: str) -> None:
    import boto3

    env = bare_env(tmp_path, **keys(endpoint, AWS_REGION="eu-north-1"))
    ssm = boto3.client(
        "ssm", region_name="eu-north-1", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="x"
    )
    ssm.delete_parameters(Names=[BOOTSTRAP_PARAMETER])
    done = preflight(env)
    assert done.returncode == 2
    assert "is not bootstrapped" in done.stderr and "make bootstrap" in done.stderr
    assert "eu-north-1" in done.stderr

    before_bootstrap = preflight(env, "--before-bootstrap", "--environment")  # what `make bootstrap` runs first
    assert before_bootstrap.returncode == 0, before_bootstrap.stderr
    assert "deploy preflight: 1 check in " in before_bootstrap.stderr  # credentials and region only
    account = boto3.client(
        "sts", region_name="eu-north-1", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="x"
    ).get_caller_identity()["Account"]
    assert before_bootstrap.stdout == f"aws://{account}/eu-north-1\n"  # the argument `cdk bootstrap` gets

    ssm.put_parameter(Name=BOOTSTRAP_PARAMETER, Value="3", Type="String")
    too_old = preflight(env)
    assert too_old.returncode == 2
    assert "version 3" in too_old.stderr and "make bootstrap" in too_old.stderr

    ssm.put_parameter(Name=BOOTSTRAP_PARAMETER, Value="28", Type="String", Overwrite=True)
    ready = preflight(env)
    assert ready.returncode == 0, ready.stderr
    assert "region eu-north-1" in ready.stdout and "CDK bootstrap version 28" in ready.stdout


def test_the_bootstrap_qualifier_comes_from_cdk_json(tmp_path: Path, endpoint: str) -> None:
    import boto3

    cdk_json = tmp_path / "cdk.json"
    cdk_json.write_text('{"app": "python app.py", "context": {"@aws-cdk/core:bootstrapQualifier": "team42"}}')
    env = bare_env(tmp_path, **keys(endpoint, AWS_REGION="eu-west-3"))
    ssm = boto3.client(
        "ssm", region_name="eu-west-3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="x"
    )
    ssm.put_parameter(Name=BOOTSTRAP_PARAMETER, Value="28", Type="String", Overwrite=True)  # the default qualifier's
    done = preflight(env, "--cdk-json", str(cdk_json))
    assert done.returncode == 2
    assert "/cdk-bootstrap/team42/version" in done.stderr


def test_make_deploy_without_credentials_stops_at_the_preflight(tmp_path: Path) -> None:
    """The Makefile wiring: the preflight runs before the layer build and the CDK CLI."""
    bin_dir = str(Path(sys.executable).parent)
    stamps = ["-o", ".venv/.installed-local", "-o", ".venv/.installed-dev"]
    done = subprocess.run(
        ["make", "--no-print-directory", *stamps, f"BIN={bin_dir}", "deploy"],
        cwd=REPO, env=bare_env(tmp_path), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "no AWS credentials found" in done.stderr and "make bootstrap" in done.stderr
    assert "build_layer" not in done.stdout and "aws-cdk" not in done.stdout


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")  # moto's CloudFormation skips a bucket policy
@pytest.mark.skipif(shutil.which("npx") is None, reason="needs node's npx (the CDK CLI comes from the npm registry)")
def test_make_bootstrap_bootstraps_what_the_preflight_then_accepts(tmp_path: Path) -> None:
    """The whole first-deploy path against a fresh moto server: not bootstrapped -> make bootstrap -> ready."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)  # its own, never bootstrapped
    server.start()
    try:
        env = bare_env(tmp_path, **keys(f"http://127.0.0.1:{port}", AWS_REGION="us-east-1"))
        env |= {"CDK_DISABLE_VERSION_CHECK": "1", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
        env["NPM_CONFIG_CACHE"] = os.environ.get("NPM_CONFIG_CACHE") or str(Path.home() / ".npm")  # the machine's npm cache
        stamps = ["-o", ".venv/.installed-local", "-o", ".venv/.installed-dev"]
        make = ["make", "--no-print-directory", *stamps, f"BIN={Path(sys.executable).parent}"]
        assert "is not bootstrapped" in preflight(env).stderr
        done = subprocess.run([*make, "bootstrap"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert "bootstrapped" in done.stdout + done.stderr
        ready = preflight(env)
        assert ready.returncode == 0, ready.stderr
        assert "CDK bootstrap version" in ready.stdout
    finally:
        server.stop()


# --- the account-level checks: API Gateway's role and the alert e-mail against moto, the rest with botocore's Stubber ---
def bootstrapped(endpoint: str, region: str) -> None:
    import boto3

    ssm = boto3.client("ssm", region_name=region, endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="x")
    ssm.put_parameter(Name=BOOTSTRAP_PARAMETER, Value="28", Type="String", Overwrite=True)
    # moto's server loads a service's code on its first request (seconds on a busy machine), longer than the
    # preflight's 3 s read timeout; load them here so the preflight's own calls meet a warm server.
    clients = {"region_name": region, "endpoint_url": endpoint, "aws_access_key_id": "testing", "aws_secret_access_key": "x"}
    boto3.client("cloudformation", **clients).list_stacks()
    boto3.client("sns", **clients).list_topics()
    boto3.client("apigateway", **clients).get_account()


def test_the_default_sets_the_api_gateway_role_and_the_opt_out_needs_one_in_the_account(tmp_path: Path, endpoint: str) -> None:
    import boto3

    region = "ap-southeast-2"  # a region no other test touches: its API Gateway account starts without a role
    bootstrapped(endpoint, region)
    env = bare_env(tmp_path, **keys(endpoint, AWS_REGION=region))
    default = preflight(env)
    assert default.returncode == 0, default.stderr
    assert "API Gateway logging role: the stack sets its own (the account has none yet)" in default.stdout
    assert "stack ServerlessInference-iris" in default.stdout

    opted_out = preflight(env, "-c", "api_gateway_account_role=false")
    assert opted_out.returncode == 2
    assert "the account has none" in opted_out.stderr and "drop -c api_gateway_account_role=false" in opted_out.stderr
    assert "nothing was built" in opted_out.stderr

    assert preflight(env, "-c", "api_gateway_account_role=false", "-c", "api=http").returncode == 0  # HTTP API: no role

    role = "arn:aws:iam::123456789012:role/platform-apigateway-logs"
    apigateway = boto3.client(
        "apigateway", region_name=region, endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="x"
    )
    apigateway.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}])
    now_set = preflight(env, "-c", "api_gateway_account_role=false")
    assert now_set.returncode == 0, now_set.stderr
    assert f"the account's {role}" in now_set.stdout
    replacing = preflight(env)
    assert f"replacing {role}; keep that one with -c api_gateway_account_role=false" in replacing.stdout


def test_the_preflight_prints_its_runtime_and_one_line_per_check(tmp_path: Path, endpoint: str) -> None:
    region = "ap-northeast-3"
    bootstrapped(endpoint, region)
    done = preflight(bare_env(tmp_path, **keys(endpoint, AWS_REGION=region)), "-c", "model=wine")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "stack ServerlessInference-wine" in done.stdout  # the stack name follows the model
    for check in ("concurrency:", "API Gateway logging role:", "alert e-mail:", "Slack:", "Lake Formation:"):
        assert sum(check in line for line in lines) == 1, (check, done.stdout)
    (timing,) = [line for line in lines if " checks in " in line]
    assert timing.startswith("deploy preflight: 7 checks in ") and timing.endswith(" s")
    float(timing.split(" checks in ")[1].removesuffix(" s"))


def test_bad_context_is_one_line(tmp_path: Path) -> None:
    done = preflight(bare_env(tmp_path), "-c", "reserved_concurrency=maybe")
    assert done.returncode == 2
    assert "-c reserved_concurrency=maybe: expected true or false" in done.stderr and "Traceback" not in done.stderr


def test_an_alert_email_is_confirmed_once_the_stack_exists(tmp_path: Path, endpoint: str) -> None:
    import boto3

    region = "ca-central-1"
    bootstrapped(endpoint, region)
    credentials = {"region_name": region, "endpoint_url": endpoint, "aws_access_key_id": "testing", "aws_secret_access_key": "x"}
    env = bare_env(tmp_path, **keys(endpoint, AWS_REGION=region))
    new = preflight(env, "-c", "alert_email=oncall@example.com")
    assert new.returncode == 0, new.stderr
    assert "alert e-mail: ServerlessInference-iris is new; after the deploy, oncall@example.com: click the link" in new.stdout

    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"AlertTopicArn": {"Value": {"Ref": "Topic"}}},
    }
    cloudformation = boto3.client("cloudformation", **credentials)
    cloudformation.create_stack(StackName="ServerlessInference-iris", TemplateBody=json.dumps(template))
    topic = cloudformation.describe_stacks(StackName="ServerlessInference-iris")["Stacks"][0]["Outputs"][0]["OutputValue"]
    boto3.client("sns", **credentials).subscribe(TopicArn=topic, Protocol="email", Endpoint="oncall@example.com")
    confirmed = preflight(env, "-c", "alert_email=oncall@example.com")
    assert "alert e-mail: oncall@example.com confirmed" in confirmed.stdout, confirmed.stdout
    other = preflight(env, "-c", "alert_email=someone-else@example.com")
    assert "someone-else@example.com is subscribed by this deploy" in other.stdout


# --- one stack per model ------------------------------------------------------------------------------------------
def make_dry_run(*args: str) -> str:
    stamps = ["-o", ".venv/.installed-local", "-o", ".venv/.installed-dev"]
    env = {k: v for k, v in os.environ.items() if k not in ("STACK_NAME", "MODEL", "CONTEXT", "MAKEFLAGS")}
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", *stamps, f"BIN={Path(sys.executable).parent}", "deploy", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout


def deploy_line(dry_run: str) -> str:
    (line,) = [line for line in dry_run.splitlines() if "aws-cdk@2 deploy" in line]
    return line


def test_make_deploy_of_a_second_model_creates_a_second_stack() -> None:
    """`make deploy` then `make deploy MODEL=wine`: two stacks, the second never replaces the first."""
    iris, wine = deploy_line(make_dry_run()), deploy_line(make_dry_run("MODEL=wine"))
    assert " deploy ServerlessInference-iris " in iris and "-c stack_name=ServerlessInference-iris" in iris
    assert " deploy ServerlessInference-wine " in wine and "-c model=wine" in wine
    kept = deploy_line(make_dry_run("STACK_NAME=ServerlessInference"))  # an existing stack keeps its name
    assert " deploy ServerlessInference " in kept and "-c stack_name=ServerlessInference " in kept


def test_the_preflight_checks_the_options_the_deploy_gets() -> None:
    dry_run = make_dry_run("MODEL=wine", "CONTEXT=reserved_concurrency=true data_kms_key=true", "ALERT_EMAIL=a@example.com")
    (preflight_line,) = [line for line in dry_run.splitlines() if "deploy_preflight.py" in line]
    options = ["-c model=wine", "-c stack_name=ServerlessInference-wine", "-c reserved_concurrency=true", "-c alert_email="]
    for option in [*options, "-c data_kms_key=true"]:
        assert option in preflight_line and option in deploy_line(dry_run), option
    assert dry_run.index("deploy_preflight.py") < dry_run.index("aws-cdk@2 deploy")


def test_lake_formation_governing_new_databases_is_a_warning_with_the_grants(tmp_path: Path, endpoint: str) -> None:
    import boto3

    region = "sa-east-1"
    bootstrapped(endpoint, region)
    env = bare_env(tmp_path, **keys(endpoint, AWS_REGION=region))
    fresh = preflight(env)
    assert fresh.returncode == 0, fresh.stderr
    assert "ok   Lake Formation: new Glue databases use IAM permissions" in fresh.stdout
    lakeformation = boto3.client(
        "lakeformation", region_name=region, endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="x"
    )
    admin = {"DataLakePrincipalIdentifier": "arn:aws:iam::123456789012:role/admin"}
    lakeformation.put_data_lake_settings(
        DataLakeSettings={"DataLakeAdmins": [admin], "CreateDatabaseDefaultPermissions": [], "CreateTableDefaultPermissions": []}
    )
    governed = preflight(env)
    assert governed.returncode == 0, governed.stderr  # a warning: the deploy role may already be a data lake admin
    assert "warn Lake Formation: new Glue databases here are governed by Lake Formation" in governed.stdout
    assert "data lake administrator" in governed.stdout and "DESCRIBE and SELECT" in governed.stdout
