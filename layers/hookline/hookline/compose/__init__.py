"""Turn an entry into a post: hook (headline) + hyperlink, measured as X measures it.

Feed text is untrusted: it must never make the corporate account mention, tag or
speak for anyone, never smuggle invisible or direction-changing characters into a
post, and never push the link out of the post. Every post this module returns is
at most `compose.max_length` (280) as X counts it, by construction.

Two libraries do the Unicode work: twitter-text-parser (X's own counting rules and
URL extractor) and `regex` (UAX #29 grapheme clusters and word boundaries, with
Unicode data newer than the interpreter's). Both are imported on first use: they
cost ~200 ms and ~20 ms, which a cold start that never composes should not pay.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from hookline.compose.clean import (
    CLEAN_CAP,
    RAW_CAP,
    _trim_end,
    _unicode,
    clean_text,
    drop_links,
    repair_entities,
)
from hookline.compose.entities import (
    _PLACEHOLDER,
    allowed_entities,
    final_check,
    link_refusal,
    neutralise_entities,
    neutralise_hashtags,
    own_hashtags,
)
from hookline.compose.hooks import Hook, hook_text, make_hook
from hookline.compose.links import post_link
from hookline.compose.measure import (
    BLUESKY_GRAPHEMES,
    ELLIPSIS,
    MASTODON_CHARACTERS,
    MASTODON_URL_WEIGHT,
    ComposeError,
    bluesky_length,
    mastodon_length,
    url_spans,
    weighted_length,
)
from hookline.compose.when import describe_when, when_variants
from hookline.config import Config, FeedConfig, Kind
from hookline.models import Entry

# The compose room's door: what the other stages use, wherever in the room it lives.
__all__ = [
    "BLUESKY_GRAPHEMES",
    "CLEAN_CAP",
    "ELLIPSIS",
    "MASTODON_CHARACTERS",
    "MASTODON_URL_WEIGHT",
    "RAW_CAP",
    "VENUE_MAX",
    "ComposeError",
    "Composed",
    "Rule",
    "allowed_entities",
    "bluesky_length",
    "clean_text",
    "compose",
    "describe_when",
    "drop_links",
    "final_check",
    "hook_text",
    "link_refusal",
    "make_hook",
    "mastodon_length",
    "neutralise_entities",
    "neutralise_hashtags",
    "own_hashtags",
    "post_link",
    "render",
    "renditions",
    "repair_entities",
    "rules_for",
    "shorten",
    "url_spans",
    "weighted_length",
    "when_variants",
    "x_rule",
]


# A venue is "where", not a second headline: long addresses are shortened to this.
VENUE_MAX = 60


@dataclass(frozen=True)
class Composed:
    text: str
    weighted_length: int  # as its network counts it (X's weighted length for X)
    hook: str
    link: str
    when: str | None = None  # the event's when-phrase as written into `text`
    network: str = "x"
    limit: int = 280


@dataclass(frozen=True)
class Rule:
    """How one network counts a post, how long it may be, and the link's utm_source."""

    network: str
    limit: int
    measure: Callable[[str], int]
    utm_source: str | None = None  # None: compose.utm.source as configured (X's)


def x_rule(config: Config) -> Rule:
    return Rule("x", config.compose.max_length, weighted_length)


def rules_for(config: Config, mastodon_limits: tuple[int, int] | None = None) -> dict[str, Rule]:
    """Each configured network's rule, in posting order. Mastodon's limits are the server's
    (max_characters, URL weight) when known, else its defaults."""
    rules: dict[str, Rule] = {}
    for network in config.networks:
        if network == "x":
            rules[network] = x_rule(config)
        elif network == "bluesky":
            rules[network] = Rule("bluesky", BLUESKY_GRAPHEMES, bluesky_length, "bluesky")
        elif network == "mastodon":
            limit, weight = mastodon_limits or (MASTODON_CHARACTERS, MASTODON_URL_WEIGHT)
            rules[network] = Rule(
                "mastodon", limit, functools.partial(mastodon_length, url_weight=weight), "mastodon"
            )
    return rules


# -- X's weighted length and entities -----------------------------------------------------


# -- cleaning untrusted text ----------------------------------------------------------------


# -- links ---------------------------------------------------------------------------------


# -- events --------------------------------------------------------------------------------


