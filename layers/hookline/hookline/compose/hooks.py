"""The hook: a headline from the title, or from the summary's first sentence when the title is weak, cut at a word."""

from __future__ import annotations

import re
from dataclasses import dataclass

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
    neutralise_entities,
    neutralise_hashtags,
    own_hashtags,
)
from hookline.compose.measure import (
    ELLIPSIS,
)
from hookline.config import Config, FeedConfig
from hookline.models import Entry


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
