"""`make acceptance` / `python -m acceptance`: settings from the environment (MODEL, KEEP, DRY_RUN, ACCEPTANCE_CONTEXT, AWS_*)."""

from __future__ import annotations

import argparse
import sys

from .aws import NoCredentialsError, new_session, preflight
from .config import ConfigError, RunConfig
from .runner import Runner
from .teardown import Teardown, TeardownRefused


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m acceptance", description="Deploy a throw-away stack, check it, tear it down."
    )
    parser.add_argument("--teardown", action="store_true", help="only tear down ACCEPTANCE_STACK_NAME (a KEEP=1 leftover)")
    parser.add_argument("--reuse", action="store_true", help="run the checks against the existing ACCEPTANCE_STACK_NAME")
    args = parser.parse_args(argv)
    try:
        config = RunConfig.from_env()
    except ConfigError as error:
        sys.stderr.write(f"acceptance: {error}\n")
        return 2
    session = new_session()
    if args.teardown:
        try:
            identity = preflight(session, config.region)
            from .aws import Clients

            report = Teardown(Clients(session, identity.region), config.stack_name).run()
        except (NoCredentialsError, TeardownRefused) as error:
            sys.stderr.write(f"acceptance: {error}\n")
            return 2
        return 0 if report.ok else 1
    return Runner(config, session, reuse=args.reuse).run()