# -- composing -----------------------------------------------------------------------------

# Before an optional field that is empty, this separator goes too: "{hook}: {when}".
_DANGLING = re.compile(r"(?:\s*[,;:–—-]|\s+(?:at|in|on|@))?\s*$")
_CLOSED = ".!?…:;,"
_LEADING_SEPARATOR = re.compile(r"^[\s,;:–—-]+")


def render(template: str, fields: dict[str, str]) -> str:
    """Fill a template; an empty optional field takes its separator with it."""
    out: list[str] = []
    last_value = ""
    pos = 0
    for m in _PLACEHOLDER.finditer(template):
        literal = template[pos : m.start()]
        value = fields.get(m.group(1), "")
        if not value:
            literal = _DANGLING.sub("", literal) if out or literal.strip() else literal
        if last_value and last_value[-1] in _CLOSED and literal[:1] in ",:;.":
            literal = literal[1:]  # "What next?: Tue" -> "What next? Tue"
        out.append(literal)
        out.append(value)
        if value:
            last_value = value
        elif literal.strip():
            last_value = literal.strip()
        pos = m.end()
    tail = template[pos:]
    if last_value and last_value[-1] in _CLOSED and tail[:1] in ",:;.":
        tail = tail[1:]
    out.append(tail)
    # An empty field at the very start leaves its separator behind: ": Tue 1 Dec" -> "Tue 1 Dec".
    return _LEADING_SEPARATOR.sub("", " ".join("".join(out).split()))


def _best_prefix(positions: list[int], hook: str, fits: Callable[[str], bool]) -> tuple[str, int]:
    """The longest hook[:i] + ellipsis, i from `positions` (ascending), that fits; and that i."""
    best, at = "", 0
    lo, hi = 0, len(positions) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        head = _trim_end(hook[: positions[mid]])
        if head and fits(head + ELLIPSIS):
            best, at = head + ELLIPSIS, positions[mid]
            lo = mid + 1
        else:
            hi = mid - 1
    return best, at


def shorten(hook: str, fits: Callable[[str], bool], *, cut: bool = False) -> str:
    """The longest start of `hook` that fits, ending at a word, with an ellipsis when shortened.

    Words end at spaces first; where a script has no spaces (Chinese, Japanese, Thai)
    or one word is longer than the room, at a Unicode word boundary (UAX #29); only
    then at any grapheme cluster. Never half a grapheme: a cut never splits an emoji,
    a flag or a letter from its accents.
    """
    if not cut and fits(hook):
        return hook
    spaces = [i for i, ch in enumerate(hook) if ch == " "]
    if cut:
        spaces.append(len(hook))
    by_space, at = _best_prefix(spaces, hook, fits)
    # A longer cut at a word boundary can only lie in the word after the space cut:
    # were it beyond the next space, that space would have fitted too.
    following = next((i for i in spaces if i > at), len(hook))
    u = _unicode()
    words = [m.start() for m in u.word_boundary.finditer(hook, at + 1, following)]
    by_word, _ = _best_prefix([w for w in words if at < w < following], hook, fits)
    # Spaces make the better cut unless the word boundary keeps much more (CJK, Thai).
    best = by_word if len(by_word) > len(by_space) + 15 or not by_space else by_space
    if best:
        return best
    ends = []
    position = 0
    for cluster in u.grapheme.findall(hook):
        position += len(cluster)
        ends.append(position)
    return _best_prefix(ends if cut else ends[:-1], hook, fits)[0]


def _hashtags(entry: Entry, config: Config, text: str, network: str) -> list[str]:
    tags: list[str] = []
    present = {t.casefold() for t in re.findall(r"#\w+", text)}
    for category in entry.categories:
        tag = config.compose.hashtag_for(category, network)
        if tag and tag.casefold() not in present and tag not in tags:
            tags.append(tag)
    return tags[: config.compose.max_hashtags_for(network)]


def _with_tags(template: str, fields: dict[str, str], hook: str, when: str, tags: list[str]) -> str:
    joined = " ".join(tags)
    if "{hashtags}" in template or not tags:
        return render(template, {**fields, "hook": hook, "when": when, "hashtags": joined})
    return render(template, {**fields, "hook": hook, "when": when}) + " " + joined


# -- the final check ----------------------------------------------------------------------


