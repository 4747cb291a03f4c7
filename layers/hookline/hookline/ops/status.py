"""A deployment's health at a glance, read from the table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hookline.config import Config
from hookline.models import State
from hookline.store import Store


def status_report(store: Store, config: Config, now: datetime, *, skips: int = 0) -> dict[str, Any]:
    """`skips`: how many of each feed's most recent skip reasons to include (one query per feed)."""
    states = store.feed_states_for([f.id for f in config.feeds])
    feeds = []
    for feed in config.feeds:
        state = states.get(feed.id)
        row: dict[str, Any] = {
            "id": feed.id,
            "url": str(feed.url),
            "last_poll": state.last_poll if state else None,
            "last_success": state.last_success if state else None,
            "failure_streak": state.failure_streak if state else 0,
            "alarm": bool(state and state.failure_streak >= config.polling.failure_alarm_after),
            "last_error": state.last_error if state else None,
            "drafts_made": state.drafts_made if state else 0,
            "held": (state.held or None) if state else None,
            "problem": state.problem if state else None,
            # The poll record was written for another URL: the next poll re-baselines the feed.
            "url_changed": bool(state and state.url and state.url != str(feed.url)),
        }
        if skips:
            row["recent_skips"] = [
                {"title": s.get("title", ""), "reason": s.get("reason", ""), "at": s.get("at")}
                for s in store.skips(feed.id, limit=skips, now=now)
            ]
        feeds.append(row)
    pending = store.drafts_in(State.PENDING)
    oldest = min(pending, key=lambda d: d.created_at) if pending else None
    month = now.astimezone(config.organisation.tz).strftime("%Y-%m")
    spend = store.month_spend(month)
    pause = store.pause_state()
    hold = store.get_control("HOLD")
    # A network beside X that its guard held (wrong account, refused credentials): the others
    # keep posting, so this line is where an operator sees that one has gone quiet.
    network_holds = {
        name: str(item.get("reason", ""))
        for name in config.networks
        if name != "x" and (item := store.get_control(f"HOLD#{name}"))
    }
    return {
        "feeds": feeds,
        "drafts": {s.value: n for s, n in store.count_by_state().items()},
        "oldest_pending": {"id": oldest.id, "since": oldest.created_at, "title": oldest.title}
        if oldest
        else None,
        "month": month,
        "posts_this_month": spend.posts,
        "spend_usd": spend.cents / 100,
        "cap_usd": config.pacing.monthly_spend_cap_usd,
        "paused": pause.paused,
        "paused_by": pause.by,
        "paused_reason": pause.reason,
        "paused_at": pause.at,
        "held": hold.get("reason") if hold else None,
        "held_networks": network_holds,
        "rules": _rules_section(store, config, now),
    }


def _rules_section(store: Store, config: Config, now: datetime) -> dict[str, Any]:
    """The rules report's totals and suggestions (`rules report` has the detail)."""
    from hookline.ops.rules_report import build

    report = build(store, config, now)
    tallies = report.terms.values()
    return {
        "days": report.days,
        "drafted": sum(t.drafted for t in tallies),
        "approved": sum(t.approved for t in tallies),
        "rejected": sum(t.rejected for t in tallies),
        "drafted_by_hand": sum(t.by_hand for t in tallies),
        "suggestions": report.suggestions,
    }


def _t(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if isinstance(value, datetime) else "never"


def _flag(feed: dict[str, Any]) -> str:
    if feed["alarm"]:
        return "ALARM "
    if feed["held"]:
        return "held  "
    if feed["failure_streak"]:
        return "fail  "
    if feed["last_poll"] is None:
        return "new   "
    return "ok    "


def format_status(report: dict[str, Any]) -> str:
    source = report.get("config")
    lines = [f"Feeds (from {source}):" if source else "Feeds:"]
    for f in report["feeds"]:
        lines.append(
            f"  {_flag(f)}{f['id']}: last poll {_t(f['last_poll'])}, last success {_t(f['last_success'])}, "
            f"failure streak {f['failure_streak']}, drafts made {f['drafts_made']}"
        )
        if f["last_error"] and f["failure_streak"]:
            lines.append(f"        last error: {f['last_error']}")
        if f["held"]:
            lines.append(f"        held: {f['held']}")
        if f.get("problem"):
            lines.append(f"        feed problem (entries still read): {f['problem']}")
        if f.get("url_changed"):
            lines.append("        URL changed in the config: the next poll takes its entries as history")
        for skip in f.get("recent_skips", []):
            lines.append(f"        skipped {skip['title'][:60]!r}: {skip['reason']}")
    if (
        report["feeds"]
        and all(f["last_poll"] is None for f in report["feeds"])
        and any(report["drafts"].values())
    ):
        # The table has drafts but has never polled these feeds: the wrong config, most likely
        # (config/hookline.yaml against the demo's table, whose config is .local/demo-config.yaml).
        lines.append(
            "  none of these feeds was ever polled in this table: is this the config the deployment "
            "uses? (pass --config FILE; for the demo, the status command it printed)"
        )
    lines.append("Drafts: " + ", ".join(f"{k} {v}" for k, v in report["drafts"].items()))
    oldest = report["oldest_pending"]
    if oldest:
        lines.append(f"Oldest pending: {oldest['title']!r} since {_t(oldest['since'])}")
    lines.append(
        f"This month ({report['month']}): {report['posts_this_month']} post{'' if report['posts_this_month'] == 1 else 's'}, "
        f"${report['spend_usd']:.2f} of the ${report['cap_usd']:.2f} cap"
    )
    if report["paused"]:
        lines.append(
            f"PAUSED by {report['paused_by']} at {_t(report['paused_at'])}: {report['paused_reason']}"
        )
    else:
        lines.append("Publishing: running")
    if report["held"]:
        lines.append(f"HELD: {report['held']}")
    for network, reason in report.get("held_networks", {}).items():
        lines.append(f"HELD on {network}: {reason}")
    rules = report["rules"]
    lines.append(
        f"Rules (last {rules['days']} days): {rules['drafted']} drafts, {rules['approved']} approved, "
        f"{rules['rejected']} rejected, {rules['drafted_by_hand']} drafted by hand from skips"
        + ("" if rules["suggestions"] else "; no suggestions (`rules report` for the detail)")
    )
    lines.extend(f"  suggestion: {s}" for s in rules["suggestions"])
    return "\n".join(lines)
