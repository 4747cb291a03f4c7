"""Each network's delivery as the review and result pages say it.

X's delivery is the draft's own state (the page's status banner); Bluesky's and Mastodon's are
their delivery records (store: DRAFT#<id> / NETWORK#<network>), with a network's own hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hookline.clock import parse_iso

if TYPE_CHECKING:
    from hookline.models import Draft

NAMES = {"x": "X", "bluesky": "Bluesky", "mastodon": "Mastodon"}


@dataclass(frozen=True)
class DeliveryView:
    """What the page says of one network's delivery: `state` is PUBLISHED, FAILED, HELD, PENDING,
    LEFT_OUT or STOPPED (withdrawn or expired), `text` the sentence shown, `url` the post there."""

    network: str
    state: str
    text: str
    url: str | None = None
    retry: bool = False  # the page offers Retry for this network alone


def delivery_view(
    network: str, delivery: Mapping[str, Any] | None, hold: Mapping[str, Any] | None, draft: Draft, tz: Any
) -> DeliveryView:
    from hookline.approval.views import when
    from hookline.models import State

    name = NAMES.get(network, network.title())
    included = (draft.networks.get(network) or {}).get("included") is not False
    state = str(delivery.get("delivery_state")) if delivery else ""
    if delivery is None and not included:
        return DeliveryView(network, "LEFT_OUT", f"Left out of this post: nothing goes to {name}.")
    if draft.state in (State.REJECTED, State.EXPIRED) and state in ("", "APPROVED"):
        return DeliveryView(network, "STOPPED", f"Nothing goes to {name}.")
    if delivery is None:
        return DeliveryView(network, "PENDING", f"Waiting to go out on {name}.")
    failure = str(delivery.get("failure") or "no reason given")
    said = f"{network} refused: "
    if failure.casefold().startswith(said):  # the publisher names the network; the page does already
        failure = failure[len(said) :]
    if state == "PUBLISHED":
        at = when(parse_iso(str(delivery["published_at"])), tz) if delivery.get("published_at") else ""
        url = str(delivery.get("post_url") or "") or None
        text = f"Published on {name} {at}." if at else f"Published on {name}."
        if url is None:
            text += f" Dry run: nothing was sent to {name}."
        return DeliveryView(network, "PUBLISHED", text, url=url)
    if state == "FAILED":
        if delivery.get("stopped"):
            return DeliveryView(network, "FAILED", f"Not posted on {name}: {failure}")
        return DeliveryView(network, "FAILED", f"{name} refused this post: {failure}", retry=True)
    if hold:
        return DeliveryView(
            network, "HELD", f"Held on {name}: {hold.get('reason') or 'publishing to it is held'}."
        )
    if state == "PUBLISHING":
        return DeliveryView(network, "PENDING", f"Being published on {name} now.")
    text = f"Waiting to go out on {name}."
    if delivery.get("failure"):
        text += f" The last attempt did not go through ({failure}); it is retried"
        text += (
            f" after {when(parse_iso(str(delivery['not_before'])), tz)}."
            if delivery.get("not_before")
            else "."
        )
    return DeliveryView(network, "PENDING", text)