def _postable_hook(entry: Entry, feed: FeedConfig, config: Config) -> Hook:
    """The entry's hook, or ComposeError saying why the entry has nothing to post."""
    if not entry.link:
        raise ComposeError("the entry has no http(s) link")
    refusal = link_refusal(entry.link)
    if refusal:
        raise ComposeError(refusal)
    hook = make_hook(entry, feed, config)
    if hook.skip:
        raise ComposeError(hook.skip)
    if not hook.text:
        if not (entry.title.strip() or entry.summary.strip()):
            raise ComposeError("the entry has no title")
        raise ComposeError(
            "the title is empty once control characters, mentions and web addresses are removed"
        )
    return hook


def compose(
    entry: Entry,
    feed: FeedConfig,
    config: Config,
    now: datetime,
    *,
    template: str | None = None,
    rule: Rule | None = None,
) -> Composed:
    """The post for `entry`: at most `compose.max_length` as X counts, with its link intact;
    with `rule`, as that network counts and within its limit.

    Raises ComposeError (the reason the entry is skipped) when there is nothing to
    post: no title, nothing left of it once cleaned, or no link.
    """
    hook = _postable_hook(entry, feed, config)
    kind: Kind = "event" if entry.event or feed.kind == "event" else "publication"
    rule = rule or x_rule(config)
    measure = rule.measure
    link = post_link(entry.link, feed, config, kind, rule.utm_source)
    # A feed's own template says what its posts are on every network; a network's own
    # templates only replace the shared ones.
    chosen = template or feed.template or config.compose.template_for(rule.network, kind, feed.source)
    limit = rule.limit
    neutral = feed.neutralise_mentions
    fields = {
        # Config text is the organisation's own words (a partner's @handle there is meant).
        "partner": clean_text(feed.partner or "", neutralise=False),
        "org": clean_text(config.organisation.name, neutralise=False),
        "link": link,
        "when": "",
        "venue": "",
        "hashtags": "",
    }
    widest_when = when = ""
    if entry.event:
        when = describe_when(entry.event, config, now)
        widest_when = max(when_variants(entry.event, config, now), key=measure)
        venue, _ = hook_text(
            entry.event.venue or "", neutralise_mentions=neutral, prefixes=[], tags=own_hashtags(config)
        )
        fields["venue"] = shorten(venue, lambda v: weighted_length(v) <= VENUE_MAX) if venue else ""

    def text_for(h: str, when_text: str) -> str:
        return _with_tags(chosen, fields, h, when_text, [])

    def fits(h: str) -> bool:
        return measure(text_for(h, widest_when)) <= limit

    text_hook = shorten(hook.text, fits, cut=hook.cut)
    if not text_hook and fields["venue"]:
        fields["venue"] = ""  # "when" before "where": a post with no room for both drops the venue
        text_hook = shorten(hook.text, fits, cut=hook.cut)
    if not text_hook:
        raise ComposeError(
            f"the template and link leave no room for a headline (the link alone counts "
            f"{measure(link)} of {limit})"
        )
    tags: list[str] = []
    for tag in _hashtags(entry, config, text_for(text_hook, when), rule.network):
        if measure(_with_tags(chosen, fields, text_hook, widest_when, [*tags, tag])) <= limit:
            tags.append(tag)
    text = _with_tags(chosen, fields, text_hook, when, tags)
    length = measure(text)
    if length > limit or link not in text:  # pragma: no cover - guarded by construction above
        raise ComposeError(f"internal: the composed post does not fit ({length}) or lost its link")
    final_check(text, link=link, allowed=allowed_entities(config, feed))
    return Composed(
        text=text,
        weighted_length=length,
        hook=text_hook,
        link=link,
        when=when or None,
        network=rule.network,
        limit=limit,
    )


def renditions(
    entry: Entry,
    feed: FeedConfig,
    config: Config,
    now: datetime,
    *,
    mastodon_limits: tuple[int, int] | None = None,
) -> dict[str, Composed]:
    """One post per configured network, from the same entry, each by its network's rule.
    ComposeError when any cannot be made (the reasons that skip an entry hold for all)."""
    return {
        network: compose(entry, feed, config, now, rule=rule)
        for network, rule in rules_for(config, mastodon_limits).items()
    }
