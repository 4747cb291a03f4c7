"""What an approver's form says: the fields the review and queue pages send, read leniently.

A form body is untrusted: a field may be missing, repeated or empty, and each reader
says what that means rather than failing on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_REASON = 500
MAX_LINK = 2000


def first(form: Mapping[str, Any], name: str) -> str | None:
    value = form.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def left_out(form: Mapping[str, Any], networks: Sequence[str]) -> list[str]:
    """The networks an approver unticked (`include_<network>`): the page sends a hidden "no"
    then the checkbox's "yes", so the last value is the box; a form without the field (an older
    page) leaves every network in."""
    out = []
    for network in networks:
        value = form.get(f"include_{network}")
        if isinstance(value, list):
            value = value[-1] if value else None
        if network != "x" and isinstance(value, str) and value.strip().lower() in ("no", "0", "off", "false"):
            out.append(network)
    return out


def reason(form: Mapping[str, Any]) -> str | None:
    """The approver's reason, on one line and at most MAX_REASON characters (None: none given)."""
    return " ".join((first(form, "reason") or "").split())[:MAX_REASON] or None


def is_web_link(value: str) -> bool:
    from urllib.parse import urlsplit

    if not value or len(value) > MAX_LINK or any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
