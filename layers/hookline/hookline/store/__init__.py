"""The only code that talks to DynamoDB.

One table holds everything (see template.yaml for its key schema):

  pk                    sk                     what
  FEED#<feed>           STATE                  poll record: validators, streaks, counts
  FEEDS                 NOT_MODIFIED           poll records of feeds that answered 304 and were
                                               healthy: one attribute (time) per feed, batched
  FEED#<feed>           SEEN#<identity hash>   the entry was handled (drafted or skipped)
  FEED#<feed>           SKIP#<entry key>       why an entry was skipped, with the entry (expires by TTL;
                                               `state` SKIPPED lists it in the ByState index)
  LINK#<link hash>      LINK                   a normalised link was handled (any feed)
  DRAFT#<id>            DRAFT                  the draft; `state`/`state_at` feed the ByState index
  DRAFT#<id>            AUDIT#<time>#<version> one transition: who, when, what changed
  DRAFT#<id>            NOTIFIED#<channel>     a notification went out (idempotent per approver)
  DRAFT#<id>            NETWORK#<network>      the draft's delivery to one network (Bluesky, Mastodon):
                                               its own state, attempt lease and outcome
  DELIVERIES            <network>#<draft id>   an open delivery (APPROVED or PUBLISHING), to list them
  CONTROL               PAUSE | ACCOUNT | LAST_POST | LAST_POST#<network> | HOLD | LIMIT
  PACE#<yyyy-mm>        MONTH                  X's spend reserved this month (cents), posts
  PACE#<yyyy-mm-dd>     DAY | DAY#<network>    posts reserved today on X | on another network

Every state change is a conditional write: a draft moves only from the state
the caller saw, and its audit entry is written in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from hookline.models import Draft
from hookline.store.controls import ControlStore
from hookline.store.deliveries import DeliveryStore
from hookline.store.drafts import DraftStore
from hookline.store.ledger import FeedLedgerStore
from hookline.store.pacing import PacingStore
from hookline.store.records import (
    Controls,
    DraftNotFound,
    FeedState,
    Hold,
    ItemTooLarge,
    MonthSpend,
    Move,
    PaceRefused,
    Pause,
    SkipConflict,
    StateConflict,
    StoreError,
)
from hookline.store.table import (
    BATCH_GET_LIMIT,
    BATCH_WRITE_LIMIT,
    ITEM_BUDGET,
    ITEM_LIMIT,
    MAX_STRING,
    NOT_MODIFIED_CHUNK,
    PACE_CONFLICT_TRIES,
    SAME_STATE_ACTIONS,
    SKIPPED,
    STATE_INDEX,
    TRANSACTION_TRIES,
    capped,
    dynamodb_client,
    item_size,
    normalise_link,
)

__all__ = [
    "BATCH_GET_LIMIT",
    "BATCH_WRITE_LIMIT",
    "ITEM_BUDGET",
    "ITEM_LIMIT",
    "MAX_STRING",
    "NOT_MODIFIED_CHUNK",
    "PACE_CONFLICT_TRIES",
    "SAME_STATE_ACTIONS",
    "SKIPPED",
    "STATE_INDEX",
    "TRANSACTION_TRIES",
    "ApprovalStore",
    "ControlStore",
    "Controls",
    "DeliveryStore",
    "DraftNotFound",
    "DraftStore",
    "FeedLedgerStore",
    "FeedState",
    "Hold",
    "ItemTooLarge",
    "MonthSpend",
    "Move",
    "PaceRefused",
    "PacingStore",
    "Pause",
    "PollStore",
    "PublishStore",
    "SkipConflict",
    "StateConflict",
    "Store",
    "StoreError",
    "capped",
    "dynamodb_client",
    "item_size",
    "normalise_link",
]


class PollStore(FeedLedgerStore, DraftStore, ControlStore):
    """What the poll stage uses: the feed ledger (state, seen markers, skips), drafts, and one
    control item (the Mastodon server's limits it composes with, poll/instance.py)."""


class ApprovalStore(FeedLedgerStore, DraftStore, ControlStore, PacingStore, DeliveryStore):
    """What the approval stage uses: drafts and their decisions, the controls and pacing a
    decision reads, the skips a person drafts by hand, and the other networks' deliveries an
    approval opens or a Retry moves."""

    def draft_and_controls(
        self, draft_id: str, month: str, days: Iterable[str] = ()
    ) -> tuple[Draft | None, Controls]:
        """The draft and `controls` in one consistent BatchGetItem: all a decision reads before
        it writes (one round trip, a few small items)."""
        days = list(dict.fromkeys(days))
        draft_key = (f"DRAFT#{draft_id}", "DRAFT")
        keys = [draft_key, *self._control_keys(month, days)]
        items = {(i["pk"], i["sk"]): i for i in self._batch_get(keys, keys_only=False)}
        found = items.get(draft_key)
        return (self._draft_from(found) if found else None), self._controls_from(items, month, days)


class PublishStore(DraftStore, ControlStore, PacingStore, DeliveryStore):
    """What the publish stage uses: drafts and their deliveries, the controls (pause, holds,
    the account check) and pacing (reservations, spend)."""


class Store(PollStore, ApprovalStore, PublishStore):
    """The one facade over the table: each aggregate is a room of its own (ledger, drafts,
    controls, pacing, deliveries), over the shared plumbing in `table`. The wiring builds it;
    a stage's code takes its stage's view (PollStore, ApprovalStore, PublishStore) or the one
    aggregate it uses, so its signature says which parts of the table it may touch."""
