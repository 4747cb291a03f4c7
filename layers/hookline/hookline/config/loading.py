"""The whole file: its root model, the older shape it still accepts, and reading it from
disk (YAML as people write it, JSON as deployed) into a Config or a ConfigError."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, model_validator

from hookline.config.accounts import Account, Accounts, Approver, Organisation
from hookline.config.base import ConfigError, ConfigModel, ConfigNotFound, default_config_path
from hookline.config.content import Compose, FeedConfig, RuleSet
from hookline.config.operations import Approval, Notifications, Pacing, Polling


class NoXAccount(AttributeError):
    """Code that posts to X asked for the X account, and the config has none."""


class Config(ConfigModel):
    organisation: Organisation
    accounts: Accounts
    approvers: Annotated[list[Approver], Field(min_length=1)]
    feeds: Annotated[list[FeedConfig], Field(min_length=1)]
    rule_sets: dict[str, RuleSet] = Field(default_factory=lambda: {"publications": RuleSet()})
    compose: Compose = Field(default_factory=Compose)
    pacing: Pacing = Field(default_factory=Pacing)
    approval: Approval = Field(default_factory=Approval)
    notifications: Notifications = Field(default_factory=Notifications)
    polling: Polling = Field(default_factory=Polling)

    @model_validator(mode="before")
    @classmethod
    def _single_account(cls, data: object) -> object:
        # Configs from before Bluesky and Mastodon name one X account as `account:`.
        if isinstance(data, dict) and "account" in data:
            if "accounts" in data:
                raise ValueError(
                    "account: both `account` and `accounts` are set; move `account:` under `accounts:` as `x:`"
                )
            data = {**data, "accounts": {"x": data["account"]}}
            del data["account"]
        elif isinstance(data, dict) and "accounts" not in data:
            raise ValueError(
                "accounts: missing; name the corporate accounts under `accounts:` (x, bluesky, mastodon)"
            )
        return data

    @property
    def account(self) -> Account:
        """The corporate X account (the X adapter's)."""
        if self.accounts.x is None:
            raise NoXAccount("no X account is configured (accounts.x)")
        return self.accounts.x

    @property
    def networks(self) -> list[str]:
        return self.accounts.configured

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        seen: set[str] = set()
        for feed in self.feeds:
            if feed.id in seen:
                raise ValueError(f"feed id {feed.id!r} is used twice")
            seen.add(feed.id)
            if feed.rules not in self.rule_sets:
                raise ValueError(
                    f"feed {feed.id!r} names rules {feed.rules!r}, which is not in rule_sets "
                    f"({', '.join(sorted(self.rule_sets)) or 'none defined'})"
                )
        emails = [a.key for a in self.approvers]
        if len(set(emails)) != len(emails):
            raise ValueError("an approver's email is listed twice")
        return self

    def feed(self, feed_id: str) -> FeedConfig | None:
        return next((f for f in self.feeds if f.id == feed_id), None)

    def approver(self, email: str) -> Approver | None:
        return next((a for a in self.approvers if a.key == email.lower()), None)

    @cached_property
    def own_hosts(self) -> frozenset[str]:
        # Cached: asked for every draft, and with hundreds of feeds the walk is not free.
        hosts = {h.lower() for h in self.organisation.own_domains}
        if self.organisation.homepage.host:
            hosts.add(self.organisation.homepage.host.lower())
        for feed in self.feeds:
            if feed.source == "own" and feed.url.host:
                hosts.add(feed.url.host.lower())
        return frozenset(hosts)


def _format_location(loc: Iterable[int | str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def problems_of(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors(include_url=False):
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{_format_location(err['loc'])}: {message}")
    return lines


def parse_config(data: object, source: str = "config") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(source, ["(top level): expected a mapping of settings"])
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, problems_of(exc)) from None


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate a config file: YAML as people write it, or the JSON `sam build` packages."""
    target = Path(path) if path else default_config_path()
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigNotFound(str(target), ["no such file"]) from None
    except OSError as exc:
        raise ConfigError(str(target), [f"cannot read the file: {exc.strerror or exc}"]) from None
    if target.suffix == ".json":
        # The deployed form: no YAML parser in the Lambda layer (3 MB and a slower cold start).
        import json

        try:
            return parse_config(json.loads(text), str(target))
        except ValueError as exc:
            raise ConfigError(str(target), [f"not valid JSON ({exc})"]) from None
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(str(target), [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]) from None
    return parse_config(data, str(target))
