"""The one configuration file, validated before anything runs.

Every field is documented in config/hookline.example.yaml. A broken file is a
ConfigError whose lines each name a field path, so nobody has to guess which of
forty feeds has the typo.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_CONFIG_PATH = Path("config/hookline.yaml")
CONFIG_ENV = "HOOKLINE_CONFIG"

Kind = Literal["publication", "event"]
Source = Literal["own", "partner"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
RequiredField = Literal["title", "link", "published", "summary", "event_start", "venue"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FEED_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# A plain shape check: SES verifies the address for real, and email-validator would
# pull dnspython into every cold start.
EmailStr = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]


class ConfigError(Exception):
    """The configuration cannot be used; `problems` holds one line per field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class ConfigNotFound(ConfigError):
    """No file at the config path: the commonest first mistake, so it gets its own sentence."""

    def sentence(self) -> str:
        return (
            f"no config file at {self.source}: pass --config FILE (or set {CONFIG_ENV}), or run from the "
            f"repository's root, where {DEFAULT_CONFIG_PATH} is"
        )


class _Model(BaseModel):
    # A misspelt key is the commonest config mistake; never ignore one silently.
    # defer_build: the schemas are built once, with Config's, when the first config is read,
    # rather than once per model at import and again inside Config's (~10 ms less per cold start).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Organisation(_Model):
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


class Account(_Model):
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


class BlueskyAccount(_Model):
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


class MastodonAccount(_Model):
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


class Accounts(_Model):
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


class Approver(_Model):
    name: str = Field(min_length=1)
    email: EmailStr

    @property
    def key(self) -> str:
        return self.email.lower()


class RuleSet(_Model):
    """What makes an entry significant. Terms match as a person reads them (hookline.poll.matching)."""

    include_categories: list[str] = Field(default_factory=list)
    include_keywords: list[str] = Field(default_factory=list)
    exclude_categories: list[str] = Field(default_factory=list)
    exclude_keywords: list[str] = Field(default_factory=list)
    max_age_days: float | None = Field(default=14, gt=0)
    require: list[RequiredField] = Field(default_factory=lambda: list[RequiredField](["title", "link"]))

    @field_validator("include_categories", "include_keywords", "exclude_categories", "exclude_keywords")
    @classmethod
    def _terms(cls, value: list[str]) -> list[str]:
        # A term with no letter or digit ("", "=", "--") would never match anything, silently.
        for written in value:
            if not re.search(r"[^\W_]", written.removeprefix("=")):
                raise ValueError(f"the term {written!r} has no letter or digit, so it could never match")
        return value


