"""Pages and messages, rendered with Jinja2 (autoescaped) under a strict CSP.

The page loads nothing from elsewhere. Its one stylesheet and its one script (the review
page's live preview and counter, review.js) are inline and allowed by their hashes, so
nothing a feed smuggles into a title can run or load; every page works without the script.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def _style() -> tuple[str, str]:
    css = (TEMPLATES / "style.css").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode()
    return css, f"'sha256-{digest}'"


@lru_cache(maxsize=1)
def _script() -> tuple[str, str]:
    js = (TEMPLATES / "review.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode()
    return js, f"'sha256-{digest}'"


def security_headers() -> dict[str, str]:
    _, style_hash = _style()
    _, script_hash = _script()
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": (
            f"default-src 'none'; style-src {style_hash}; script-src {script_hash}; "
            "img-src 'self' data:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }


def when(value: datetime | None, tz: Any = None) -> str:
    if value is None:
        return ""
    from hookline.clock import human_time

    return human_time(value, tz or UTC)


def _ago(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return ""
    seconds = int(((now or datetime.now(UTC)) - value).total_seconds())
    if seconds < 90:
        return "under 2 minutes"
    if seconds < 5400:
        return _count(seconds // 60, "minute")
    if seconds < 172800:
        return _count(seconds // 3600, "hour")
    return _count(seconds // 86400, "day")


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def _web_url(value: str | None) -> str | None:
    """Only http(s) links become links: a feed's `javascript:` or `data:` URL stays text."""
    from urllib.parse import urlsplit

    if not value:
        return None
    try:
        scheme = urlsplit(value).scheme.lower()
    except ValueError:
        return None
    return value if scheme in ("http", "https") else None


def _link_host(value: str | None) -> str:
    """The host a link really goes to, as the browser would read it: what an approver must
    see plainly, since the post shows only the first 23 characters of the link."""
    from urllib.parse import urlsplit

    if not value:
        return ""
    try:
        host = urlsplit(value).hostname or ""
    except ValueError:
        return "(not a valid address)"
    try:
        shown = host.encode("ascii").decode("idna") if host.isascii() else host
    except UnicodeError:
        shown = host
    return shown if shown == host else f"{shown} ({host})"


def _x_links(text: str) -> list[str]:
    """The URLs X links (and counts as 23) in `text`: an IP-address or unknown-TLD link is not one."""
    from hookline.compose.measure import url_spans

    return [url for _, _, url in url_spans(text)]


def usd(cents: int) -> str:
    return f"${cents / 100:,.2f}"


NETWORK_NAMES = {"x": "X", "bluesky": "Bluesky", "mastodon": "Mastodon"}


def goes_to(config: Any) -> str:
    """The networks an approved post goes to, as people say it: "X, Bluesky and Mastodon"."""
    names = [NETWORK_NAMES.get(n, n.title()) for n in config.networks]
    return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["when"] = when
    env.filters["ago"] = _ago
    env.filters["usd"] = usd
    env.filters["web_url"] = _web_url
    env.filters["link_host"] = _link_host
    env.filters["x_links"] = _x_links
    env.filters["count"] = _count
    env.filters["goes_to"] = goes_to
    return env


def render_html(name: str, **context: Any) -> str:
    css, _ = _style()
    js, _ = _script()
    return _env().get_template(name).render(style=css, script=js, **context)


def render_text(name: str, **context: Any) -> str:
    return _env().get_template(name).render(**context)


def error_page(status: int, title: str, message: str) -> str:
    return render_html("message.html", status=status, title=title, message=message, tone="error")
