"""What every approvals page starts from: the services, who a link names, and reads made at once.

The pages (pages.py), the decisions (decisions.py, change_link.py) and the queue (queue.py)
build on `ApprovalsBase`; review.py puts them together as `Approvals`, the room's door.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from hookline.approval.forms import first
from hookline.errors import Forbidden, NotFound

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from hookline.approval.links import Claims, LinkSigner
    from hookline.clock import Clock
    from hookline.config import Approver, Config
    from hookline.invoke import FunctionInvoker
    from hookline.models import AuditEntry, Draft
    from hookline.poll.linkcheck import PageCheck
    from hookline.store import ApprovalStore, Controls


@lru_cache(maxsize=1)
def readers() -> ThreadPoolExecutor:
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="hookline-read")


def together(*reads: Callable[[], Any]) -> list[Any]:
    """Independent reads at once (boto3 clients are thread-safe): a page waits for the slowest
    round trip to DynamoDB, not for their sum. The first runs in the caller's thread."""
    others = [readers().submit(read) for read in reads[1:]]
    done = reads[0]()
    return [done, *(future.result() for future in others)]


@dataclass(frozen=True)
class Page:
    status: int
    html: str


class ApprovalsBase:
    def __init__(
        self,
        config: Config,
        store: ApprovalStore,
        signer: LinkSigner,
        clock: Clock,
        invoker: FunctionInvoker | None = None,
        link_checker: Callable[[str], PageCheck] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.signer = signer
        self.clock = clock
        self.invoker = invoker  # the poll function, which drafts a skip a person asks for
        self.link_checker = link_checker  # the link pre-flight, for a link an approver changes

    @property
    def tz(self) -> ZoneInfo:
        return self.config.organisation.tz

    # -- who and what ----------------------------------------------------------------------

    @staticmethod
    def _found(draft: Draft | None) -> Draft:
        if draft is None:
            raise NotFound("There is no such draft. It may have been removed, or the link is incomplete.")
        return draft

    def _opened(self, claims: Claims, draft: Draft) -> tuple[Draft, Approver | None]:
        """The draft a review link opens, and the approver it names (None: view-only)."""
        claims.check_draft(draft)
        return draft, self.config.approver(claims.approver) if claims.approver else None

    def _queue_approver(self, token: str) -> Approver:
        claims = self.signer.read_queue_token(token, self.config)
        approver = self.config.approver(claims.approver or "")
        if approver is None:  # read_queue_token already refused it; this keeps mypy honest
            raise Forbidden("This link belongs to someone who is no longer an approver.")
        return approver

    def _controls(self) -> Controls:
        """Pause, hold, last post, the month's spend and today's posts: one BatchGetItem."""
        local = self.clock().astimezone(self.tz)
        return self.store.controls(local.strftime("%Y-%m"), [local.date().isoformat()])

    def _decider(
        self, draft_id: str, form: Mapping[str, Any]
    ) -> tuple[str, Draft, Approver, list[AuditEntry]]:
        token = first(form, "token") or ""
        claims = self.signer.read_draft_token(token, draft_id, self.config)
        found, history = self.store.draft_and_audit(draft_id)
        draft, approver = self._opened(claims, self._found(found))
        if approver is None:
            raise Forbidden("This is a view-only link; it cannot decide. Use the personal link sent to you.")
        return token, draft, approver, history