class FeedConfig(_Model):
    id: str = Field(description="stable short name; drafts and state are keyed by it")
    url: HttpUrl
    kind: Kind = "publication"
    source: Source = "own"
    partner: str | None = Field(default=None, description="partner organisation's name, for partner feeds")
    rules: str = "publications"
    template: str | None = None
    neutralise_mentions: bool = True

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not FEED_ID.match(value):
            raise ValueError("use lowercase letters, digits, '-' or '_' (at most 63 characters)")
        return value

    @field_validator("template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value)

    @model_validator(mode="after")
    def _partner_named(self) -> FeedConfig:
        if self.source == "partner" and not self.partner:
            raise ValueError("a partner feed needs 'partner', the partner organisation's name")
        return self


# The placeholders a template may use; anything else is a typo caught at load.
TEMPLATE_FIELDS = frozenset({"hook", "link", "partner", "org", "when", "venue", "hashtags"})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_HASHTAG = re.compile(r"^#\w*[^\W\d_]\w*$")


def check_template(template: str) -> str:
    """A post template: names only known placeholders and has {hook} and {link}."""
    unknown = sorted({f for f in _PLACEHOLDER.findall(template) if f not in TEMPLATE_FIELDS})
    if unknown:
        known = ", ".join("{" + f + "}" for f in sorted(TEMPLATE_FIELDS))
        raise ValueError(f"unknown placeholder {', '.join('{' + u + '}' for u in unknown)} (known: {known})")
    if "{link}" not in template:
        raise ValueError("a template must contain {link}: every post is hook + link")
    if "{hook}" not in template:
        raise ValueError("a template must contain {hook}: every post is hook + link")
    return template


class Templates(_Model):
    """One template per kind of entry and source; a feed's own `template` overrides these."""

    own_publication: str = "{hook} {link}"
    partner_publication: str = "From {partner}: {hook} {link}"
    own_event: str = "{hook}: {when}, {venue} {link}"
    partner_event: str = "From {partner}: {hook}, {when}, {venue} {link}"

    @field_validator("own_publication", "partner_publication", "own_event", "partner_event")
    @classmethod
    def _valid(cls, value: str) -> str:
        return check_template(value)

    def for_entry(self, kind: Kind, source: Source) -> str:
        return str(getattr(self, f"{source}_{kind}"))


class Utm(_Model):
    """Campaign tags on the organisation's own links (never on partners' links).

    `campaign` may use {feed} (the feed id) and {kind} (publication or event).
    """

    enabled: bool = True
    source: str = "x"
    medium: str = "social"
    campaign: str = "hookline"
    content: str | None = None

    @field_validator("campaign")
    @classmethod
    def _campaign_fields(cls, value: str) -> str:
        unknown = sorted({f for f in _PLACEHOLDER.findall(value) if f not in ("feed", "kind")})
        if unknown:
            raise ValueError(f"unknown placeholder {{{unknown[0]}}} (campaign may use {{feed}} and {{kind}})")
        return value


class Compose(_Model):
    templates: Templates = Field(default_factory=Templates)
    utm: Utm = Field(default_factory=Utm)
    hashtags: dict[str, str] = Field(
        default_factory=dict, description="category -> hashtag, added only while the post fits"
    )
    max_hashtags: int = Field(default=2, ge=0, le=5)
    strip_prefixes: list[str] = Field(
        default_factory=lambda: ["Press release:", "News release:", "News:", "Update:", "Blog:"]
    )
    # Titles that say nothing on their own: the summary's first sentence is used instead.
    weak_titles: list[str] = Field(
        default_factory=lambda: [
            "news",
            "update",
            "updates",
            "press release",
            "news release",
            "media release",
            "announcement",
            "blog",
            "blog post",
            "untitled",
            "event",
            "new event",
            "newsletter",
        ]
    )
    event_format: str = Field(default="%a %-d %b, %H:%M", description="strftime format for an event's start")
    date_format: str = Field(default="%a %-d %b", description="strftime format for an all-day event")
    time_format: str = Field(default="%H:%M", description="strftime format after 'today'/'tomorrow'")
    relative_days: bool = Field(
        default=True, description="say 'today'/'tomorrow' when the event is that close"
    )
    max_length: int = Field(default=280, ge=50, le=280)

    @field_validator("hashtags")
    @classmethod
    def _hashtags(cls, value: dict[str, str]) -> dict[str, str]:
        out = {}
        for category, tag in value.items():
            tag = tag.strip()
            tag = tag if tag.startswith("#") else "#" + tag
            if not _HASHTAG.match(tag):
                raise ValueError(
                    f"hashtag {tag!r} for category {category!r} is not one X recognises "
                    "(letters, digits and _ after '#', with at least one letter)"
                )
            out[category] = tag
        return out

    @field_validator("event_format", "date_format", "time_format")
    @classmethod
    def _strftime(cls, value: str) -> str:
        from datetime import datetime

        try:
            datetime(2026, 7, 3, 18, 0).strftime(value)  # noqa: DTZ001 - only the format is checked
        except ValueError as exc:
            raise ValueError(f"not a strftime format: {exc}") from None
        return value

    def hashtag_for(self, category: str) -> str | None:
        wanted = category.strip().casefold()
        return next((t for c, t in self.hashtags.items() if c.strip().casefold() == wanted), None)


def cents(usd: float) -> int:
    """Dollars as whole cents, the unit the table counts spend in."""
    return round(usd * 100)


class Window(_Model):
    """A weekly window (days, start, end) read in a timezone the caller names: the publish
    window, and the approvers' working hours for reminders."""

    days: list[Weekday] = Field(default_factory=lambda: list[Weekday](["mon", "tue", "wed", "thu", "fri"]))
    start: time = time(9, 0)
    end: time = time(17, 30)

    def contains(self, at: datetime, tz: ZoneInfo) -> bool:
        local = at.astimezone(tz)
        return WEEKDAYS[local.weekday()] in self.days and self.start <= local.time() < self.end

    def next_open(self, at: datetime, tz: ZoneInfo) -> datetime:
        """The first moment at or after `at` inside the window, in 15-minute steps, looking a
        week ahead at most (`at` itself when nothing opens in that time)."""
        if self.contains(at, tz):
            return at
        step = timedelta(minutes=15)
        probe = at - timedelta(minutes=at.minute % 15, seconds=at.second, microseconds=at.microsecond) + step
        end = at + timedelta(days=8)
        while probe < end:
            if self.contains(probe, tz):
                return probe
            probe += step
        return at

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError("window 'end' must be after 'start'")
        return self


class PublishWindow(Window):
    """When posts may go out; the timezone defaults to the organisation's."""

    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        return Organisation._known_timezone(value)


class Pacing(_Model):
    window: PublishWindow = Field(default_factory=PublishWindow)
    min_spacing_minutes: int = Field(default=60, ge=0)
    daily_cap: int = Field(
        default=4, ge=0, description="posts per day (the window's timezone); 0 posts nothing"
    )
    monthly_spend_cap_usd: float = Field(default=20.0, ge=0)
    price_per_post_usd: float = Field(default=0.20, ge=0, description="X's price for a post with a link")
    event_priority_hours: int = Field(default=48, ge=0)

    def tz(self, organisation: Organisation) -> ZoneInfo:
        return ZoneInfo(self.window.timezone) if self.window.timezone else organisation.tz


class Approval(_Model):
    reminder_after_hours: float = Field(default=4, gt=0)
    expire_after_days: float = Field(default=7, gt=0)
    link_valid_days: float = Field(default=7, gt=0)
    working_hours: Window = Field(default_factory=Window)


class Webhook(_Model):
    url: HttpUrl
    kind: Literal["slack", "teams"] = "slack"


class Notifications(_Model):
    email_sender: EmailStr | None = None
    sns: bool = True
    webhook: Webhook | None = None


class Polling(_Model):
    # Chosen by measurement (docs/benchmarks.md, "Polling 500 feeds"): feeds are fetched
    # by threads that mostly wait on the network.
    concurrency: int = Field(default=24, ge=1, le=128)
    connect_timeout_seconds: float = Field(default=5, gt=0)
    read_timeout_seconds: float = Field(default=10, gt=0)
    fetch_timeout_seconds: float = Field(
        default=20, gt=0, description="a whole fetch, however slowly the server sends"
    )
    max_bytes: int = Field(default=5_000_000, ge=10_000)
    max_redirects: int = Field(default=5, ge=0, le=20)
    max_new_entries: int = Field(
        default=20, ge=1, description="more new entries than this in one poll is held"
    )
    failure_alarm_after: int = Field(default=3, ge=1)
    initial_drafts: int = Field(
        default=0, ge=0, description="entries drafted on first sight of a feed (0: baseline only)"
    )
    skip_record_days: int = Field(default=30, ge=1)


class NoXAccount(AttributeError):
    """Code that posts to X asked for the X account, and the config has none."""


class Config(_Model):
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


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)


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
