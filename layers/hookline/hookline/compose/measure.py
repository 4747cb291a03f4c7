"""How long a post is, as each network counts it: X's weighted length (twitter-text), Bluesky's graphemes, Mastodon's characters."""

from __future__ import annotations

import sys
import types
from functools import lru_cache
from typing import Any

ELLIPSIS = "…"
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


class ComposeError(Exception):
    """The entry cannot become a post; the message is the reason it is skipped."""


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
