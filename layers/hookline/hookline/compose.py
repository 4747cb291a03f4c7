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
import html
import re
import sys
import types
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from hookline.config import Config, FeedConfig, Kind
from hookline.models import Entry, EventInfo

ELLIPSIS = "…"
# Feed text beyond this is never needed (a post is 280 at most) and only costs time:
# RAW_CAP characters are cleaned (invisible characters may shrink them a lot), and
# CLEAN_CAP of what is left are composed, more than 280 can hold even of 7-code-point
# emoji sequences.
RAW_CAP = 3000
CLEAN_CAP = 1200
# A venue is "where", not a second headline: long addresses are shortened to this.
VENUE_MAX = 60
# Combining marks kept on one character: enough for Vietnamese or Tibetan stacks,
# not for "Zalgo" text that spills over the lines around it.
MAX_MARKS = 4
ZWJ = "\u200d"
ZWNJ = "\u200c"
BLACK_FLAG = "\U0001f3f4"  # base of the England/Scotland/Wales tag sequences


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


BLUESKY_GRAPHEMES = 300
BLUESKY_BYTES = 3000
MASTODON_CHARACTERS = 500
MASTODON_URL_WEIGHT = 23


def graphemes(text: str) -> int:
    import regex

    return len(regex.findall(r"\X", text))


def bluesky_length(text: str) -> int:
    """Bluesky counts graphemes, the whole URL included (the app shortens it, the limit does not);
    past 3000 UTF-8 bytes it refuses the post whatever the count."""
    count = graphemes(text)
    return count if len(text.encode("utf-8")) <= BLUESKY_BYTES else BLUESKY_GRAPHEMES + 1


def mastodon_length(text: str, url_weight: int = MASTODON_URL_WEIGHT) -> int:
    """Mastodon counts graphemes, and every URL as `url_weight` (the server's own setting)."""
    spans = [(a, b) for a, b, url in url_spans(text) if "://" in url]
    total, at = 0, 0
    for start, end in spans:
        total += graphemes(text[at:start]) + url_weight
        at = end
    return total + graphemes(text[at:])


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


class ComposeError(Exception):
    """The entry cannot become a post; the message is the reason it is skipped."""


# -- X's weighted length and entities -----------------------------------------------------


@lru_cache(maxsize=1)
def _twitter_text() -> Any:
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
        import twitter_text
    finally:
        if had is not None:
            sys.modules["pkg_resources"] = had
        else:
            del sys.modules["pkg_resources"]
    return twitter_text


def _parse_tweet() -> Any:
    return _twitter_text().parse_tweet


def weighted_length(text: str) -> int:
    """X's weighted length (v3 rules: URLs count 23, emoji and CJK count 2)."""
    return int(_parse_tweet()(text).weightedLength)


def url_spans(text: str) -> list[tuple[int, int, str]]:
    """The URLs X would link in `text` (with or without a scheme), as (start, end, url)."""
    return [
        (u["indices"][0], u["indices"][1], u["url"]) for u in _twitter_text().extract_urls_with_indices(text)
    ]


# X's mention and cashtag rules, as twitter-text defines them (validMentionOrList,
# endMentionMatch, validCashtag). twitter-text-parser only ships the URL and emoji
# extractors, so these few patterns are carried here and checked against X's
# conformance cases in the tests.
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


# -- cleaning untrusted text ----------------------------------------------------------------


