"""Text cleaning: invisible and control characters, entities, links inside the hook's words."""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

from hookline.compose.entities import (
    neutralise_entities,
)
from hookline.compose.measure import (
    url_spans,
)

# Feed text beyond this is never needed (a post is 280 at most) and only costs time:
# RAW_CAP characters are cleaned (invisible characters may shrink them a lot), and
# CLEAN_CAP of what is left are composed, more than 280 can hold even of 7-code-point
# emoji sequences.
RAW_CAP = 3000
CLEAN_CAP = 1200
# Combining marks kept on one character: enough for Vietnamese or Tibetan stacks,
# not for "Zalgo" text that spills over the lines around it.
MAX_MARKS = 4
ZWJ = "\u200d"
ZWNJ = "\u200c"
BLACK_FLAG = "\U0001f3f4"  # base of the England/Scotland/Wales tag sequences


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


_TRAILING = " ,;:-–—/([{“‘«'\"&+·|"


def _trim_end(text: str) -> str:
    return text.rstrip(_TRAILING)
