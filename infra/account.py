"""Account-level API Gateway logging role: created by default, left alone with `-c api_gateway_account_role=false`.

API Gateway writes REST access and execution logs through one role per account and region
(`AWS::ApiGateway::Account`, a singleton); a stage with logging fails to deploy ("CloudWatch Logs role
ARN must be set in account settings") in an account that has none, which is every fresh account. So
the stack sets it (aws-cdk-lib's RestApi with `cloud_watch_role=True`), with the role retained on delete
so the account setting never points at a deleted role, and other stacks setting the same kind of role
(iris and wine side by side) do not break each other. An account whose role is managed elsewhere (a
platform stack) deploys with `-c api_gateway_account_role=false`; `make preflight` then checks that the
account has a role (`apigateway get-account`) before anything is built. `detach_account_role` removes
the account resource, and the DependsOn it leaves on the stage, after the API construct is built.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_apigateway as apigw
from constructs import IConstruct

ACCOUNT_CHILD = "Account"
ROLE_CHILD = "CloudWatchRole"


def detach_account_role(api: IConstruct) -> bool:
    """Remove the account-level logging role a RestApi created; True when there was one."""
    account = api.node.try_find_child(ACCOUNT_CHILD)
    if account is None:
        return False
    stack = Stack.of(api)
    account_id = stack.get_logical_id(account)  # type: ignore[arg-type]
    api.node.try_remove_child(ACCOUNT_CHILD)
    api.node.try_remove_child(ROLE_CHILD)
    stage = getattr(api, "deployment_stage", None)
    if isinstance(stage, apigw.Stage) and stage.node.default_child is not None:
        # The RestApi made its stage depend on the account resource (a construct-level dependency that CDK turns
        # into DependsOn only at synth, too late to remove). Call this after the stack is built: the stage's
        # DependsOn becomes the resource-level dependencies it has by then, without the removed account.
        cfn_stage: Any = stage.node.default_child
        kept = sorted({stack.get_logical_id(r) for r in cfn_stage.obtain_dependencies()} - {account_id})
        if kept:
            cfn_stage.add_override("DependsOn", kept)
        else:
            cfn_stage.add_deletion_override("DependsOn")
    return True
