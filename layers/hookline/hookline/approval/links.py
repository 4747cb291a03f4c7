"""Signed personal links (itsdangerous, HMAC-SHA256, a salt per purpose, an expiry).

A decide token names one draft and one approver; a view token names one draft and
can decide nothing (for shared channels); a queue token names one approver. The
salts keep the purposes apart: a view or queue token never verifies as a decide
token, whatever its payload says.

Draft tokens are also bound to the draft's creation time. A draft id is derived
from its feed entry, so if a draft were ever removed and the entry drafted again
(a table restore, a cleanup, a re-baselined feed), links mailed for the old draft
would otherwise open, and decide, the new one that nobody has reviewed yet.

Keys are newest first: links signed with an older key keep working until they
expire, so the signing key can be rotated without breaking mail already sent.
Whether the approver named in a token is still an approver is checked against the
config at every use, so removing someone revokes every link they were sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from hookline.config import Config
from hookline.errors import Forbidden
from hookline.models import Draft

DECIDE = "hookline.draft.decide.v1"
VIEW = "hookline.draft.view.v1"
QUEUE = "hookline.queue.v1"


def _stamp(created_at: datetime) -> int:
    """The draft's creation time in whole milliseconds: short in a URL, exact enough to tell drafts apart."""
    return int(created_at.timestamp() * 1000)


@dataclass(frozen=True)
class Claims:
    draft_id: str | None
    approver: str | None  # email; None for a view-only link
    created: int | None = None  # the bound draft's creation stamp

    @property
    def can_decide(self) -> bool:
        return self.approver is not None

    def check_draft(self, draft: Draft) -> None:
        """A token for an earlier draft with the same id opens nothing."""
        if self.created != _stamp(draft.created_at):
            raise Forbidden(
                "This link was sent for an earlier draft of this entry. Use the newest notification."
            )


class LinkSigner:
    def __init__(self, keys: list[str], max_age: timedelta, base_url: str = "") -> None:
        if not keys or not all(keys):
            raise ValueError("at least one non-empty signing key is needed")
        self.max_age = int(max_age.total_seconds())
        self.base_url = base_url.rstrip("/")
        # itsdangerous signs with the last key and accepts any of them.
        ordered = list(reversed(keys))
        self._serializers = {
            salt: URLSafeTimedSerializer(ordered, salt=salt, signer_kwargs={"digest_method": hashlib.sha256})
            for salt in (DECIDE, VIEW, QUEUE)
        }

    # -- issuing ---------------------------------------------------------------------------

    def decide_token(self, draft: Draft, approver_email: str) -> str:
        payload = {"d": draft.id, "a": approver_email.lower(), "c": _stamp(draft.created_at)}
        return str(self._serializers[DECIDE].dumps(payload))

    def view_token(self, draft: Draft) -> str:
        return str(self._serializers[VIEW].dumps({"d": draft.id, "c": _stamp(draft.created_at)}))

    def queue_token(self, approver_email: str) -> str:
        return str(self._serializers[QUEUE].dumps({"a": approver_email.lower()}))

    def review_url(self, draft_id: str, token: str) -> str:
        return f"{self.base_url}/drafts/{quote(draft_id)}?token={quote(token)}"

    def decide_url(self, draft: Draft, approver_email: str) -> str:
        """An approver's personal review link: it can decide, in their name."""
        return self.review_url(draft.id, self.decide_token(draft, approver_email))

    def view_url(self, draft: Draft) -> str:
        """A view-only review link, for shared channels."""
        return self.review_url(draft.id, self.view_token(draft))

    def queue_url(self, token: str) -> str:
        return f"{self.base_url}/queue?token={quote(token)}"

    # -- checking --------------------------------------------------------------------------

    def _load(self, salt: str, token: str) -> dict[str, Any]:
        if not token:
            raise Forbidden("This link has no token. Open the link exactly as it was sent to you.")
        try:
            data = self._serializers[salt].loads(token, max_age=self.max_age)
        except SignatureExpired:
            raise Forbidden(
                "This link has expired. Use the newest notification, or your queue link, to decide."
            ) from None
        except BadSignature:
            raise Forbidden("This link is not valid. It may have been changed or cut short.") from None
        if not isinstance(data, dict):
            raise Forbidden("This link is not valid. It may have been changed or cut short.")
        return data

    def read_draft_token(self, token: str, draft_id: str, config: Config) -> Claims:
        """Claims for a review link: a personal decide link, else a view-only link.

        The caller must still hand the draft to `Claims.check_draft` once it has loaded it.
        """
        try:
            data = self._load(DECIDE, token)
            approver = str(data.get("a", ""))
        except Forbidden as decide_error:
            try:
                data = self._load(VIEW, token)
            except Forbidden:
                raise decide_error from None
            approver = ""
        if data.get("d") != draft_id:
            raise Forbidden("This link is for a different draft.")
        created = data.get("c")
        if not isinstance(created, int):
            raise Forbidden("This link is not valid. It may have been changed or cut short.")
        claims = Claims(draft_id=draft_id, approver=approver or None, created=created)
        if approver and config.approver(approver) is None:
            raise Forbidden("This link belongs to someone who is no longer an approver.")
        return claims

    def read_queue_token(self, token: str, config: Config) -> Claims:
        data = self._load(QUEUE, token)
        approver = str(data.get("a", ""))
        if config.approver(approver) is None:
            raise Forbidden("This link belongs to someone who is no longer an approver.")
        return Claims(draft_id=None, approver=approver)
