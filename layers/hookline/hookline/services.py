"""Wiring: build the store, signer, notifier and publisher from settings, once per container.

Secrets come from Secrets Manager through powertools' parameters utility, which
caches them, so a warm function does not call Secrets Manager on every request.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from hookline.clock import Clock, utc_now
from hookline.config import Config
from hookline.settings import Settings, cached_config

if TYPE_CHECKING:
    from hookline.approval.links import LinkSigner
    from hookline.approval.notify import Notifier
    from hookline.invoke import FunctionInvoker
    from hookline.poll.fetch import Fetcher
    from hookline.publish.networks.port import Network
    from hookline.publish.xapi import Poster
    from hookline.store import Store

SECRET_MAX_AGE = 300
# Libraries that log whole requests and responses at DEBUG: botocore (emails with personal
# review links, Secrets Manager values), urllib3, oauthlib (signed X requests). An operator
# may set a function's log level to DEBUG to troubleshoot (Lambda's ApplicationLogLevel sets
# the root logger); these must never follow it. tests/reliability/test_secrets_in_logs.py checks.
WIRE_LOGGERS = ("boto3", "botocore", "s3transfer", "urllib3", "requests_oauthlib", "oauthlib")


def quiet_wire_logs() -> None:
    for name in WIRE_LOGGERS:
        wire = logging.getLogger(name)
        if wire.level < logging.INFO:  # NOTSET (follow the root) or DEBUG
            wire.setLevel(logging.INFO)


quiet_wire_logs()


def _secret(name: str, stage: str | None = None) -> str | None:
    from aws_lambda_powertools.utilities import parameters

    try:
        if stage:
            # powertools caches by secret name alone, so another stage needs a provider of its own.
            value = _stage_provider(stage).get(name, max_age=SECRET_MAX_AGE, VersionStage=stage)
        else:
            value = _current_provider().get(name, max_age=SECRET_MAX_AGE)
    except parameters.exceptions.GetParameterError:
        if stage:  # AWSPREVIOUS does not exist until the first rotation
            return None
        raise
    if stage and not value:  # the stage does not exist (remembered for SECRET_MAX_AGE)
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _current_provider() -> Any:
    """powertools' own secrets provider (the one `parameters.get_secret` uses), built on a client
    from boto3's default session.

    Left to itself, each powertools provider makes a boto3 Session of its own, and each new
    session loads botocore's endpoint and service data again: about 0.1 s of CPU per provider on
    a cold start, the approver's first tap included. Clients of the default session (the store's
    DynamoDB client is one) share that data once it is loaded.
    """
    import boto3
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    if "secrets" not in DEFAULT_PROVIDERS:
        DEFAULT_PROVIDERS["secrets"] = parameters.SecretsProvider(boto3_client=boto3.client("secretsmanager"))
    return DEFAULT_PROVIDERS["secrets"]


def _stage_provider(stage: str) -> Any:
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    # Kept beside powertools' own providers, so parameters.clear_caches() clears it too.
    key = f"secrets:{stage}"
    if key not in DEFAULT_PROVIDERS:

        class StageProvider(parameters.SecretsProvider):
            def _get(self, name: str, **sdk_options: Any) -> str | bytes:
                try:
                    return super()._get(name, **sdk_options)
                except self.client.exceptions.ResourceNotFoundException:
                    # No such stage (AWSPREVIOUS before the first rotation): cache that answer too,
                    # rather than asking Secrets Manager again for every link signed or checked.
                    return ""

        # The same client as the current stage's: no second client, no second session.
        DEFAULT_PROVIDERS[key] = StageProvider(boto3_client=_current_provider().client)
    return DEFAULT_PROVIDERS[key]


def key_from(secret: str) -> str:
    try:
        data = json.loads(secret)
    except ValueError:
        return secret.strip()
    if isinstance(data, dict):
        return str(data.get("key") or "")
    return str(data)


def signing_keys(settings: Settings) -> list[str]:
    """Newest first: the current key signs, the previous one still verifies until its links expire."""
    if settings.signing_key:
        return [k for k in settings.signing_key.split(",") if k]
    if not settings.signing_secret:
        raise RuntimeError("HOOKLINE_SIGNING_SECRET is not set")
    keys = [key_from(_secret(settings.signing_secret) or "")]
    previous = _secret(settings.signing_secret, "AWSPREVIOUS")
    if previous:
        keys.append(key_from(previous))
    return [k for k in keys if k]


def x_credentials(settings: Settings) -> dict[str, str]:
    """The corporate account's OAuth 1.0a user tokens, from Secrets Manager (cached SECRET_MAX_AGE).

    A secret that exists but is not usable is a CredentialsError: publishing is held and the
    review page says why. Secrets Manager itself failing is left to raise (the run is retried).
    """
    from hookline.publish.networks.port import CredentialsError
    from hookline.publish.xapi import CREDENTIAL_FIELDS

    if not settings.x_secret:
        raise CredentialsError("HOOKLINE_X_SECRET is not set")
    try:
        data = json.loads(_secret(settings.x_secret) or "{}")
    except ValueError:
        raise CredentialsError(f"the X secret {settings.x_secret!r} is not a JSON object") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"the X secret {settings.x_secret!r} is not a JSON object")
    missing = [k for k in CREDENTIAL_FIELDS if not data.get(k)]
    if missing:
        raise CredentialsError(f"the X secret {settings.x_secret!r} lacks {', '.join(missing)}")
    return {k: str(data[k]) for k in CREDENTIAL_FIELDS}


def secret_field(name: str, key: str, network: str) -> str:
    """One field of a network's JSON secret (cached SECRET_MAX_AGE); CredentialsError if unusable."""
    from hookline.publish.networks.port import CredentialsError

    try:
        data = json.loads(_secret(name) or "{}")
    except ValueError:
        raise CredentialsError(f"the {network} secret {name!r} is not a JSON object") from None
    if not isinstance(data, dict) or not data.get(key):
        raise CredentialsError(f"the {network} secret {name!r} lacks {key}")
    return str(data[key])


