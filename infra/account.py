"""Account-level API Gateway logging role: created by this stack only when asked for.

API Gateway writes access and execution logs through one role per account and region
(`AWS::ApiGateway::Account`, a singleton). An application stack that owns it collides
with every other stack doing the same, and deleting it would break their logging, so by
default the stack leaves it alone: the account must already have the role (set once, by
an earlier deploy with `-c api_gateway_account_role=true`, by a platform stack, or with
`aws apigateway update-account`; see README "Deploy"). aws-cdk-lib's RestApi creates the
role whenever `cloud_watch_role=True`; `detach_account_role` removes it from the tree,
and the DependsOn it leaves on the stage, after the API construct is built.
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
