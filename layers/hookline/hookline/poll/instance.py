"""The configured Mastodon server's own post limits, for composing its renditions.

Servers differ (500 characters is only Mastodon's default), so the poll asks the server named
in the config (never a URL from feed content) with GET /api/v2/instance, at most once a day:
the answer is kept in the table with the time it was read, so a warm container, a cold one
and a skip drafted by hand all use the same figures. A server that does not answer never
fails the poll: the kept figures are used, or Mastodon's defaults, with a log line.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from hookline.clock import parse_iso
from hookline.config import Config

if TYPE_CHECKING:
    from hookline.publish.networks.http import Transport


class Kept(Protocol):
    """The one table item this needs (the store's control items)."""

    def get_control(self, name: str) -> dict[str, Any] | None: ...
    def put_control(self, name: str, data: dict[str, Any]) -> None: ...


log = logging.getLogger(__name__)

CONTROL = "mastodon-limits"
REREAD_AFTER = timedelta(days=1)


def mastodon_limits(
    config: Config, store: Kept, now: datetime, http: Transport | None = None
) -> tuple[int, int] | None:
    """(max_characters, URL weight) of the configured server; None when there is no Mastodon
    account or nothing is known of its server (compose then uses Mastodon's defaults)."""
    account = config.accounts.mastodon
    if account is None:
        return None
    server = account.base_url
    kept = _kept(store, server)
    if kept is not None and now - kept[0] < REREAD_AFTER:
        return kept[1]
    from hookline.publish.networks.http import pool
    from hookline.publish.networks.mastodon import read_limits

    try:
        read = read_limits(http or pool(), server)
    except Exception as exc:  # an unreachable server, or a broken answer: never the poll's failure
        read, problem = None, f"{type(exc).__name__}: {exc}"[:300]
    else:
        problem = "the server did not answer 200"
    if read is None:
        log.warning(
            "Mastodon limits not read; using the kept ones or the defaults",
            extra={"server": server, "error": problem, "kept": kept is not None},
        )
        return kept[1] if kept else None
    limits = (read.max_characters, read.url_weight)
    try:
        store.put_control(
            CONTROL,
            {
                "server": server,
                "max_characters": limits[0],
                "url_weight": limits[1],
                "read_at": now.isoformat(),
            },
        )
    except Exception as exc:  # the figures are still right for this poll; the next one re-reads
        log.warning("Mastodon limits not kept", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
    return limits


def _kept(store: Kept, server: str) -> tuple[datetime, tuple[int, int]] | None:
    try:
        item: dict[str, Any] | None = store.get_control(CONTROL)
    except Exception as exc:
        log.warning("Mastodon limits not readable from the table", extra={"error": str(exc)[:300]})
        return None
    if not item or item.get("server") != server:
        return None  # another server's figures (the config changed) say nothing of this one
    try:
        return parse_iso(str(item["read_at"])), (int(item["max_characters"]), int(item["url_weight"]))
    except (KeyError, TypeError, ValueError):
        return None
