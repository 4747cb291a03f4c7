"""An approver's edit of a post: read from the form, then checked as the publisher would check it.

Refused here, with what to fix, the approver can put it right now rather than find the draft
FAILED later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hookline.approval.forms import first
from hookline.errors import Invalid

if TYPE_CHECKING:
    from hookline.config import Config
    from hookline.models import Draft

MAX_LENGTH = 280


def edited_text(draft: Draft, form: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The post the approver approves, and the words they typed: the `hook` field (the words,
    the link kept apart), or the whole `text` (the older form, still accepted)."""
    from hookline.approval.renditions import join_hook, split_post

    words = first(form, "hook")
    if words is not None:
        return join_hook(split_post(draft.text, draft.post_link), words), words
    return first(form, "text"), None


def check_edit(config: Config, draft: Draft, edited: str) -> tuple[str, int]:
    """The edited X post, cleaned, and its length as X counts it; Invalid says what to fix."""
    from hookline.compose.clean import clean_text
    from hookline.compose.entities import allowed_entities, post_problems
    from hookline.compose.measure import weighted_length

    text = clean_text(edited, neutralise=False)
    if not text:
        raise Invalid("The edited post is empty. Write the post, or reject the draft.")
    if draft.post_link not in text:
        raise Invalid(f"The edited post must keep the link {draft.post_link} exactly as it is.")
    # The same check the publisher makes just before posting.
    allowed = allowed_entities(config, config.feed(draft.feed_id), draft.partner)
    problems = post_problems(text, link=draft.post_link, allowed=allowed)
    if problems:
        raise Invalid(f"The edited post cannot be posted: {'; '.join(problems)}.")
    length = weighted_length(text)
    if length > MAX_LENGTH:
        raise Invalid(
            f"The edited post is {length} characters as X counts them; the most is {MAX_LENGTH}. "
            f"Shorten it by {length - MAX_LENGTH}."
        )
    return text, length


def network_edit(draft: Draft, network: str, form: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Bluesky's or Mastodon's post as the approver edited it, and the words they typed: the
    `hook_<network>` field (the words, the link kept apart), or the whole `text_<network>`."""
    from hookline.approval.renditions import join_hook, split_post

    made = draft.networks.get(network) or {}
    text = str(made.get("text") or draft.text)
    link = str(made.get("link") or draft.post_link)
    words = first(form, f"hook_{network}")
    if words is not None:
        return join_hook(split_post(text, link), words), words
    return first(form, f"text_{network}"), None


def check_network_edit(
    config: Config, draft: Draft, network: str, edited: str, words: str | None = None
) -> tuple[str, int]:
    """The edited post for `network`, cleaned, and its length as that network counts it, against
    its own limit and the same final check as X's; Invalid says what to fix, naming the network."""
    from hookline.approval.views import NETWORK_NAMES
    from hookline.compose.clean import clean_text
    from hookline.compose.entities import allowed_entities, post_problems
    from hookline.compose.measure import (
        BLUESKY_GRAPHEMES,
        MASTODON_CHARACTERS,
        bluesky_length,
        mastodon_length,
    )

    name = NETWORK_NAMES.get(network, network.title())
    made = draft.networks.get(network) or {}
    link = str(made.get("link") or draft.post_link)
    text = clean_text(edited, neutralise=False)
    if not text or (words is not None and not words.strip()):
        raise Invalid(f"The edited post for {name} is empty: write its words, or untick {name}.")
    if link not in text:
        raise Invalid(f"The edited post for {name} must keep the link {link} exactly as it is.")
    allowed = allowed_entities(config, config.feed(draft.feed_id), draft.partner)
    problems = post_problems(text, link=link, allowed=allowed)
    if problems:
        raise Invalid(f"The edited post for {name} cannot be posted: {'; '.join(problems)}.")
    if network == "bluesky":
        length, limit = bluesky_length(text), int(made.get("limit") or BLUESKY_GRAPHEMES)
    else:
        length, limit = mastodon_length(text), int(made.get("limit") or MASTODON_CHARACTERS)
    if length > limit:
        raise Invalid(
            f"The edited post for {name} is {length} characters as {name} counts them; the most is "
            f"{limit}. Shorten it by {length - limit}."
        )
    return text, length