class _Unicode:
    """The `regex` patterns the cleaner needs, compiled once on first use."""

    def __init__(self) -> None:
        import regex

        self.grapheme = regex.compile(r"\X")
        self.space_like = regex.compile(r"[\p{Zs}\p{Zl}\p{Zp}\t\n\v\f\r\x1c-\x1f\x85\u2800]+")
        self.emoji = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}]")
        self.variation = regex.compile(r"[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
        self.tag = regex.compile(r"[\U000e0020-\U000e007f]")
        self.mark = regex.compile(r"\p{M}")
        self.drop = regex.compile(r"[\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Cn}\p{Default_Ignorable_Code_Point}]")
        # Scripts that need ZWJ/ZWNJ to be spelt right (Persian, Hindi, Sinhala...).
        self.joining = regex.compile(
            r"[[\p{L}\p{M}]--[\p{Script=Latin}\p{Script=Common}\p{Script=Inherited}]]", regex.V1
        )
        self.loose_joiner = regex.compile(r"[\u200c\u200d](?![\p{L}\p{M}\p{Extended_Pictographic}])")
        self.leading_marks = regex.compile(r"^[\p{M}\s]+")
        self.word_boundary = regex.compile(r"\b", regex.WORD)


@lru_cache(maxsize=1)
def _unicode() -> _Unicode:
    return _Unicode()


def _clean_cluster(cluster: str, u: _Unicode) -> str:
    if len(cluster) == 1:
        # A lone mark has nothing to sit on (it would float over whatever came before).
        return "" if u.drop.match(cluster) or u.mark.match(cluster) else cluster
    emoji = u.emoji.search(cluster) is not None
    kept: list[str] = []
    marks = 0
    for ch in cluster:
        prev = kept[-1] if kept else ""
        if ch == ZWJ:
            keep = bool(prev) and prev != ZWJ and (emoji or bool(u.joining.match(prev)))
        elif ch == ZWNJ:
            keep = bool(prev) and bool(u.joining.match(prev))
        elif u.variation.match(ch):
            # One selector per character: emoji style, or a CJK ideographic variant. A run
            # of them carries hidden data ("emoji smuggling"), not a glyph.
            keep = bool(prev) and not u.variation.match(prev) and prev not in (ZWJ, ZWNJ)
        elif u.tag.match(ch):
            keep = emoji and cluster[0] == BLACK_FLAG
        elif u.drop.match(ch):
            keep = False
        elif u.mark.match(ch):
            marks += 1
            keep = bool(kept) and not kept[0].isspace() and marks <= MAX_MARKS
        else:
            keep = True
        if keep:
            kept.append(ch)
    return "".join(kept)


def strip_invisible(text: str) -> str:
    """Drop control, format, bidi, zero-width, private-use and unassigned characters.

    Kept where they belong: ZWJ inside emoji sequences (👩‍💻) and between letters
    of scripts that need it, ZWNJ between such letters (Persian, Hindi), one
    variation selector after a character, tag characters inside a subdivision flag.
    Line breaks, tabs and unusual spaces become plain spaces.
    """
    u = _unicode()
    text = u.space_like.sub(" ", text)
    text = "".join(_clean_cluster(cluster, u) for cluster in u.grapheme.findall(text))
    return u.loose_joiner.sub("", text)


def clean_text(value: str, *, neutralise: bool = True) -> str:
    """Untrusted text made safe to post: NFC, invisible characters gone, spaces collapsed.

    With `neutralise`, @mentions and $cashtags lose their sign ("@name" -> "name").
    """
    text = strip_invisible(unicodedata.normalize("NFC", value))
    text = _unicode().leading_marks.sub("", " ".join(text.split()))
    if neutralise:
        text = " ".join(neutralise_entities(text).split())
    return text


# Only well-formed references: html.unescape alone would also turn "&copy=2" in a
# query string into "©=2".
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def decode_entities(text: str) -> str:
    """HTML character references a feed left encoded (often twice: "&amp;amp;")."""
    for _ in range(3):
        decoded = _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
        if decoded == text:
            break
        text = decoded
    return text


# A reference that lost its "&" on the way ("amet#8230;", "#039;s"), or one that cannot be
# decoded: repaired when it names a character, removed otherwise, never posted as it is.
_LOST_AMPERSAND = re.compile(r"(?<!&)#(?:([0-9]{2,7})|[xX]([0-9a-fA-F]{2,6}));")
_UNDECODED = re.compile(r"&#?[A-Za-z0-9]{1,32};")


def repair_entities(text: str) -> str:
    """Decode references, including ones a feed broke, and drop what still is not text."""

    def lost(m: re.Match[str]) -> str:
        code = int(m.group(1)) if m.group(1) else int(m.group(2), 16)
        try:
            char = chr(code)
        except (ValueError, OverflowError):
            return ""
        return char if char.isprintable() and not 0xD800 <= code <= 0xDFFF else ""

    text = _LOST_AMPERSAND.sub(lost, decode_entities(text))
    return _UNDECODED.sub("", text)


_LEADS_TO_LINK = re.compile(r"(?:\b(?:at|via|see|on|from|here)\b\s*:?\s*)$", re.IGNORECASE)


def drop_links(text: str) -> str:
    """Web addresses written into a headline are removed: the post's one link is the entry's.

    A bare site name that X would also link ("GOV.UK", "Amazon.com") is a name in a
    headline and stays; one with a scheme, "www." or a path is a link and goes.
    """
    if "." not in text:
        return text
    spans = url_spans(text)
    removed = False
    for start, end, url in reversed(spans):
        lowered = url.lower()
        has_path = "/" in lowered.split("://", 1)[-1] or "?" in lowered
        if "://" in lowered or lowered.startswith("www.") or has_path:
            # "Read it at <address> now" -> "Read it now"; "(<address>)" -> "".
            head = _LEADS_TO_LINK.sub("", text[:start])
            tail = text[end:]
            if head.endswith(("(", "[")) and tail.lstrip().startswith((")", "]")):
                head, tail = head[:-1], tail.lstrip()[1:]
            text = head + " " + tail
            removed = True
    if removed:
        text = " ".join(text.split())
        # "Read the report at" reads badly once the address has gone.
        text = re.sub(r"(?:\s*[:\-–—(]\s*|\s+)(?:at|via|see|here|on|from)?\s*[:\-–—(]*\s*$", "", text)
        text = re.sub(r"\(\s*\)", "", text).strip()
    return text


def _strip_prefixes(text: str, prefixes: list[str]) -> str:
    changed = True
    while changed and text:
        changed = False
        for prefix in prefixes:
            head = prefix.strip()
            if not head or not text.casefold().startswith(head.casefold()):
                continue
            rest = text[len(head) :]
            # "News:" strips "News: Report", never "Newsletter".
            if rest and rest[0].isalnum() and head[-1].isalnum():
                continue
            text = rest.lstrip(" -–—:|·•")
            changed = True
    return text


def is_weak_title(title: str, weak: list[str] | None = None) -> bool:
    """Empty, three words or fewer, or a generic label that says nothing on its own."""
    words = title.split()
    generic = {w.casefold() for w in (weak or [])}
    return not words or len(words) <= 3 or title.casefold().strip(" .:!-–—") in generic


# fmt: off
_ABBREVIATIONS = frozenset((
    "mr", "mrs", "ms", "dr", "prof", "rev", "st", "no", "nos", "fig", "figs", "vol", "vols",
    "approx", "etc", "vs", "inc", "ltd", "co", "corp", "dept", "est", "jan", "feb", "mar", "apr",
    "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "e.g", "i.e", "cf", "al",
))
# fmt: on
_SENTENCE_END = re.compile(r"([.!?…]+)([\"'”’)\]]*)(\s+)|([。！？]+)")


def first_sentence(text: str) -> str:
    """The first sentence; "Dr. Smith", "e.g. this" and initials do not end one."""
    text = text.strip()
    for m in _SENTENCE_END.finditer(text):
        if m.group(4):
            return text[: m.end()].strip()
        before = text[: m.start()].split()
        word = before[-1].casefold().rstrip(".") if before else ""
        after = text[m.end() : m.end() + 1]
        if m.group(1) == "." and (word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())):
            continue
        if after and (after.isupper() or after.isdigit() or after in "\"'“‘(["):
            return text[: m.end(2) if m.group(2) else m.end(1)].strip()
    return text


