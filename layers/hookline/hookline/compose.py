"""Turn an entry into a post: hook (headline) + hyperlink, measured as X measures it.

Feed text is untrusted: it must never make the corporate account mention, tag or
speak for anyone, and must never push the link out of the post.
"""

from __future__ import annotations

import re
import sys
import types
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from hookline.config import Config, FeedConfig, Kind
from hookline.models import Entry, EventInfo

ELLIPSIS = "…"
GENERIC_TITLES = frozenset(
    {
        "news",
        "update",
        "updates",
        "press release",
        "news release",
        "announcement",
        "blog",
        "untitled",
        "event",
    }
)

# Characters feed text may not smuggle into a post: C0/C1 controls, bidi embeddings,
# overrides and isolates, zero-width joiners/spaces outside emoji, BOM, and
# invisible operators. ZWJ (U+200D) is kept only between emoji, where it belongs.
_INVISIBLE = re.compile(
    "[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b\u200c\u200e\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)
_STRAY_ZWJ = re.compile(
    r"(?<![\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F])\u200d|\u200d(?![\U0001F000-\U0001FAFF\u2600-\u27BF])"
)
_SPACE = re.compile(r"\s+")
_MENTION = re.compile(r"(?<![A-Za-z0-9_!#$%&*@＠])[@＠]+(?=[A-Za-z0-9_])")
_CASHTAG = re.compile(r"(?<![A-Za-z0-9_$])\$(?=[A-Za-z]{1,6}(?:[._][A-Za-z]{1,2})?\b)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'“‘(])")


@dataclass(frozen=True)
class Composed:
    text: str
    weighted_length: int
    hook: str
    link: str


class ComposeError(Exception):
    """The entry cannot become a post; the message is the reason it is skipped."""


# -- X's weighted length ---------------------------------------------------------------


@lru_cache(maxsize=1)
def _parse_tweet() -> Any:
    """Load twitter-text-parser without setuptools.

    It reads its emoji table through pkg_resources, which Python 3.12+ (and Lambda's
    python3.13 runtime) no longer ship and which costs ~140 ms to import where it
    exists. A module-sized stand-in for the one call it makes is enough.
    """
    from pathlib import Path

    def resource_string(module: str, name: str) -> bytes:
        # pkg_resources resolves a module name to the folder the module lives in.
        return (Path(sys.modules[module].__file__ or "").parent / name).read_bytes()

    had = sys.modules.get("pkg_resources")
    shim = types.ModuleType("pkg_resources")
    shim.resource_string = resource_string  # type: ignore[attr-defined]
    sys.modules["pkg_resources"] = shim
    try:
        from twitter_text import parse_tweet
    finally:
        if had is not None:
            sys.modules["pkg_resources"] = had
        else:
            del sys.modules["pkg_resources"]
    return parse_tweet


def weighted_length(text: str) -> int:
    """X's weighted length (v3 rules: URLs count 23, emoji and CJK count 2)."""
    return int(_parse_tweet()(text).weightedLength)


# -- cleaning untrusted text -------------------------------------------------------------


def clean_text(value: str, *, neutralise: bool = True) -> str:
    text = unicodedata.normalize("NFC", value)
    text = _INVISIBLE.sub("", text)
    text = _STRAY_ZWJ.sub("", text)
    # Any other format (Cf) or private-use character has no place in a headline.
    text = "".join(
        ch for ch in text if ch == "\u200d" or unicodedata.category(ch) not in ("Cf", "Co", "Cs", "Cn")
    )
    text = _SPACE.sub(" ", text).strip()
    if neutralise:
        text = _MENTION.sub("", text)
        text = _CASHTAG.sub("", text)
    return text


def _strip_prefixes(text: str, prefixes: list[str]) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in prefixes:
            if text.casefold().startswith(prefix.casefold()):
                text = text[len(prefix) :].lstrip(" -–—:|")
                changed = True
    return text


def is_weak_title(title: str) -> bool:
    words = title.split()
    return not words or len(words) <= 3 or title.casefold().strip(" .:!") in GENERIC_TITLES


def first_sentence(text: str) -> str:
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0].strip() if text else ""


def choose_hook(entry: Entry, feed: FeedConfig, config: Config) -> str:
    neutralise = feed.neutralise_mentions
    prefixes = config.compose.strip_prefixes
    title = _strip_prefixes(clean_text(entry.title, neutralise=neutralise), prefixes)
    if is_weak_title(title):
        sentence = _strip_prefixes(clean_text(first_sentence(entry.summary), neutralise=neutralise), prefixes)
        if sentence and len(sentence.split()) > len(title.split()):
            return sentence
    return title


# -- links -----------------------------------------------------------------------------


