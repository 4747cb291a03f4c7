"""Environment settings of a running function, checked once at start.

template.yaml sets these; the local stack sets them too. A missing or malformed
variable stops the function before it does anything, with the variable named.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hookline.config import Config, ConfigError, load_config


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    table_name: str = Field(alias="HOOKLINE_TABLE", min_length=1)
    config_path: str = Field(alias="HOOKLINE_CONFIG", default="config/hookline.yaml")
    base_url: str = Field(
        alias="HOOKLINE_BASE_URL", default="", description="public URL of the approvals API"
    )
    signing_secret: str | None = Field(alias="HOOKLINE_SIGNING_SECRET", default=None)
    # Local stack and tests only: a literal key instead of a Secrets Manager name.
    signing_key: str | None = Field(alias="HOOKLINE_SIGNING_KEY", default=None)
    x_secret: str | None = Field(alias="HOOKLINE_X_SECRET", default=None)
    # Secrets Manager names of the Bluesky app password and the Mastodon token (template
    # parameters); unset, the names in the config's accounts are used.
    bluesky_secret: str | None = Field(alias="HOOKLINE_BLUESKY_SECRET", default=None)
    mastodon_secret: str | None = Field(alias="HOOKLINE_MASTODON_SECRET", default=None)
    approvers_topic: str | None = Field(alias="HOOKLINE_APPROVERS_TOPIC", default=None)
    alarm_topic: str | None = Field(alias="HOOKLINE_ALARM_TOPIC", default=None)
    # shadow: run everything for real but only log what would be posted.
    publisher: str = Field(alias="HOOKLINE_PUBLISHER", default="x", pattern=r"^(x|dry-run|shadow)$")
    # echo: print each approver's review link instead of sending email (the local stack).
    notifier: str = Field(alias="HOOKLINE_NOTIFIER", default="aws", pattern=r"^(aws|echo)$")
    lease_seconds: int = Field(alias="HOOKLINE_LEASE_SECONDS", default=300, ge=30)
    dynamodb_endpoint: str | None = Field(alias="HOOKLINE_DYNAMODB_ENDPOINT", default=None)
    # The poll function, which the approvals function invokes to draft a skipped entry by hand.
    poll_function: str | None = Field(alias="HOOKLINE_POLL_FUNCTION", default=None)
    # The local stack and tests only (they serve linked pages on loopback): lets links from
    # feeds reach loopback and private addresses. template.yaml never sets it; doctor warns.
    allow_private_addresses: bool = Field(alias="HOOKLINE_ALLOW_PRIVATE_ADDRESSES", default=False)


class SettingsError(Exception):
    pass


def read_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    try:
        return Settings.model_validate({k: v for k, v in env.items() if v != ""})
    except ValidationError as exc:
        problems = [f"{e['loc'][0]}: {e['msg']}" for e in exc.errors(include_url=False)]
        raise SettingsError("environment is not usable: " + "; ".join(problems)) from None


@lru_cache(maxsize=4)
def cached_config(path: str) -> Config:
    """The packaged config, loaded and validated once per container."""
    return load_config(path)


__all__ = ["ConfigError", "Settings", "SettingsError", "cached_config", "read_settings"]