def _capped(value: str) -> tuple[str, bool]:
    """At most RAW_CAP characters, cut back to a space; True when something was cut."""
    if len(value) <= RAW_CAP:
        return value, False
    head = value[:RAW_CAP]
    space = head.rfind(" ")
    return (head[:space] if space > 0 else head), True


@dataclass(frozen=True)
class Hook:
    text: str
    cut: bool = False  # the source was longer than RAW_CAP: an ellipsis is owed
    skip: str | None = None  # why there is no headline, for the skip record


def _clipped(text: str) -> tuple[str, bool]:
    """At most CLEAN_CAP characters, ending at a space (else a grapheme); True when clipped."""
    if len(text) <= CLEAN_CAP:
        return text, False
    head = text[:CLEAN_CAP]
    space = head.rfind(" ")
    if space > 0:
        return head[:space], True
    end = 0
    for cluster in _unicode().grapheme.findall(text[: CLEAN_CAP + 64]):
        if end + len(cluster) > CLEAN_CAP:
            break
        end += len(cluster)
    return text[:end], True


# Markup a feed encoded twice ("&lt;b&gt;") surfaces as tags once decoded. Only
# tag-shaped text goes: "growth <5%" or "a < b > c" stays.
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>")


def hook_text(
    value: str, *, neutralise_mentions: bool, prefixes: list[str], tags: frozenset[str] = frozenset()
) -> tuple[str, bool]:
    raw, cut = _capped(value)
    decoded = _TAG.sub(" ", repair_entities(raw))
    text, clipped = _clipped(clean_text(decoded, neutralise=False))
    cut = cut or clipped
    text = drop_links(text)
    if neutralise_mentions:
        text = " ".join(neutralise_hashtags(neutralise_entities(text), tags).split())
    return _strip_prefixes(text, prefixes), cut


