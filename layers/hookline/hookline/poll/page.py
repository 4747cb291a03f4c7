"""What a fetched page says of itself: its meta tags and JSON-LD blocks, read from its bytes.

The bytes are untrusted (a partner's page, or whatever its link led to); this only reads
them, within a cap, and never fails: a page html.parser gives up on keeps what was read.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from hookline.text import plain_text

# A page's head is at its start; parsing megabytes of body finds no more card tags.
MAX_PARSE_CHARS = 2_000_000
# What a link card keeps of the page's own words (Bluesky shows a title line and a few lines).
MAX_CARD_TITLE = 300
MAX_CARD_DESCRIPTION = 1000
MAX_IMAGE_URL = 2000


class _PageParser(HTMLParser):
    """Meta tags (first of each name wins) and the text of every JSON-LD script."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.jsonld: list[str] = []
        self._buffer: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            key = (values.get("property") or values.get("name") or "").strip().lower()
            if key and key not in self.meta:
                self.meta[key] = values.get("content", "").strip()
        elif (
            tag == "script" and values.get("type", "").split(";")[0].strip().lower() == "application/ld+json"
        ):
            self._buffer = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._buffer is not None:
            self.jsonld.append("".join(self._buffer))
            self._buffer = None

    def handle_data(self, data: str) -> None:
        if self._buffer is not None:
            self._buffer.append(data)


def read_page(body: bytes, headers: Any) -> _PageParser:
    parser = _PageParser()
    try:
        parser.feed(body.decode(_charset(headers, body), errors="replace")[:MAX_PARSE_CHARS])
        parser.close()
    except Exception:  # noqa: S110 - html.parser gives up on some malformed pages; keep what it read
        pass
    return parser


def _charset(headers: Any, body: bytes = b"") -> str:
    content_type = headers.get("content-type", "") if headers else ""
    candidates = [
        value.strip("\"' ")
        for key, _, value in (part.strip().partition("=") for part in content_type.split(";"))
        if key.lower() == "charset" and value
    ]
    sniffed = re.search(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_.:-]+)""", body[:4096], re.IGNORECASE)
    if sniffed:
        candidates.append(sniffed.group(1).decode("ascii"))
    for candidate in candidates:
        try:
            "".encode(candidate)
        except LookupError:
            continue
        return candidate
    return "utf-8"


def looks_like_html(body: bytes) -> bool:
    """Servers mislabel pages (text/plain, application/octet-stream): X reads the bytes, so do we."""
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<meta", b"<!--", b"<title"))


def describe_type(content_type: str) -> str:
    known = {"application/pdf": "PDF document", "application/msword": "Word document"}
    if not content_type:
        return "file of no stated type"
    if content_type in known:
        return f"{known[content_type]} ({content_type})"
    if content_type.startswith("image/"):
        return f"picture ({content_type})"
    return f"file of type {content_type}"


def card_of(meta: dict[str, str], page_url: str) -> dict[str, str] | None:
    """The page's own card (og:/twitter: title, description and image), as a Bluesky link card
    is built from it: the words as untrusted plain text, capped; the image only as an absolute
    http(s) URL (the publisher fetches it through the guarded client, or goes without)."""
    from hookline.compose.clean import clean_text

    def words(*names: str, limit: int) -> str:
        raw = next((meta[n] for n in names if meta.get(n)), "")
        text = clean_text(plain_text(raw, limit=limit * 4), neutralise=False)
        return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"

    card = {
        "title": words("og:title", "twitter:title", limit=MAX_CARD_TITLE),
        "description": words(
            "og:description", "twitter:description", "description", limit=MAX_CARD_DESCRIPTION
        ),
        "image": _image_url(
            meta.get("og:image") or meta.get("og:image:url") or meta.get("twitter:image"), page_url
        ),
    }
    kept = {k: v for k, v in card.items() if v}
    return kept or None


def _image_url(raw: str | None, page_url: str) -> str:
    value = (raw or "").strip()
    if not value or len(value) > MAX_IMAGE_URL or any(c.isspace() or ord(c) < 32 for c in value):
        return ""
    try:
        url = urljoin(page_url, value)
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number is no URL to fetch
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or len(url) > MAX_IMAGE_URL:
        return ""
    return url