@dataclass
class Services:
    settings: Settings
    clock: Clock = utc_now
    overrides: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def config(self) -> Config:
        return cached_config(self.settings.config_path)

    @cached_property
    def store(self) -> Store:
        if "store" in self.overrides:
            return self.overrides["store"]  # type: ignore[no-any-return]
        from hookline.store import Store, dynamodb_client

        client = dynamodb_client(self.settings.dynamodb_endpoint)
        return Store(self.settings.table_name, client=client, clock=self.clock)

    @property
    def signer(self) -> LinkSigner:
        # Not cached here: keys come through the parameters cache, so a rotation is seen
        # within SECRET_MAX_AGE without a redeploy.
        from hookline.approval.links import LinkSigner

        return LinkSigner(
            signing_keys(self.settings),
            timedelta(days=self.config.approval.link_valid_days),
            self.settings.base_url,
        )

    @cached_property
    def fetcher(self) -> Fetcher:
        if "fetcher" in self.overrides:
            return self.overrides["fetcher"]  # type: ignore[no-any-return]
        from hookline.poll.fetch import Fetcher
        from hookline.poll.netguard import Guard

        return Fetcher.for_polling(
            self.config.polling, guard=Guard(allow_private=self.settings.allow_private_addresses)
        )

    @cached_property
    def notifier(self) -> Notifier:
        if "notifier" in self.overrides:
            return self.overrides["notifier"]  # type: ignore[no-any-return]
        from hookline.approval.notify import EchoNotifier, Notifier

        if self.settings.notifier == "echo":
            return EchoNotifier(self.config, lambda: self.signer)  # type: ignore[return-value]
        return Notifier(self.config, self.store, lambda: self.signer, topic_arn=self.settings.approvers_topic)

    @cached_property
    def poll_invoker(self) -> FunctionInvoker | None:
        """The poll function, asynchronously (None: drafting skips by hand is not set up)."""
        if "poll_invoker" in self.overrides:
            return self.overrides["poll_invoker"]  # type: ignore[no-any-return]
        from hookline.invoke import FunctionInvoker

        return FunctionInvoker(self.settings.poll_function) if self.settings.poll_function else None

    @cached_property
    def networks(self) -> dict[str, Network]:
        """Every configured network but X (X is `poster`), each behind the publishing port."""
        if "networks" in self.overrides:
            return self.overrides["networks"]  # type: ignore[no-any-return]
        from hookline.publish.delivery import expected_account
        from hookline.publish.networks.dryrun import DryRunNetwork
        from hookline.publish.networks.port import Identity

        built: dict[str, Network] = {}
        accounts = self.config.accounts
        for name in self.config.networks:
            if name == "x":
                continue
            if self.settings.publisher in ("dry-run", "shadow"):
                expected, handle = expected_account(self.config, name)
                built[name] = DryRunNetwork(
                    name, Identity(expected, handle), shadow=self.settings.publisher == "shadow"
                )
            elif name == "bluesky" and accounts.bluesky:
                from hookline.poll.fetch import Fetcher, FetchLimits
                from hookline.poll.netguard import Guard
                from hookline.publish.networks.bluesky import THUMB_MAX_BYTES, BlueskyNetwork, TableSessions

                secret = self.settings.bluesky_secret or accounts.bluesky.app_password_secret
                built[name] = BlueskyNetwork(
                    accounts.bluesky,
                    lambda secret=secret: secret_field(secret, "app_password", "Bluesky"),  # type: ignore[misc]
                    TableSessions(self.store),
                    fetcher=Fetcher(
                        FetchLimits(
                            connect_timeout=3, read_timeout=4, total_timeout=6, max_bytes=THUMB_MAX_BYTES
                        ),
                        maxsize=2,
                        guard=Guard(allow_private=self.settings.allow_private_addresses),
                    ),
                    clock=self.clock,
                )
            elif name == "mastodon" and accounts.mastodon:
                from hookline.publish.networks.mastodon import MastodonNetwork

                secret = self.settings.mastodon_secret or accounts.mastodon.token_secret
                built[name] = MastodonNetwork(
                    accounts.mastodon,
                    lambda secret=secret: secret_field(secret, "access_token", "Mastodon"),  # type: ignore[misc]
                    clock=self.clock,
                )
        return built

    @cached_property
    def poster(self) -> Poster:
        if "poster" in self.overrides:
            return self.overrides["poster"]  # type: ignore[no-any-return]
        from hookline.publish.xapi import DryRunPoster, TweepyPoster

        if self.settings.publisher in ("dry-run", "shadow"):
            return DryRunPoster(self.config.account, shadow=self.settings.publisher == "shadow")
        return TweepyPoster(lambda: x_credentials(self.settings), self.config.account)
