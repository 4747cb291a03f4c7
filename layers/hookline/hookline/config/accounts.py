"""Who hookline speaks for: the organisation, its corporate accounts on each network, and
the approvers."""

from __future__ import annotations

from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, HttpUrl, field_validator, model_validator

from hookline.config.base import ConfigModel, EmailStr


class Organisation(ConfigModel):
    name: str = Field(min_length=1)
    homepage: HttpUrl
    timezone: str = "UTC"
    # Hosts whose links count as the organisation's own (UTM tags go only on these).
    own_domains: list[str] = Field(default_factory=list)
    # The posts' language (BCP 47): Bluesky's `langs`, Mastodon's `language`.
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown timezone {value!r} (use an IANA name such as 'Europe/London')"
            ) from exc
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Account(ConfigModel):
    """The corporate X account: the only account hookline will ever post to."""

    handle: str = Field(pattern=r"^@?[A-Za-z0-9_]{1,15}$")
    user_id: str = Field(pattern=r"^[0-9]{1,20}$", description="numeric X user id of the corporate account")

    @field_validator("user_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        # YAML reads an unquoted id as an int; the X API speaks strings.
        return str(value) if isinstance(value, int) else value

    @property
    def bare_handle(self) -> str:
        return self.handle.lstrip("@")


DOMAIN_HANDLE = (
    r"^@?([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"
)


class BlueskyAccount(ConfigModel):
    """The corporate Bluesky account: posts go to this DID's repository only."""

    handle: str = Field(pattern=DOMAIN_HANDLE, max_length=254, description="e.g. example-trust.bsky.social")
    did: str = Field(
        pattern=r"^did:(plc:[a-z2-7]{24}|web:[a-zA-Z0-9.%:-]+)$",
        description="the account's DID (did:plc:...): the guard compares the session's DID with it",
    )
    app_password_secret: str = Field(
        default="hookline/bluesky",
        pattern=r"^[A-Za-z0-9/_+=.@-]{1,512}$",
        description='Secrets Manager secret holding {"app_password": ...}',
    )
    # The account's PDS entryway; bsky.social for accounts made in the Bluesky app.
    service: HttpUrl = HttpUrl("https://bsky.social")

    @property
    def bare_handle(self) -> str:
        return self.handle.lstrip("@")


class MastodonAccount(ConfigModel):
    """The corporate Mastodon account on its server."""

    server: HttpUrl = Field(description="the server's base URL, e.g. https://mastodon.social")
    account_id: str = Field(pattern=r"^[0-9]{1,20}$", description="verify_credentials' id (quote it)")
    acct: str = Field(pattern=r"^@?[A-Za-z0-9_]{1,30}(@[A-Za-z0-9.-]+)?$", description="e.g. ExampleTrust")
    token_secret: str = Field(
        default="hookline/mastodon",
        pattern=r"^[A-Za-z0-9/_+=.@-]{1,512}$",
        description='Secrets Manager secret holding {"access_token": ...}',
    )
    visibility: Literal["public", "unlisted", "private"] = "public"

    @field_validator("account_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value

    @field_validator("server")
    @classmethod
    def _https(cls, value: HttpUrl) -> HttpUrl:
        if value.scheme != "https" and value.host not in ("127.0.0.1", "localhost"):
            raise ValueError("a Mastodon server is reached over https")
        return value

    @property
    def bare_acct(self) -> str:
        return self.acct.lstrip("@").split("@")[0]

    @property
    def base_url(self) -> str:
        return str(self.server).rstrip("/")


class Accounts(ConfigModel):
    """Every corporate account hookline posts to: any of them, at least one."""

    x: Account | None = None
    bluesky: BlueskyAccount | None = None
    mastodon: MastodonAccount | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> Accounts:
        if not self.configured:
            raise ValueError("configure at least one corporate account (x, bluesky or mastodon)")
        return self

    @property
    def configured(self) -> list[str]:
        """Network names in posting order (x, bluesky, mastodon), as the page and the demo list them."""
        return [name for name in ("x", "bluesky", "mastodon") if getattr(self, name) is not None]


class Approver(ConfigModel):
    name: str = Field(min_length=1)
    email: EmailStr

    @property
    def key(self) -> str:
        return self.email.lower()
