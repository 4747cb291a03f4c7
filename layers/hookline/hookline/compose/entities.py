"""What X would make of a post's text: its links, mentions, cashtags and hashtags; feed text may carry none of them but the entry's own link and what the organisation's words add."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from hookline.compose.measure import (
    ComposeError,
    url_spans,
)
from hookline.config import Config, FeedConfig

# X's mention and cashtag rules, as twitter-text defines them (validMentionOrList,
# endMentionMatch, validCashtag). twitter-text-parser only ships the URL and emoji
# extractors, so these few patterns are carried here and checked against X's
# conformance cases in the tests.
# a template field such as {hook}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_AT_SIGNS = "@＠"
_LATIN_ACCENTS = (
    "\xc0-\xd6\xd8-\xf6\xf8-\xff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b"
    "\u0263\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
_X_SPACES = "\t-\r \x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_X_PUNCT = r"!'#%&()*+,\\\-./:;<=>?@\[\]^_{|}~$"
_X_MENTION = re.compile(
    r"(^|[^a-zA-Z0-9_!#$%&*@＠]|(?:^|[^a-zA-Z0-9_+~.-])(?:rt|RT|rT|Rt):?)"
    r"([@＠])([a-zA-Z0-9_]{1,20})(/[a-zA-Z][a-zA-Z0-9_\-]{0,24})?"
)
_X_END_MENTION = re.compile(f"[{_AT_SIGNS}]|[{_LATIN_ACCENTS}]|://")
_X_CASHTAG = re.compile(
    rf"(^|[{_X_SPACES}])(\$)([a-z]{{1,6}}(?:[._][a-z]{{1,2}})?)(?=$|\s|[{_X_PUNCT}])", re.IGNORECASE
)
# What hookline removes is deliberately wider than X's published rules, so that a
# rule X widens later (it has: "$2010:HK") still finds nothing to parse:
# - an at sign after anything but a letter, digit or _ (X's exceptions such as "@a@b"
#   are not trusted), and after "RT", followed by a screen-name character;
# - a dollar sign where X wants one (start or space) followed by a letter, or by
#   digits and a colon. "$5m" and "$12.50" are prices and stay.
_MENTION_LIKE = re.compile(r"(?:(?<![A-Za-z0-9_])|(?<=[rR][tT])|(?<=[rR][tT]:))[@＠]+(?=[A-Za-z0-9_])")
_CASHTAG_LIKE = re.compile(rf"(?:^|(?<=[{_X_SPACES}]))\$+(?=[A-Za-z]|\d+:[A-Za-z])")


def _without_overlaps(entities: list[tuple[int, int, str, str]]) -> list[tuple[int, int, str, str]]:
    # As twitter-text's extractEntitiesWithIndices: sorted by start, an entity that
    # overlaps the one before it is dropped (so a mention inside a URL is no mention).
    kept: list[tuple[int, int, str, str]] = []
    for entity in sorted(entities):
        if kept and entity[0] < kept[-1][1]:
            continue
        kept.append(entity)
    return kept


@lru_cache(maxsize=1)
def _hashtag_patterns() -> tuple[Any, Any]:
    """X's validHashtag (and, wider, any sign that could start one), with `regex` for \\p{L}."""
    import regex

    word = r"[\p{L}\p{M}\p{Nd}_\u200c\u200d]"
    before = r"(?:^|(?<=[^&\p{L}\p{M}\p{Nd}_\u200c\u200d]))"
    valid = regex.compile(before + rf"([#＃])(?![\ufe0f\u20e3])({word}*[\p{{L}}\p{{M}}]{word}*)(?![#＃]|://)")
    like = regex.compile(before + rf"[#＃]+(?={word}*[\p{{L}}\p{{M}}])")
    return valid, like


