"""Drafts and signers for the approval tests: a realistic pending draft in DynamoDB Local,
and links signed the way the deployed functions sign them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hookline.approval.links import LinkSigner
from hookline.models import Draft, EventData, State, short_hash
from hookline.store import Store

BASE_URL = "https://approve.example.org"
LINK = "https://www.example.org/news/river-quality?utm_source=x&utm_medium=social&utm_campaign=hookline"
TITLE = "New research report: river quality in the Fens"


def signer(
    key: str, *, days: float = 7, base_url: str = BASE_URL, keys: list[str] | None = None
) -> LinkSigner:
    return LinkSigner(keys or [key], timedelta(days=days), base_url)


def make_draft(now: datetime, **overrides: Any) -> Draft:
    title = overrides.pop("title", TITLE)
    link = overrides.pop("post_link", LINK)
    text = overrides.pop("text", f"{title} {link}")
    from hookline import weighted_length

    data: dict[str, Any] = {
        "id": short_hash("news", overrides.pop("identity", title)),
        "feed_id": "news",
        "state": State.PENDING,
        "title": title,
        "link": link.split("?")[0],
        "post_link": link,
        "summary": "How clean are the Fens' rivers? Our three-year study has the answers.",
        "categories": ["Report"],
        "published": now - timedelta(hours=1),
        "text": text,
        "composed_text": text,
        "weighted_length": weighted_length(text),
        "reason": "category 'Report' matched rule 'publications'",
        "created_at": now,
        "state_at": now,
        "expires_at": now + timedelta(days=7),
        "preflight": {
            "final_url": link.split("?")[0],
            "warnings": [],
            "checks": [
                {"ok": True, "message": "the page answers 200 OK"},
                {"ok": True, "message": "the page has a title and a description for X's link card"},
            ],
        },
    }
    data.update(overrides)
    return Draft.model_validate(data)


def add_draft(store: Store, now: datetime, **overrides: Any) -> Draft:
    draft = make_draft(now, **overrides)
    assert store.create_draft(draft)
    return store.get_draft(draft.id)


def event_draft(store: Store, now: datetime, *, starts_in: timedelta, venue: str = "Ely Cathedral") -> Draft:
    start = now + starts_in
    return add_draft(
        store,
        now,
        title="Open day at the river lab",
        identity="open-day",
        kind="event",
        event=EventData(start=start, venue=venue),
        expires_at=min(start, now + timedelta(days=7)),
    )
