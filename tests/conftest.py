"""Shared fixtures: DynamoDB Local (real engine), a real local web server for feeds,
AWS and X intercepted at their HTTP transports, and an injected clock.

No test reaches the internet: pytest-socket (pyproject addopts) refuses every
connection that is not to the loopback address.
"""

from __future__ import annotations

import copy
import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
import yaml

from hookline.config import Config, parse_config
from hookline.store import Store
from local import dynamodb
from local.webserver import WebServer
from tests.support.aws import AwsFake, install
from tests.support.x import RECORDED_ME, XFake

# A Wednesday morning in the organisation's publish window. Feeds in tests are dated
# relative to this clock, so nothing goes stale as the calendar moves on.
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
CHROMIUM = "/usr/bin/chromium"
SIGNING_KEY = "test-signing-key-0123456789abcdef0123456789abcdef"
X_SECRET = "hookline/x-credentials"
X_CREDENTIALS = {
    "consumer_key": "ck-test",
    "consumer_secret": "cs-test-secret",
    "access_token": "at-test",
    "access_token_secret": "ats-test-secret",
}

# Never let a developer's real AWS settings leak into a test.
os.environ.update(
    {
        **dynamodb.LOCAL_ENV,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "hookline",
        "POWERTOOLS_SERVICE_NAME": "hookline",
        "POWERTOOLS_DEV": "false",
    }
)
os.environ.pop("AWS_PROFILE", None)


class Clock:
    """An injected clock: tests move time on explicitly."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def base_config_data() -> dict[str, Any]:
    return {
        "organisation": {
            "name": "Example Trust",
            "homepage": "https://www.example.org/",
            "timezone": "Europe/London",
            "own_domains": ["127.0.0.1"],
        },
        "account": {"handle": RECORDED_ME["username"], "user_id": RECORDED_ME["id"]},
        "approvers": [
            {"name": "Alex Morgan", "email": "alex@example.org"},
            {"name": "Sam Patel", "email": "sam@example.org"},
        ],
        "feeds": [{"id": "news", "url": "http://127.0.0.1:9/news.xml"}],
        "rule_sets": {
            "publications": {
                "include_categories": ["Report", "Research"],
                "include_keywords": ["report", "research"],
                "exclude_categories": ["Vacancies"],
                "exclude_keywords": ["minutes", "vacancy"],
                "max_age_days": 14,
            }
        },
        "notifications": {"email_sender": "hookline@example.org", "sns": True},
    }


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def make_config(**overrides: Any) -> Config:
    return parse_config(_merge(base_config_data(), overrides))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[dynamodb.DynamoDBLocal]:
    server = dynamodb.start()
    yield server
    server.stop()


@pytest.fixture
def table(dynamodb_local: dynamodb.DynamoDBLocal) -> Iterator[str]:
    name = dynamodb_local.create_table()
    yield name
    dynamodb_local.client().delete_table(TableName=name)


@pytest.fixture
def store(dynamodb_local: dynamodb.DynamoDBLocal, table: str, clock: Clock) -> Store:
    return Store(table, client=dynamodb_local.client(), clock=clock)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (a downloaded browser is not available)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the browser tests need Debian's chromium at {CHROMIUM} (make chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def web(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebServer]:
    # The server's linked pages are on loopback, which is what the flag is for: links from
    # feeds may reach them. Tests of the address guard itself unset it (see `guarded`).
    monkeypatch.setenv("HOOKLINE_ALLOW_PRIVATE_ADDRESSES", "true")
    server = WebServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pds() -> Iterator[Any]:
    """A real Bluesky PDS (the reference server's code) on 127.0.0.1, once per test session."""
    from tests.support import pds as local_pds

    server = local_pds.start()
    yield server
    server.stop()


@pytest.fixture
def guarded(monkeypatch: pytest.MonkeyPatch) -> None:
    """HOOKLINE_ALLOW_PRIVATE_ADDRESSES unset, as deployed: links at loopback are refused.
    List it after `web` (fixtures are set up in the order a test names them)."""
    monkeypatch.delenv("HOOKLINE_ALLOW_PRIVATE_ADDRESSES", raising=False)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> AwsFake:
    import json

    fake = AwsFake(secrets={X_SECRET: {"AWSCURRENT": json.dumps(X_CREDENTIALS)}})
    return install(monkeypatch, fake)


@pytest.fixture
def x_api() -> Iterator[XFake]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield XFake(mock)


HANDLERS = ("poll_feeds", "approvals", "publish")


@dataclass
class LambdaEnv:
    """The deployed functions' environment, pointed at DynamoDB Local and a config file."""

    config_path: Path
    table: str
    endpoint: str
    monkeypatch: pytest.MonkeyPatch

    def write_config(self, **overrides: Any) -> Config | None:
        """Write the functions' config file; returns it parsed, or None when it is (deliberately) broken."""
        from hookline.config import ConfigError

        data = _merge(base_config_data(), overrides)
        self.config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
        reset_handlers()
        try:
            return parse_config(data)
        except ConfigError:
            return None

    def handler(self, name: str) -> Any:
        return importlib.import_module(f"functions.{name}.app")

    def store(self, clock: Any = None) -> Store:
        import boto3

        return Store(
            self.table,
            client=boto3.client("dynamodb", endpoint_url=self.endpoint),
            **({"clock": clock} if clock else {}),
        )


def reset_handlers() -> None:
    from aws_lambda_powertools.utilities import parameters

    from hookline.settings import cached_config

    cached_config.cache_clear()
    parameters.clear_caches()
    for name in HANDLERS:
        module = importlib.import_module(f"functions.{name}.app")
        module.services.cache_clear()
        if hasattr(module, "poller"):
            module.poller.cache_clear()


@pytest.fixture
def lambda_env(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    dynamodb_local: dynamodb.DynamoDBLocal,
    table: str,
    aws: AwsFake,
) -> Iterator[LambdaEnv]:
    config_path = tmp_path / "hookline.yaml"
    env = {
        "HOOKLINE_TABLE": table,
        "HOOKLINE_CONFIG": str(config_path),
        "HOOKLINE_DYNAMODB_ENDPOINT": dynamodb_local.endpoint,
        "HOOKLINE_SIGNING_KEY": SIGNING_KEY,
        "HOOKLINE_BASE_URL": "https://approve.example.org",
        "HOOKLINE_APPROVERS_TOPIC": "arn:aws:sns:eu-west-2:000000000000:hookline-approvers",
        "HOOKLINE_X_SECRET": X_SECRET,
        "HOOKLINE_PUBLISHER": "x",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    lenv = LambdaEnv(config_path, table, dynamodb_local.endpoint, monkeypatch)
    lenv.write_config()
    yield lenv
    reset_handlers()
