"""The post's link: only http(s) links X counts as links, the organisation's own tagged for analytics."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from hookline.compose.measure import (
    url_spans,
)
from hookline.config import Config, FeedConfig, Kind

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
