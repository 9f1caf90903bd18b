"""Alerts: one encrypted, TLS-only SNS topic that every alarm and the monitor publish to.

The topic uses a customer-managed KMS key because CloudWatch alarms cannot publish
to a topic encrypted with the AWS-managed `alias/aws/sns` key (its key policy cannot
be extended to `cloudwatch.amazonaws.com`).

`enforce_ssl=True` gives the topic an `AWS::SNS::TopicPolicy`, and a topic policy
replaces SNS's default one: without an explicit Allow for `cloudwatch.amazonaws.com`
no alarm could publish ("not authorized to perform SNS:Publish"). Both that Allow and
the key policy's grant to CloudWatch carry the confused-deputy conditions AWS documents
for CloudWatch: `aws:SourceAccount` (this account) and `aws:SourceArn` like
`arn:<partition>:cloudwatch:<region>:<account>:alarm:<stack name>-*`, so only this
stack's alarms can publish; every alarm of the stack is named `<stack name>-...`
(`alarm_name_prefix`). Sources: AWS re:Post knowledge center "Why didn't I receive an SNS
notification for my CloudWatch alarm trigger?" (repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger:
the "not authorized to perform: SNS:Publish" error, and the Allow for `cloudwatch.amazonaws.com` narrowed
with `ArnLike aws:SourceArn` on alarm ARNs) and SNS "Enable compatibility between event sources from AWS
services and encrypted topics" (docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
"""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"
# What SNS needs from the key to accept a message for an encrypted topic on the publisher's behalf.
PUBLISHER_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")


def alarm_name_prefix(stack: Stack) -> str:
    """Every alarm of the stack is named with this prefix; the topic and key policies allow only those."""
    return f"{stack.stack_name}-"


def alarm_arn_pattern(stack: Stack) -> str:
    return f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:{alarm_name_prefix(stack)}*"


def alarm_source_conditions(stack: Stack) -> dict[str, dict[str, str]]:
    return {
        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": alarm_arn_pattern(stack)},
    }


class Alerts(Construct):
    """SNS topic + optional e-mail subscription + optional AWS Chatbot Slack channel."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alert_email: str | None = None,
        slack_workspace_id: str | None = None,
        slack_channel_id: str | None = None,
        display_name: str = "Serverless inference alerts",
    ) -> None:
        super().__init__(scope, construct_id)
        if bool(slack_workspace_id) != bool(slack_channel_id):
            raise ValueError("Slack alerts need both a workspace id and a channel id (or neither)")
        stack = Stack.of(self)

        self.key = kms.Key(
            self,
            "TopicKey",
            description=f"Encrypts the alert topic of {stack.stack_name}; usable by its CloudWatch alarms",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # Alarms publish through the CloudWatch service principal, which needs the key: only for this stack's alarms.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisStacksAlarmsToUseTheTopicKey",
                principals=[iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)],
                actions=list(PUBLISHER_KEY_ACTIONS),
                resources=["*"],  # in a key policy, "*" is this key
                conditions=alarm_source_conditions(stack),
            )
        )

        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=f"{stack.stack_name}-alerts",
            display_name=display_name,
            master_key=self.key,
            enforce_ssl=True,
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisStacksAlarmsToPublish",
                principals=[iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=alarm_source_conditions(stack),
            )
        )
        self.alarm_action = cw_actions.SnsAction(self.topic)

        if alert_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alert_email))

        self.slack_channel: chatbot.SlackChannelConfiguration | None = None
        if slack_workspace_id and slack_channel_id:
            self.slack_channel = chatbot.SlackChannelConfiguration(
                self,
                "SlackChannel",
                slack_channel_configuration_name=f"{stack.stack_name}-alerts",  # unique per account
                slack_workspace_id=slack_workspace_id,
                slack_channel_id=slack_channel_id,
                notification_topics=[self.topic],
                # Chat users may only read CloudWatch from Slack; notifications need no permissions at all.
                guardrail_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("CloudWatchReadOnlyAccess")],
            )

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """Publish rights on the topic, including its KMS key."""
        return self.topic.grant_publish(grantee)