def post_link(link: str, feed: FeedConfig, config: Config) -> str:
    """The link as posted: UTM tags on the organisation's own pages only, existing query kept."""
    utm = config.compose.utm
    parts = urlsplit(link)
    if not utm.enabled or feed.source != "own" or (parts.hostname or "").lower() not in config.own_hosts():
        return link
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {k for k, _ in query}
    for key, value in (
        ("utm_source", utm.source),
        ("utm_medium", utm.medium),
        ("utm_campaign", utm.campaign),
    ):
        if key not in present and value:
            query.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(query)))


# -- events ----------------------------------------------------------------------------


def describe_when(event: EventInfo, config: Config, now: datetime) -> str:
    tz = config.organisation.tz
    start = event.start.astimezone(tz)
    today = now.astimezone(tz).date()
    fmt = config.compose.event_format
    if start.date() == today:
        when = f"today, {start:%H:%M}"
    elif start.date() == today + timedelta(days=1):
        when = f"tomorrow, {start:%H:%M}"
    else:
        when = start.strftime(fmt)
    if event.end:
        end = event.end.astimezone(tz)
        when += f"–{end:%H:%M}" if end.date() == start.date() else f" to {end.strftime(fmt)}"
    return when


# -- composing -------------------------------------------------------------------------


def _fill(template: str, fields: dict[str, str]) -> str:
    if not fields.get("venue"):
        template = re.sub(r"[,;]?\s*\{venue\}", "", template)
    if not fields.get("when"):
        template = re.sub(r"[:,;]?\s*\{when\}", "", template)
    text = template
    for name, value in fields.items():
        text = text.replace("{" + name + "}", value)
    return _SPACE.sub(" ", text).strip()


def _shorten(words: list[str], fits: Any) -> str:
    """The longest prefix of whole words (plus an ellipsis) that fits; never half a word."""
    lo, hi = 0, len(words)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(" ".join(words[:mid]).rstrip(",;:-–— ") + ELLIPSIS):
            lo = mid
        else:
            hi = mid - 1
    return (" ".join(words[:lo]).rstrip(",;:-–— ") + ELLIPSIS) if lo else ""


def compose(
    entry: Entry, feed: FeedConfig, config: Config, now: datetime, *, template: str | None = None
) -> Composed:
    hook = choose_hook(entry, feed, config)
    if not hook:
        raise ComposeError("the title is empty once control characters and mentions are removed")
    if not entry.link:
        raise ComposeError("the entry has no http(s) link")
    link = post_link(entry.link, feed, config)
    kind: Kind = "event" if entry.event else "publication"
    chosen = template or feed.template or config.compose.templates.for_entry(kind, feed.source)
    fields = {
        "partner": clean_text(feed.partner or "", neutralise=feed.neutralise_mentions),
        "org": config.organisation.name,
        "when": describe_when(entry.event, config, now) if entry.event else "",
        "venue": clean_text(entry.event.venue or "", neutralise=feed.neutralise_mentions)
        if entry.event
        else "",
        "link": link,
    }
    limit = config.compose.max_length

    def render(h: str) -> str:
        return _fill(chosen, {**fields, "hook": h})

    def fits(h: str) -> bool:
        return weighted_length(render(h)) <= limit

    if not fits(hook):
        if fields["venue"] and not fits(""):
            fields["venue"] = ""
        shortened = _shorten(hook.split(" "), fits)
        hook = shortened or _shorten_chars(hook, fits)
        if not hook:
            raise ComposeError("the template and link leave no room for a headline")
    text = render(hook)
    for category in entry.categories:
        tag = config.compose.hashtags.get(category)
        if tag and tag not in text and weighted_length(f"{text} {tag}") <= limit:
            text = f"{text} {tag}"
    return Composed(text=text, weighted_length=weighted_length(text), hook=hook, link=link)


def _shorten_chars(hook: str, fits: Any) -> str:
    """One enormous word: cut it at a character boundary that does not split a grapheme."""
    lo, hi = 0, len(hook)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(_grapheme_safe(hook[:mid]) + ELLIPSIS):
            lo = mid
        else:
            hi = mid - 1
    cut = _grapheme_safe(hook[:lo])
    return cut + ELLIPSIS if cut else ""


def _grapheme_safe(text: str) -> str:
    """Drop trailing code points that would leave half a grapheme (combining marks, ZWJ, modifiers)."""
    while text:
        last = text[-1]
        if last == "\u200d" or unicodedata.combining(last) or "\ufe00" <= last <= "\ufe0f":
            text = text[:-1]
            continue
        if "\U0001f3fb" <= last <= "\U0001f3ff":  # skin tone: keep with its base only
            break
        if len(text) >= 2 and text[-2] == "\u200d":
            text = text[:-2]
            continue
        # An odd run of regional indicators is half a flag.
        run = len(text) - len(text.rstrip("".join(chr(c) for c in range(0x1F1E6, 0x1F200))))
        if run % 2:
            text = text[:-1]
            continue
        break
    return text