# A summary-derived hook is a headline, not a paragraph: its first sentence or clause, at
# most this long (cut back to a clause break or a word).
HOOK_FROM_SUMMARY_MAX = 150
_CLAUSE_BREAK = re.compile(r"\s*(?:[;:–—]|\s-\s|,)\s+")
# A title this short ("i", "Q3") says nothing alone.
TOO_SHORT = 2


def _headline_problem(text: str) -> str | None:
    """Why `text` does not read like a headline (None when it does): lists of names or
    amounts, tables, numbers. Reasons are written for the skip record."""
    words = text.split()
    if len(words) < 3:
        return "it has fewer than three words"
    visible = [ch for ch in text if not ch.isspace()]
    letters = sum(ch.isalpha() for ch in visible)
    if letters < 0.6 * len(visible):
        return "it is mostly numbers or symbols (a table?)"
    if re.search(r"[|+]\s*[-=]{3,}|[-=]{4,}|(?:\|[^|]*){3,}", text):
        return "it looks like a table"
    segments = [seg for seg in re.split(r"\s*[,;|·•]\s*|\s+(?:and|&)\s+", text) if seg.strip()]
    if len(segments) >= 4:
        sizes = sorted(len(seg.split()) for seg in segments)
        short = sizes[len(sizes) // 2] <= 3
        capitalised = sum(
            all(w[:1].isupper() or not w[:1].isalpha() for w in seg.split()) for seg in segments
        )
        amounts = sum(bool(re.search(r"[£$€¥]\s?\d|\d+(?:[.,]\d+)?\s?(?:%|k\b)", seg)) for seg in segments)
        if short and capitalised >= 0.75 * len(segments):
            return "it reads like a list of names"
        if short and amounts >= 0.5 * len(segments):
            return "it reads like a list of amounts"
    return None


def headline_from(sentence: str) -> str:
    """The first sentence as a headline: at most HOOK_FROM_SUMMARY_MAX characters, ending
    at the last clause break that keeps most of it, else at a word with an ellipsis."""
    if sentence.endswith(".") and not sentence.endswith(".."):
        sentence = sentence[:-1]  # a headline has no full stop
    if len(sentence) <= HOOK_FROM_SUMMARY_MAX:
        return sentence
    head = sentence[: HOOK_FROM_SUMMARY_MAX + 1]
    breaks = [m.start() for m in _CLAUSE_BREAK.finditer(head) if m.start() >= 60]
    if breaks:
        return _trim_end(sentence[: breaks[-1]])
    space = head.rfind(" ")
    return _trim_end(head[: space if space > 40 else HOOK_FROM_SUMMARY_MAX]) + ELLIPSIS


def make_hook(entry: Entry, feed: FeedConfig, config: Config) -> Hook:
    compose = config.compose
    tags = own_hashtags(config)
    title, cut = hook_text(
        entry.title, neutralise_mentions=feed.neutralise_mentions, prefixes=compose.strip_prefixes, tags=tags
    )
    too_short = 0 < sum(not ch.isspace() for ch in title) <= TOO_SHORT
    if not (is_weak_title(title, compose.weak_titles) or too_short):
        return Hook(title, cut=cut)
    problem = "it is empty" if not entry.summary.strip() else None
    if entry.summary.strip():
        raw, _ = _capped(entry.summary)
        sentence = first_sentence(clean_text(repair_entities(raw), neutralise=False))
        sentence, _ = hook_text(
            sentence, neutralise_mentions=feed.neutralise_mentions, prefixes=compose.strip_prefixes, tags=tags
        )
        problem = _headline_problem(sentence)
        if problem is None and len(sentence.split()) > len(title.split()):
            return Hook(headline_from(sentence))
    if too_short or (not title and entry.summary.strip()):
        shown = f"the title {title!r} is too short to be a headline" if title else "the entry has no title"
        return Hook("", skip=f"{shown}, and the summary is no headline either ({problem or 'too short'})")
    return Hook(title, cut=cut)


def choose_hook(entry: Entry, feed: FeedConfig, config: Config) -> str:
    return make_hook(entry, feed, config).text


# -- links ---------------------------------------------------------------------------------


_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def x_safe_link(link: str) -> str:
    """The link as X will link it whole: characters X's URL parser stops at are %-encoded.

    X ends a URL at the first non-ASCII path character ("/新闻/") and drops trailing
    punctuation ("/a." or "/a)"). Percent-encoding them is the same address to a web
    server, and the post then links all of it.
    """
    try:
        parts = urlsplit(link)
    except ValueError:
        return link
    # Non-ASCII and spaces are always encoded; everything RFC 3986 allows stays as it is.
    safe = "/:@!$&'()*+,;=-._~%?#[]"

    def encode(part: str) -> str:
        # A "%" that starts no escape is a literal percent sign: written out, X keeps it.
        return _STRAY_PERCENT.sub("%25", quote(part, safe=safe))

    link = urlunsplit(
        parts._replace(path=encode(parts.path), query=encode(parts.query), fragment=encode(parts.fragment))
    )
    authority = len(f"{parts.scheme}://{parts.netloc}")
    for _ in range(16):
        spans = url_spans(link)
        if not spans or spans[0][0] != 0 or spans[0][1] == len(link):
            return link
        stop = spans[0][1]
        if stop < authority or link[stop] == "%":
            return link  # X does not accept the host itself; encoding cannot help
        # quote() leaves ".-_~" alone; X does not, so every byte is written out.
        encoded = "".join(f"%{byte:02X}" for byte in link[stop].encode("utf-8"))
        link = link[:stop] + encoded + link[stop + 1 :]
    return link


def is_own_host(host: str, config: Config) -> bool:
    host = host.lower().rstrip(".")
    return any(host == own or host.endswith("." + own) for own in config.own_hosts)


def post_link(
    link: str, feed: FeedConfig, config: Config, kind: Kind = "publication", source: str | None = None
) -> str:
    """The link as posted: UTM tags on the organisation's own pages only, existing query kept.
    `source` names the network (utm_source) when it is not X's configured one."""
    link = x_safe_link(link)
    utm = config.compose.utm
    parts = urlsplit(link)
    if not utm.enabled or feed.source != "own" or not is_own_host(parts.hostname or "", config):
        return link
    present = {key for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    campaign = utm.campaign.replace("{feed}", feed.id).replace("{kind}", kind)
    wanted = [
        ("utm_source", source or utm.source),
        ("utm_medium", utm.medium),
        ("utm_campaign", campaign),
        ("utm_content", utm.content or ""),
    ]
    add = [(key, value) for key, value in wanted if value and key not in present]
    if not add:
        return link
    # Appended to the query as it was written: re-encoding it could change what it means.
    query = parts.query + ("&" if parts.query else "") + urlencode(add)
    return urlunsplit(parts._replace(query=query))


# -- events --------------------------------------------------------------------------------


def _is_all_day(start: datetime, end: datetime | None) -> bool:
    """A date without a time arrives as local midnight; a real event rarely starts then."""
    if (start.hour, start.minute, start.second) != (0, 0, 0):
        return False
    return end is None or (end.hour, end.minute) in ((0, 0), (23, 59))


def describe_when(event: EventInfo, config: Config, now: datetime, *, relative: bool | None = None) -> str:
    """When, in the organisation's time zone: "Tue 3 Jul, 18:00", "today, 18:00–20:00"."""
    compose = config.compose
    tz = config.organisation.tz
    start = event.start.astimezone(tz)
    end = event.end.astimezone(tz) if event.end and event.end > event.start else None
    all_day = _is_all_day(start, end)
    # An all-day end is the last day, as schema.org and the RSS event module write it.
    today = now.astimezone(tz).date()
    relative = compose.relative_days if relative is None else relative
    day = None
    if relative and start.date() == today:
        day = "today"
    elif relative and start.date() == today + timedelta(days=1):
        day = "tomorrow"
    if all_day:
        when = day or start.strftime(compose.date_format)
    elif day:
        when = f"{day}, {start.strftime(compose.time_format)}"
    else:
        when = start.strftime(compose.event_format)
    if end is not None:
        if end.date() == start.date():
            if not all_day:
                when += f"–{end.strftime(compose.time_format)}"
        elif all_day:
            when += f" to {end.strftime(compose.date_format)}"
        else:
            when += f" to {end.strftime(compose.event_format)}"
    return when


def when_variants(event: EventInfo, config: Config, now: datetime) -> list[str]:
    """Every way the when-phrase can read between composing and the event's start.

    A draft composed on Monday saying "tomorrow" may be published on Tuesday, when it
    must say "today": the post is fitted to the longest of these so that
    `refresh_when` never pushes it past the limit.
    """
    variants = {describe_when(event, config, now), describe_when(event, config, now, relative=False)}
    if config.compose.relative_days:
        start = event.start.astimezone(config.organisation.tz)
        for days_before in (0, 1):
            moment = start - timedelta(days=days_before)
            variants.add(describe_when(event, config, moment))
    return sorted(variants)


def refresh_when(text: str, event: EventInfo, config: Config, composed_at: datetime, now: datetime) -> str:
    """The post with its when-phrase brought up to date ("tomorrow" -> "today").

    For the publisher: a draft says "tomorrow" relative to when it was composed. The
    text is changed only where it still contains the phrase hookline wrote; an
    approver's own wording is left alone.
    """
    old = describe_when(event, config, composed_at)
    new = describe_when(event, config, now)
    if old == new or old not in text:
        return text
    return text.replace(old, new, 1)


# -- composing -----------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
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


_TRAILING = " ,;:-–—/([{“‘«'\"&+·|"


def _trim_end(text: str) -> str:
    return text.rstrip(_TRAILING)


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


def _hashtags(entry: Entry, config: Config, text: str) -> list[str]:
    tags: list[str] = []
    present = {t.casefold() for t in re.findall(r"#\w+", text)}
    for category in entry.categories:
        tag = config.compose.hashtag_for(category)
        if tag and tag.casefold() not in present and tag not in tags:
            tags.append(tag)
    return tags[: config.compose.max_hashtags]


def _with_tags(template: str, fields: dict[str, str], hook: str, when: str, tags: list[str]) -> str:
    joined = " ".join(tags)
    if "{hashtags}" in template or not tags:
        return render(template, {**fields, "hook": hook, "when": when, "hashtags": joined})
    return render(template, {**fields, "hook": hook, "when": when}) + " " + joined


# -- the final check ----------------------------------------------------------------------

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


def own_hashtags(config: Config) -> frozenset[str]:
    """The organisation's hashtags (compose.hashtags), casefolded and without the sign."""
    return frozenset(tag.lstrip("#＃").casefold() for tag in config.compose.hashtags.values())


@lru_cache(maxsize=64)
def _template_entities(words: tuple[str, ...]) -> frozenset[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for text in words:
        for _, _, kind, value in x_entities(_PLACEHOLDER.sub("  ", text)):
            if kind != "url":
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
    templates = config.compose.templates
    words = [
        templates.own_publication,
        templates.partner_publication,
        templates.own_event,
        templates.partner_event,
        config.organisation.name,
        *config.compose.hashtags.values(),
    ]
    if feed is not None:
        words += [feed.template or "", feed.partner or ""]
    if partner:
        words.append(partner)
    return _template_entities(tuple(words))


def post_problems(text: str, *, link: str, allowed: frozenset[tuple[str, str]] | None) -> list[str]:
    """What is wrong with a post as X would read it: it must link exactly once, to the entry's
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
        elif allowed is not None and (kind, value.casefold()) not in allowed:
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
    kind: Kind = "event" if entry.event or feed.kind == "event" else "publication"
    rule = rule or x_rule(config)
    measure = rule.measure
    link = post_link(entry.link, feed, config, kind, rule.utm_source)
    chosen = template or feed.template or config.compose.templates.for_entry(kind, feed.source)
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
    for tag in _hashtags(entry, config, text_for(text_hook, when)):
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
