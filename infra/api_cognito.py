"""A Cognito user pool and app client for `api_auth=jwt` when no issuer is given: the JWTs the API accepts.

Callers are services, so the pool is admin-managed: no self sign-up, no e-mail flows. An operator creates one
user per calling service and the service exchanges its password for tokens (USER_PASSWORD_AUTH, no client
secret so the AWS CLI can do it); the README shows the three commands. The ID token's `aud` is the app client
id, which is what the HTTP API's JWT authorizer checks (and the REST Cognito authorizer accepts). Tokens live
one hour; the refresh token 30 days. Pricing: Cognito's Lite tier is free for the first 10,000 monthly active
users, so a handful of service users cost nothing.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from constructs import Construct

TOKEN_VALIDITY = Duration.hours(1)


class ApiUserPool(Construct):
    """User pool + one app client whose tokens the API accepts."""

    def __init__(self, scope: Construct, construct_id: str, *, model_name: str, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=f"{Stack.of(self).stack_name}-{model_name}-clients",
            self_sign_up_enabled=False,  # only an operator creates callers
            sign_in_aliases=cognito.SignInAliases(username=True),
            account_recovery=cognito.AccountRecovery.NONE,  # no e-mail or phone: services get a new password instead
            password_policy=cognito.PasswordPolicy(
                min_length=16,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
                temp_password_validity=Duration.days(1),
            ),
            mfa=cognito.Mfa.OFF,  # machine callers cannot answer a second factor; see infra/api_nag.py
            deletion_protection=removal_policy is RemovalPolicy.RETAIN,
            removal_policy=removal_policy,
        )
        self.client = self.user_pool.add_client(
            "ApiClient",
            user_pool_client_name=f"{model_name}-api",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_password=True),
            access_token_validity=TOKEN_VALIDITY,
            id_token_validity=TOKEN_VALIDITY,
            refresh_token_validity=Duration.days(30),
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            disable_o_auth=True,  # no hosted UI, no redirect flows: tokens come from InitiateAuth only
        )

    @property
    def issuer(self) -> str:
        stack = Stack.of(self)
        return f"https://cognito-idp.{stack.region}.amazonaws.com/{self.user_pool.user_pool_id}"
