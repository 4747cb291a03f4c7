"""What each network will be sent for a draft: one rendition per network, the review page's unit.

The approver edits the words (the hook); the link, and whatever the template put beside
it (hashtags after it), stay fixed, so one slip cannot break the destination. The list holds
X's rendition, then Bluesky's and Mastodon's (each from the text composed for it, counted as
that network counts, at its own price: nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hookline.config import Config
    from hookline.models import AuditEntry, Draft

X_LIMIT = 280
X_URL_LENGTH = 23


@dataclass(frozen=True)
class Parts:
    """A post split around its link: `head + hook + tail` is the whole text."""

    head: str  # fixed text before the editable part (the link, when a template starts with it)
    hook: str  # the approver's words
    tail: str  # fixed text after them: the link, then hashtags the template added

    @property
    def text(self) -> str:
        return self.head + self.hook + self.tail


def split_post(text: str, link: str) -> Parts:
    """The editable words of `text` and the fixed parts around them: the words before the link
    (or, for a template that starts with its link, the words after it)."""
    at = text.find(link) if link else -1
    if at < 0:
        return Parts("", text, "")
    before, after = text[:at], text[at + len(link) :]
    if before.strip():
        hook = before.rstrip()
        return Parts("", hook, before[len(hook) :] + link + after)
    words = after.strip()
    if not words:
        return Parts("", "", link)
    start = after.index(words)
    return Parts(before + link + after[:start], words, after[start + len(words) :])


def join_hook(parts: Parts, hook: str) -> str:
    """The post with the approver's words in place of the hook (spaces collapsed as X's text is)."""
    from hookline.compose.clean import clean_text

    return parts.head + clean_text(hook, neutralise=False) + parts.tail


@dataclass(frozen=True)
class Rendition:
    network: str  # "x": the form fields and page anchors use it
    name: str  # "X", as people call the network
    handle: str  # the configured corporate account on it, without "@"
    text: str  # exactly what is sent
    parts: Parts
    link: str
    length: int  # as the network counts `text`
    limit: int
    fixed_length: int  # what the fixed parts count, for the page's live counter
    counting: str  # how the page's counter counts: "x-weighted" (twitter-text v3), "graphemes"
    hook_field: str  # the form field that carries the edited words: "hook", "hook_<network>"
    price_cents: int
    edited: str | None  # "Edited by NAME at TIME" when the words are not as composed
    # Each network's words are edited apart (an edit of X's words does not change Bluesky's).
    editable: bool = True

    @property
    def left(self) -> int:
        return self.limit - self.length

    @property
    def host(self) -> str:
        from urllib.parse import urlsplit

        try:
            return urlsplit(self.link).hostname or ""
        except ValueError:
            return ""

    def as_counter(self) -> dict[str, Any]:
        """What the page's script needs to count and preview live (the server checks again)."""
        return {
            "head": self.parts.head,
            "tail": self.parts.tail,
            "limit": self.limit,
            "fixed": self.fixed_length,
            "counting": self.counting,
        }


def edited_label(draft: Draft, audit: Sequence[AuditEntry], tz: Any) -> str | None:
    """Who last changed the words, and when, if anyone did."""
    from hookline.approval.views import when

    if draft.text == draft.composed_text:
        return None
    for entry in reversed(audit):
        if entry.text_after is not None and entry.text_after == draft.text:
            name = entry.actor.split(" <", 1)[0]
            return f"Edited by {name} at {when(entry.at, tz)}"
    return "Edited since it was composed"


def x_rendition(
    config: Config, draft: Draft, edited: str | None, hook: str | Parts | None = None
) -> Rendition:
    from hookline.compose.measure import weighted_length

    parts = split_post(draft.text, draft.post_link)
    if isinstance(hook, Parts):
        parts = hook
    elif hook is not None:
        parts = Parts(parts.head, hook, parts.tail)
    text = parts.text
    return Rendition(
        network="x",
        name="X",
        handle=config.account.bare_handle,
        text=text,
        parts=parts,
        link=draft.post_link,
        length=weighted_length(text),
        limit=X_LIMIT,
        fixed_length=weighted_length(parts.head + parts.tail),
        counting="x-weighted",
        hook_field="hook",
        price_cents=round(config.pacing.price_per_post_usd * 100),
        edited=edited,
    )


def renditions(
    config: Config, draft: Draft, audit: Sequence[AuditEntry], hooks: dict[str, str | Parts] | None = None
) -> list[Rendition]:
    """One rendition per network the draft goes to (`hooks`: words an approver typed, by network,
    shown back when an edit was refused; a whole post sent in the older `text` field as Parts)."""
    hooks = hooks or {}
    edited = edited_label(draft, audit, config.organisation.tz)
    shown = []
    for network in config.networks:
        if network == "x":
            shown.append(x_rendition(config, draft, edited, hooks.get("x")))
        else:
            shown.append(other_rendition(config, draft, network, hooks.get(network)))
    return shown


def other_rendition(config: Config, draft: Draft, network: str, hook: str | Parts | None = None) -> Rendition:
    """Bluesky's or Mastodon's post as composed for it (draft.networks), or, for a draft made
    before it had one, the X text and link (what the delivery would then send); with `hook`,
    the words an approver typed in place of its own."""
    from hookline.approval.views import NETWORK_NAMES
    from hookline.compose.measure import (
        BLUESKY_GRAPHEMES,
        MASTODON_CHARACTERS,
        bluesky_length,
        mastodon_length,
    )

    made = draft.networks.get(network) or {}
    stored = str(made.get("text") or draft.text)
    link = str(made.get("link") or draft.post_link)
    parts = split_post(stored, link)
    if isinstance(hook, Parts):
        parts = hook
    elif hook is not None:
        parts = Parts(parts.head, hook, parts.tail)
    text = parts.text
    accounts = config.accounts
    if network == "bluesky":
        handle = accounts.bluesky.bare_handle if accounts.bluesky else ""
        measure = bluesky_length
        limit = int(made.get("limit") or BLUESKY_GRAPHEMES)
        length = bluesky_length(text)
    else:
        handle = f"{accounts.mastodon.bare_acct}@{accounts.mastodon.server.host}" if accounts.mastodon else ""
        measure = mastodon_length
        limit = int(made.get("limit") or MASTODON_CHARACTERS)
        composed = text == stored and made.get("text") and made.get("length")
        length = int(made["length"]) if composed else mastodon_length(text)
    edited = None
    if made.get("edited_by"):
        from hookline.approval.views import when
        from hookline.clock import parse_iso

        at = when(parse_iso(str(made["edited_at"])), config.organisation.tz) if made.get("edited_at") else ""
        edited = f"Edited by {made['edited_by']}" + (f" at {at}" if at else "")
    return Rendition(
        network=network,
        name=NETWORK_NAMES.get(network, network.title()),
        handle=handle,
        text=text,
        parts=parts,
        link=link,
        length=length,
        limit=limit,
        fixed_length=measure(parts.head + parts.tail),
        counting="graphemes",
        hook_field=f"hook_{network}",
        price_cents=0,
        edited=edited,
    )