def x_entities(text: str) -> list[tuple[int, int, str, str]]:
    """URLs, mentions, cashtags and hashtags as X would parse them: (start, end, kind, value)."""
    found = [(s, e, "url", u) for s, e, u in url_spans(text)]
    if "#" in text or "＃" in text:
        for m in _hashtag_patterns()[0].finditer(text):
            found.append((m.start(1), m.end(2), "hashtag", m.group(2)))
    if any(sign in text for sign in _AT_SIGNS):
        for m in _X_MENTION.finditer(text):
            if not _X_END_MENTION.match(text, m.end()):
                found.append((m.start(2), m.end(), "mention", m.group(3) + (m.group(4) or "")))
    if "$" in text:
        for m in _X_CASHTAG.finditer(text):
            found.append((m.start(2), m.end(3), "cashtag", m.group(3)))
    return _without_overlaps(found)


def x_mentions(text: str) -> list[str]:
    """Screen names (and lists) X would mention if `text` were posted."""
    return [value for _, _, kind, value in x_entities(text) if kind == "mention"]


def x_cashtags(text: str) -> list[str]:
    return [value for _, _, kind, value in x_entities(text) if kind == "cashtag"]


def x_hashtags(text: str) -> list[str]:
    return [value for _, _, kind, value in x_entities(text) if kind == "hashtag"]


def neutralise_hashtags(text: str, allowed: frozenset[str] = frozenset()) -> str:
    """Remove the # of a hashtag feed text would add, unless it is one of the organisation's
    own (`allowed`, casefolded, without the sign). Outside URLs only, as for mentions."""
    if "#" not in text and "＃" not in text:
        return text
    like = _hashtag_patterns()[1]
    word = re.compile(r"[^\W]+|[\u200c\u200d]+")
    while True:
        urls = [(s, e) for s, e, _ in url_spans(text)] if "." in text else []
        cut: set[int] = set()
        for m in like.finditer(text):
            if any(s <= m.start() < e for s, e in urls):
                continue
            tag = word.match(text, m.end())
            if tag and len(m.group(0)) == 1 and tag.group(0).casefold() in allowed:
                continue
            cut.update(range(m.start(), m.end()))
        if not cut:
            return text
        text = "".join(ch for i, ch in enumerate(text) if i not in cut)


def neutralise_entities(text: str) -> str:
    """Remove the @/＠/$ that would make X mention someone or tag a stock symbol.

    Inside a URL X parses no mention, so URLs are left alone. Removing a sign can
    create a new context (e.g. "@@name"), so this repeats until nothing is found.
    """
    while True:
        urls = [(s, e) for s, e, _ in url_spans(text)] if "." in text else []
        drop = [
            m.start()
            for pattern in (_MENTION_LIKE, _CASHTAG_LIKE)
            for m in pattern.finditer(text)
            if not any(s <= m.start() < e for s, e in urls)
        ]
        if not drop:
            return text
        cut = set()
        for start in drop:
            # A run such as "@@@" goes as a whole.
            end = start
            while end < len(text) and text[end] in "@＠$":
                cut.add(end)
                end += 1
        text = "".join(ch for i, ch in enumerate(text) if i not in cut)


