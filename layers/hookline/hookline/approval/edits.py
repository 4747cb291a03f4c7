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
