"""One entry's way to a draft: judged by the rules (with its linked page when that can change
the decision), then composed into the draft the approvers see, one rendition per network.

The poll, a skip drafted by hand and `preview` all go through here, which is why preview
cannot say "draft" for an entry the poll skips.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hookline.clock import parse_iso
from hookline.compose import compose, renditions
from hookline.config import Config, FeedConfig
from hookline.models import Draft, Entry, EventData, EventInfo, Judgement, State
from hookline.poll.linkcheck import LinkChecker, PageCheck
from hookline.poll.rules import judge, page_could_change

log = logging.getLogger(__name__)

# schema.org eventStatus values that mean there is nothing to announce.
CALLED_OFF = {"EventCancelled": "cancelled", "EventPostponed": "postponed"}


def make_draft(
    entry: Entry,
    feed: FeedConfig,
    config: Config,
    judgement: Judgement,
    now: datetime,
    page: PageCheck | None = None,
    *,
    mastodon_limits: tuple[int, int] | None = None,
) -> Draft:
    """The draft of `entry`, its Mastodon rendition within `mastodon_limits` (the configured
    server's (max_characters, URL weight), poll/instance.py) when known."""
    composed = compose(entry, feed, config, now)
    made = renditions(entry, feed, config, now, mastodon_limits=mastodon_limits)
    expires = now + timedelta(days=config.approval.expire_after_days)
    if entry.event and entry.event.start < expires:
        expires = entry.event.start
    return Draft(
        id=entry.key,
        feed_id=feed.id,
        state=State.PENDING,
        kind="event" if entry.event else "publication",
        source=feed.source,
        partner=feed.partner,
        title=entry.title[:1000],
        link=entry.link,
        post_link=composed.link,
        summary=entry.summary[:2000],
        categories=list(entry.categories)[:20],
        published=entry.published,
        event=EventData(
            start=entry.event.start, end=entry.event.end, venue=(entry.event.venue or "")[:300] or None
        )
        if entry.event
        else None,
        text=composed.text,
        composed_text=composed.text,
        weighted_length=composed.weighted_length,
        reason=judgement.reason,
        created_at=now,
        state_at=now,
        expires_at=expires,
        preflight=page.as_json() if page else None,
        rule=judgement.rule,
        term=judgement.term,
        networks={
            name: {"text": c.text, "link": c.link, "length": c.weighted_length, "limit": c.limit}
            for name, c in made.items()
        },
    )


def entry_from_skip(record: dict[str, Any]) -> Entry:
    """The entry a skip record keeps (Store.record_skip), as the poll read it."""
    event = record.get("event")
    published = record.get("published")
    return Entry(
        feed_id=str(record["feed_id"]),
        identity=str(record["identity"]),
        title=str(record.get("title", "")),
        link=str(record.get("link", "")),
        summary=str(record.get("summary") or ""),
        categories=tuple(str(c) for c in record.get("categories") or ()),
        published=parse_iso(str(published)) if published else None,
        event=EventInfo(
            start=parse_iso(str(event["start"])),
            end=parse_iso(str(event["end"])) if event.get("end") else None,
            venue=event.get("venue"),
        )
        if event
        else None,
        author=str(record.get("author") or ""),
    )


@dataclass(frozen=True)
class Assessment:
    """What judging one entry found: the entry (with the page's event data, when the feed had
    none), the decision, and the linked page's pre-flight result when it was fetched."""

    entry: Entry
    judgement: Judgement
    page: PageCheck | None


def assess(
    entry: Entry,
    feed: FeedConfig,
    config: Config,
    now: datetime,
    linkcheck: LinkChecker | None,
    *,
    always_fetch: bool = False,
) -> Assessment:
    """The one judgement of an entry that the poll and `preview` share: the rules, then the
    linked page when it can change the decision (or `always_fetch`, for preview's pre-flight),
    then the rules again with the page's event data, and an event the page calls off is skipped.

    Keeping this in one place is why preview cannot say "draft" for an entry the poll skips.
    """
    rules = config.rule_sets[feed.rules]
    tz = config.organisation.tz
    judgement = judge(entry, feed, rules, now, tz=tz)
    page = None
    if linkcheck is not None and (always_fetch or page_could_change(entry, judgement, feed, rules, now)):
        entry, page = with_page(entry, linkcheck)
        judgement = judge(entry, feed, rules, now, tz=tz)
        called_off = CALLED_OFF.get(page.event_status or "") if page else None
        if judgement.drafted and called_off:
            judgement = Judgement("skip", f"the linked page says the event is {called_off}", judgement.rule)
    return Assessment(entry, judgement, page)


def with_page(entry: Entry, linkcheck: LinkChecker | None) -> tuple[Entry, PageCheck | None]:
    """Fetch the linked page once: its pre-flight result, and its event data when the feed has none."""
    if linkcheck is None or not entry.link:
        return entry, None
    page = linkcheck.check(entry.link)
    if page.refused:
        # The draft is still made (the link is the partner's); whoever reads the log sees which
        # feed tried to point hookline inside.
        log.warning(
            "link not fetched: internal address",
            extra={
                "feed": entry.feed_id,
                "entry": entry.identity,
                "link": entry.link[:300],
                "why": page.refused,
            },
        )
    if entry.event is None and page.event is not None:
        entry = dataclasses.replace(entry, event=page.event)
    return entry, page