# Characters that have no place in a web address's host part: a space or an @ there lets
# feed text out of the link ("http://@someone @partner-host/" posts a live @partner), and
# control or direction-changing characters make the approver read a different host.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def link_refusal(link: str) -> str | None:
    """Why a link cannot be posted (its host part is not a plain host), or None."""
    _, sep, rest = link.partition("://")
    if not sep:
        return None
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    shown = link[:120].encode("unicode_escape").decode("ascii")
    if not authority:
        why = "no host"
    elif "@" in authority or "＠" in authority:
        why = "a user name (@) before its host"
    elif any(ch.isspace() for ch in authority):
        why = "a space in its host"
    elif any(ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cf") for ch in authority):
        why = "control or direction-changing characters in its host"
    elif "\\" in authority or "%" in authority:
        why = "escaped characters in its host"
    else:
        return None
    return (
        f"the link {shown} has {why}; refused, because X could read part of it as a mention or a second link"
    )


def _unlinked_host(link: str) -> bool:
    import ipaddress

    try:
        host = urlsplit(link).hostname or ""
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# A fediverse mention, "@user@server.example": X's parser sees no mention in it, Mastodon links it.
_FEDIVERSE_MENTION = re.compile(r"(?<![\w@＠/])[@＠]([A-Za-z0-9_]+[@＠][A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


def _mentions(text: str) -> list[tuple[str, str]]:
    """Every (kind, value) that mentions, tags or cashtags on X or Mastodon, URLs left out."""
    found = [(kind, value) for _, _, kind, value in x_entities(text) if kind != "url"]
    urls = [(s, e) for s, e, _ in url_spans(text)] if "." in text else []
    for m in _FEDIVERSE_MENTION.finditer(text):
        if not any(s <= m.start() < e for s, e in urls):
            found.append(("mention", m.group(1).replace("＠", "@")))
    return found


@lru_cache(maxsize=64)
def _template_entities(words: tuple[str, ...]) -> frozenset[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for text in words:
        for kind, value in _mentions(_PLACEHOLDER.sub("  ", text)):
            found.add((kind, value.casefold()))
    return frozenset(found)


def allowed_entities(
    config: Config, feed: FeedConfig | None, partner: str | None = None
) -> frozenset[tuple[str, str]] | None:
    """The mentions, cashtags and hashtags the organisation's own words put into a post:
    its templates, its name, the partner's name and its hashtags. None when the feed is
    trusted with its own mentions (`neutralise_mentions: false`)."""
    if feed is not None and not feed.neutralise_mentions:
        return None
    words = [*config.compose.all_templates, config.organisation.name, *config.compose.all_hashtags]
    if feed is not None:
        words += [feed.template or "", feed.partner or ""]
    if partner:
        words.append(partner)
    return _template_entities(tuple(words))


def post_problems(text: str, *, link: str, allowed: frozenset[tuple[str, str]] | None) -> list[str]:
    """What is wrong with a post as X (or Mastodon) would read it: it must link once, to the entry's
    own link, and mention, cashtag or tag only what the organisation's own words added.

    Run on every composed post and again on the final text just before it is posted, so no
    path (an approver's edit, a when-phrase refreshed, a bug) posts what this refuses.
    A bare site name X also links ("Amazon.com" in a headline) is a name and is allowed; an
    address with a scheme, "www.", a path or a user name is a second link and is not.
    """
    problems = []
    refusal = link_refusal(link)
    if refusal:
        problems.append(refusal)
    entities = x_entities(text)
    own = [value for _, _, kind, value in entities if kind == "url" and value == link]
    if not own and text.count(link) == 1 and _unlinked_host(link):
        own = [link]  # X links no IP address or localhost (the local stack): the text is the link
    if len(own) != 1:
        problems.append(f"the post must link to {link[:200]} exactly once (it does {len(own)} times)")
    for _, _, kind, value in entities:
        if kind == "url":
            if value == link:
                continue
            lowered = value.lower()
            if "://" in lowered or lowered.startswith("www.") or any(ch in lowered for ch in "/?@#:"):
                problems.append(f"the post links to {value[:200]} as well as the entry's own link")
    if allowed is not None:
        for kind, value in _mentions(text):
            if (kind, value.casefold()) not in allowed:
                sign = {"mention": "@", "cashtag": "$", "hashtag": "#"}[kind]
                problems.append(
                    f"the post would carry the {kind} {sign}{value[:60]}, "
                    "which the organisation's template did not add"
                )
    return problems


def final_check(text: str, *, link: str, allowed: frozenset[tuple[str, str]] | None) -> None:
    """ComposeError (with every reason) unless the post passes `post_problems`."""
    problems = post_problems(text, link=link, allowed=allowed)
    if problems:
        raise ComposeError("; ".join(dict.fromkeys(problems)))


def own_hashtags(config: Config) -> frozenset[str]:
    """The organisation's hashtags (compose.hashtags), casefolded and without the sign."""
    return frozenset(tag.lstrip("#＃").casefold() for tag in config.compose.all_hashtags)
