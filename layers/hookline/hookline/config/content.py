"""What hookline drafts: the feeds, the rules that make an entry significant, and how a
post is composed (templates, campaign tags, hashtags, dates)."""

from __future__ import annotations

import re

from pydantic import Field, HttpUrl, field_validator, model_validator

from hookline.config.base import FEED_ID, ConfigModel, Kind, RequiredField, Source


class RuleSet(ConfigModel):
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


class FeedConfig(ConfigModel):
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


class Templates(ConfigModel):
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


NETWORK_NAMES = ("x", "bluesky", "mastodon")


def check_hashtags(value: dict[str, str]) -> dict[str, str]:
    """category -> hashtag, each written with its '#' and one X (and Bluesky, Mastodon) reads as a tag."""
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


class NetworkTemplates(ConfigModel):
    """A network's own templates; a kind left out uses the shared one (compose.templates)."""

    own_publication: str | None = None
    partner_publication: str | None = None
    own_event: str | None = None
    partner_event: str | None = None

    @field_validator("own_publication", "partner_publication", "own_event", "partner_event")
    @classmethod
    def _valid(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value)

    @property
    def written(self) -> list[str]:
        return [
            t
            for t in (self.own_publication, self.partner_publication, self.own_event, self.partner_event)
            if t
        ]


class NetworkCompose(ConfigModel):
    """What one network does differently; anything left out is the shared setting."""

    templates: NetworkTemplates = Field(default_factory=NetworkTemplates)
    hashtags: dict[str, str] | None = Field(default=None, description="replaces compose.hashtags here")
    max_hashtags: int | None = Field(default=None, ge=0, le=5, description="0: no hashtags on this network")

    @field_validator("hashtags")
    @classmethod
    def _hashtags(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else check_hashtags(value)


class Utm(ConfigModel):
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


class Compose(ConfigModel):
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
    # Per-network overrides (templates, hashtags); a network not named here uses the shared ones.
    networks: dict[str, NetworkCompose] = Field(default_factory=dict)

    @field_validator("hashtags")
    @classmethod
    def _hashtags(cls, value: dict[str, str]) -> dict[str, str]:
        return check_hashtags(value)

    @field_validator("networks", mode="before")
    @classmethod
    def _known_networks(cls, value: object) -> object:
        # Said here rather than as pydantic's key error: a typo'd network is named with the three choices.
        if isinstance(value, dict):
            unknown = sorted(str(k) for k in value if k not in NETWORK_NAMES)
            if unknown:
                raise ValueError(f"unknown network {unknown[0]!r} (use x, bluesky or mastodon)")
        return value

    @field_validator("event_format", "date_format", "time_format")
    @classmethod
    def _strftime(cls, value: str) -> str:
        from datetime import datetime

        try:
            datetime(2026, 7, 3, 18, 0).strftime(value)  # noqa: DTZ001 - only the format is checked
        except ValueError as exc:
            raise ValueError(f"not a strftime format: {exc}") from None
        return value

    def template_for(self, network: str, kind: Kind, source: Source) -> str:
        own = self.networks.get(network)
        written = getattr(own.templates, f"{source}_{kind}") if own else None
        return str(written) if written else self.templates.for_entry(kind, source)

    def hashtags_for(self, network: str) -> dict[str, str]:
        own = self.networks.get(network)
        return own.hashtags if own and own.hashtags is not None else self.hashtags

    def max_hashtags_for(self, network: str) -> int:
        own = self.networks.get(network)
        return own.max_hashtags if own and own.max_hashtags is not None else self.max_hashtags

    def hashtag_for(self, category: str, network: str = "x") -> str | None:
        wanted = category.strip().casefold()
        tags = self.hashtags_for(network)
        return next((t for c, t in tags.items() if c.strip().casefold() == wanted), None)

    @property
    def all_hashtags(self) -> list[str]:
        """Every hashtag the organisation configured, on any network."""
        return [
            *self.hashtags.values(),
            *(t for n in self.networks.values() for t in (n.hashtags or {}).values()),
        ]

    @property
    def all_templates(self) -> list[str]:
        """Every template the organisation wrote, shared or a network's own."""
        t = self.templates
        shared = [t.own_publication, t.partner_publication, t.own_event, t.partner_event]
        return [*shared, *(w for n in self.networks.values() for w in n.templates.written)]
