"""Plain text and dates from untrusted markup: shared by the feed parser and the link pre-flight."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, tzinfo
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass


_SPACE = re.compile(r"\s+")
_MARKUP = re.compile(r"<[A-Za-z/!?]|&(?:#\d+|#x[0-9A-Fa-f]+|[A-Za-z]+);")
_LOOKS_LIKE_TAG = re.compile(r"<[A-Za-z/!?]")
_BLOCK = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
# Elements whose content is never shown as text (an unclosed one hides the rest).
_HIDDEN = frozenset({"script", "style", "template"})


class _TextOnly(HTMLParser):
    """The text a reader would see: tags dropped, script and style contents dropped, entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN and self.hidden:
            self.hidden -= 1
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def plain_text(value: str | None, limit: int = 100_000) -> str:
    """Feed text as plain text: tags (and script/style contents) dropped, entities decoded,
    whitespace collapsed. Markup that was escaped twice (`&amp;lt;script&amp;gt;`) is
    stripped too: no feed gets angle-bracket markup into a post or a page."""
    if not value:
        return ""
    text = str(value)[:limit]
    for _ in range(3):
        if not _MARKUP.search(text):
            break
        parser = _TextOnly()
        try:
            parser.feed(text)
            parser.close()
        except Exception:  # noqa: S110 - html.parser gives up on some malformed input; keep what it read
            pass
        text = "".join(parser.parts)
        if not _LOOKS_LIKE_TAG.search(text):
            break
    return _SPACE.sub(" ", text).strip()


def struct_to_dt(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def plausible(value: datetime) -> bool:
    return 1990 <= value.year <= 2200


def parse_when(value: Any, default_tz: tzinfo) -> datetime | None:
    """An event date as feeds write it: ISO 8601 (extended or basic), RFC 822, or a date alone.

    A time without an offset is in `default_tz` (the organisation's timezone): a feed
    that says 18:00 means 18:00 where the event is.
    """
    if not value or not isinstance(value, str):
        return None
    text = value.strip()[:100]
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            parsed = _feedparser_date(text)
    if parsed is None or not plausible(parsed):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed


def _feedparser_date(text: str) -> datetime | None:
    """feedparser's own date parser: many odd formats, always with a timezone (UTC if none given)."""
    try:
        from feedparser.datetimes import _parse_date
    except ImportError:  # pragma: no cover - feedparser is a dependency of the poll function
        return None
    try:
        return struct_to_dt(_parse_date(text))
    except Exception:
        return None
