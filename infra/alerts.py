"""Alerts: one encrypted, TLS-only SNS topic that every alarm and the monitor publish to.

The topic uses a customer-managed KMS key because CloudWatch alarms cannot publish
to a topic encrypted with the AWS-managed `alias/aws/sns` key (its key policy cannot
be extended to `cloudwatch.amazonaws.com`).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


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

        self.key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts the inference alert topic; usable by CloudWatch alarms",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # Alarms publish through the CloudWatch service principal, which needs the key.
        self.key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")

        self.topic = sns.Topic(self, "Topic", display_name=display_name, master_key=self.key, enforce_ssl=True)
        self.alarm_action = cw_actions.SnsAction(self.topic)

        if alert_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alert_email))

        self.slack_channel: chatbot.SlackChannelConfiguration | None = None
        if slack_workspace_id and slack_channel_id:
            self.slack_channel = chatbot.SlackChannelConfiguration(
                self,
                "SlackChannel",
                slack_channel_configuration_name=f"{Stack.of(self).stack_name}-alerts",  # unique per account
                slack_workspace_id=slack_workspace_id,
                slack_channel_id=slack_channel_id,
                notification_topics=[self.topic],
                # Chat users may only read CloudWatch from Slack; notifications need no permissions at all.
                guardrail_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("CloudWatchReadOnlyAccess")],
            )

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """Publish rights on the topic, including its KMS key."""
        return self.topic.grant_publish(grantee)
