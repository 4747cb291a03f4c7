"""Review and decide: what the approvals endpoint does, free of HTTP and Lambda.

A GET never changes anything (mail scanners fetch links). A decision needs the
`action` of the button the approver clicked; a form submitted without a click has
none and is refused. Each draft takes one decision: the store's conditional write
lets exactly one of two racing approvers win, and the other is told who did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from hookline.approval.links import Claims, LinkSigner
from hookline.approval.views import render_html
from hookline.clock import Clock, parse_iso
from hookline.config import Approver, Config, cents
from hookline.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound
from hookline.models import AuditEntry, Draft, Queued, State
from hookline.store import Controls, Move, SkipConflict, StateConflict, Store

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from hookline.approval.renditions import Parts, Rendition
    from hookline.invoke import FunctionInvoker
    from hookline.poll.linkcheck import PageCheck

log = logging.getLogger(__name__)

# action -> (states it may start from, state it leads to)
ACTIONS: dict[str, tuple[tuple[State, ...], State]] = {
    "approve": ((State.PENDING,), State.APPROVED),
    "reject": ((State.PENDING,), State.REJECTED),
    "withdraw": ((State.APPROVED,), State.REJECTED),
    "retry": ((State.FAILED,), State.APPROVED),
}
PAST = {"APPROVED": "approved", "REJECTED": "rejected"}
VERB = {
    "approve": "approved",
    "reject": "rejected",
    "withdraw": "withdrawn",
    "retry": "retried",
    "change-link": "changed",
}
MAX_LENGTH = 280
MAX_REASON = 500
MAX_SKIPS_SHOWN = 50
MAX_LINK = 2000
# An approval whose post would go out later than this is labelled with the time it goes out.
SOON = timedelta(minutes=1)


@lru_cache(maxsize=1)
def _readers() -> ThreadPoolExecutor:
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="hookline-read")


def _together(*reads: Callable[[], Any]) -> list[Any]:
    """Independent reads at once (boto3 clients are thread-safe): a page waits for the slowest
    round trip to DynamoDB, not for their sum. The first runs in the caller's thread."""
    others = [_readers().submit(read) for read in reads[1:]]
    first = reads[0]()
    return [first, *(future.result() for future in others)]


@dataclass(frozen=True)
class Page:
    status: int
    html: str


def _first(form: Mapping[str, Any], name: str) -> str | None:
    value = form.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _left_out(form: Mapping[str, Any], networks: Sequence[str]) -> list[str]:
    """The networks an approver unticked (`include_<network>`): the page sends a hidden "no"
    then the checkbox's "yes", so the last value is the box; a form without the field (an older
    page) leaves every network in."""
    out = []
    for network in networks:
        value = form.get(f"include_{network}")
        if isinstance(value, list):
            value = value[-1] if value else None
        if network != "x" and isinstance(value, str) and value.strip().lower() in ("no", "0", "off", "false"):
            out.append(network)
    return out


def expected_publish_at(
    store: Store,
    config: Config,
    draft: Draft,
    now: datetime,
    controls: Controls | None = None,
    approved: Sequence[Queued] | None = None,
) -> datetime:
    """When an approved draft should go out: after the approved drafts ahead of it, in the window,
    with the spacing and the daily cap. An estimate shown to people, not a promise.

    `controls` and `approved` (the approved queue), when the caller has read them already, save
    reading them again."""
    pacing = config.pacing
    tz = config.organisation.tz
    spacing = timedelta(minutes=pacing.min_spacing_minutes)
    horizon = now + timedelta(hours=pacing.event_priority_hours)

    def order(d: Queued) -> tuple[int, datetime]:
        if d.event_start and d.event_start <= horizon:
            return (0, d.event_start)
        return (1, d.approved_at or d.state_at)

    mine = order(Queued.of(draft))
    queue = approved if approved is not None else store.queued(State.APPROVED)
    ahead = sum(1 for d in queue if d.id != draft.id and order(d) < mine)
    at = max(now, draft.not_before or now)
    last = controls.last_post_at if controls is not None else store.last_post_at()
    if last:
        at = max(at, last + spacing)
    day = at.astimezone(tz).date()
    if controls is None:
        posts_today = store.posts_on(day.isoformat())
    else:
        known = controls.posts_on(day.isoformat())
        if known is None:  # another day than the one read (an evening, a later not_before): read it alike
            known = store.controls(day.strftime("%Y-%m"), [day.isoformat()]).posts_on(day.isoformat())
        posts_today = known or 0
    for slot in range(ahead + 1):
        at = pacing.window.next_open(at, tz)
        if at.astimezone(tz).date() != day:
            day, posts_today = at.astimezone(tz).date(), 0
        while pacing.daily_cap and posts_today >= pacing.daily_cap:
            local = at.astimezone(tz)
            tomorrow = datetime.combine(local.date() + timedelta(days=1), pacing.window.start, tzinfo=tz)
            at = pacing.window.next_open(tomorrow, tz)
            day, posts_today = at.astimezone(tz).date(), 0
        if slot < ahead:
            posts_today += 1
            at += spacing
    return at


class Approvals:
    def __init__(
        self,
        config: Config,
        store: Store,
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

    # -- the review page -------------------------------------------------------------------

    def review(self, draft_id: str, token: str) -> Page:
        # The token is checked before anything is read; then the draft with its history (one
        # Query) and the controls (one BatchGetItem) are read at once.
        claims = self.signer.read_draft_token(token, draft_id, self.config)
        (found, audit), controls, approved = _together(
            lambda: self.store.draft_and_audit(draft_id),
            self._controls,
            lambda: self.store.queued(State.APPROVED),  # for when an approval now would go out
        )
        draft, viewer = self._opened(claims, self._found(found))
        html = self._render_review(
            draft,
            token,
            viewer,
            audit=audit,
            controls=controls,
            approved=approved,
            track=self._track_record(draft),
        )
        return Page(200, html)

    def _track_record(self, draft: Draft, last: int = 14) -> str | None:
        """How the team decided the latest drafts made the same way (rule and term), for the line
        under "why it was queued": "approved 12 of the last 14 drafts from this rule"."""
        if not draft.rule or not draft.term or draft.by_hand:
            return None
        rule, term = draft.rule, draft.term
        states = (State.APPROVED, State.PUBLISHED, State.REJECTED, State.EXPIRED)
        found = _together(
            *(lambda s=s: [(at, s) for _, at in self.store.decided_like(s, rule, term)] for s in states)
        )
        latest = sorted((pair for pairs in found for pair in pairs), reverse=True)[:last]
        if not latest:
            return None
        approved = sum(1 for _, state in latest if state in (State.APPROVED, State.PUBLISHED))
        kind, _, written = term.partition(":")
        how = f"{kind} {written!r}" if written else "an event date"
        return f"The team approved {approved} of the last {len(latest)} drafts from this rule ({how}, rule {rule!r})."

    def _controls(self) -> Controls:
        """Pause, hold, last post, the month's spend and today's posts: one BatchGetItem."""
        local = self.clock().astimezone(self.tz)
        return self.store.controls(local.strftime("%Y-%m"), [local.date().isoformat()])

    def _render_review(
        self,
        draft: Draft,
        token: str,
        viewer: Approver | None,
        *,
        notice: dict[str, str] | None = None,
        hooks: dict[str, str | Parts] | None = None,
        audit: list[AuditEntry] | None = None,
        controls: Controls | None = None,
        approved: Sequence[Queued] | None = None,
        track: str | None = None,
        reject_step: bool = False,
        new_link: str | None = None,
    ) -> str:
        audit = audit if audit is not None else self.store.audit(draft.id)
        context = self._context(draft, token, viewer, controls, approved, audit=audit, hooks=hooks)
        return render_html(
            "review.html",
            **context,
            track=track,
            notice=notice,
            audit=audit,
            reject_step=reject_step,
            new_link=new_link,
        )

    def _context(
        self,
        draft: Draft,
        token: str,
        viewer: Approver | None,
        controls: Controls | None = None,
        approved: Sequence[Queued] | None = None,
        *,
        audit: Sequence[AuditEntry] = (),
        hooks: dict[str, str | Parts] | None = None,
    ) -> dict[str, Any]:
        from hookline.approval.renditions import renditions

        now = self.clock()
        controls = controls or self._controls()
        hold = controls.hold
        spend = controls.month
        shown = renditions(self.config, draft, audit, hooks)
        price = sum(r.price_cents for r in shown)
        cap = cents(self.config.pacing.monthly_spend_cap_usd)
        over_cap = spend.cents + price > cap
        expected = None
        if draft.state is State.APPROVED:  # the only state the pages show it for; it reads the approved queue
            expected = expected_publish_at(self.store, self.config, draft, now, controls, approved)
        approve_label = None
        if draft.state is State.PENDING and viewer is not None:
            approve_label = self._approve_label(draft, shown, now, controls, approved, over_cap=over_cap)
        return {
            "renditions": shown,
            "approve_label": approve_label,
            "account_note": self._account_note(controls),
            "verdict": check_verdict(draft.preflight),
            "config": self.config,
            "draft": draft,
            "token": token,
            "viewer": viewer,
            "pause": controls.pause,
            "hold": hold.get("reason") if hold else None,
            "spend": spend,
            "cap_cents": cap,
            "price_cents": price,
            "over_cap": over_cap,
            "expected": expected,
            "action_url": f"{self.signer.base_url}/drafts/{draft.id}",
            "queue_url": self.signer.queue_url(self.signer.queue_token(viewer.email)) if viewer else None,
            "tz": self.tz,
            "now": now,
            "max_length": MAX_LENGTH,
        }

    def _approve_label(
        self,
        draft: Draft,
        shown: Sequence[Rendition],
        now: datetime,
        controls: Controls,
        approved: Sequence[Queued] | None,
        *,
        over_cap: bool,
    ) -> str:
        """The Approve button names what pressing it does: where it posts and what it costs, or,
        when the post must wait, when it goes out."""
        from hookline.approval.views import usd

        if controls.pause.paused:
            return "Approve (goes out when publishing resumes)"
        if controls.hold:
            return "Approve (goes out once the account check passes)"
        if over_cap:
            return "Approve (goes out when next month's spend cap opens)"
        if_now = draft.model_copy(update={"state": State.APPROVED, "approved_at": now, "state_at": now})
        at = expected_publish_at(self.store, self.config, if_now, now, controls, approved)
        if at > now + SOON:
            local, today = at.astimezone(self.tz), now.astimezone(self.tz).date()
            return (
                f"Approve (goes out at {local:%H:%M})"
                if local.date() == today
                else (f"Approve (goes out {local:%a %-d %b, %H:%M})")
            )
        names = ", ".join(r.name for r in shown)
        if not names:
            return "Approve"
        return f"Approve and post to {names} ({usd(sum(r.price_cents for r in shown))})"

    def _account_note(self, controls: Controls) -> str | None:
        """A warning when the publisher's last check found the credentials are another account's."""
        record = controls.account
        if self.config.accounts.x is None or not record:
            return None
        handle = self.config.account.bare_handle
        if record.get("expected") != self.config.account.user_id:
            return None
        username = record.get("username")
        if not record.get("ok"):
            if record.get("kind") == "account" and username:
                return (
                    f"The X credentials belong to @{username}, not @{handle}: nothing is posted "
                    "until they are the corporate account's again."
                )
            return f"The X credentials cannot be used ({record.get('problem') or 'no reason given'})."
        if username and str(username).casefold() != handle.casefold():
            return (
                f"The X credentials' account is called @{username} now (the same account id); "
                f"the configuration says @{handle}. Check the handle in the configuration."
            )
        return None

    # -- decisions -------------------------------------------------------------------------

    def decide(self, draft_id: str, form: Mapping[str, Any]) -> Page:
        action = _first(form, "action")
        if action is None and _first(form, "step") == "reject":
            return self._reject_step(draft_id, form)
        if action == "change-link":
            return self._change_link(draft_id, form)
        if action not in ACTIONS:
            raise BadRequest(
                "No decision was made: the form arrived without a button press. "
                "Open the link and press Approve or Reject."
            )
        token = _first(form, "token") or ""
        claims = self.signer.read_draft_token(token, draft_id, self.config)
        # Two reads at once, then the write: the draft with the controls (one BatchGetItem), and for
        # an approval the queue it joins (one Query of the index), which do not depend on the draft.
        # The history is not read: the result page shows this decision, the review page all of them.
        queue = (
            _readers().submit(self.store.queued, State.APPROVED) if action in ("approve", "retry") else None
        )
        local = self.clock().astimezone(self.tz)
        found, controls = self.store.draft_and_controls(
            draft_id, local.strftime("%Y-%m"), [local.date().isoformat()]
        )
        draft, approver = self._opened(claims, self._found(found))
        if approver is None:
            raise Forbidden("This is a view-only link; it cannot decide. Use the personal link sent to you.")
        expected, target = ACTIONS[action]
        if draft.state not in expected:
            raise Conflict(self._conflict_message(draft, action))

        now = self.clock()
        changes: dict[str, Any] = {"decided_by": approver.name, "decided_at": now}
        remove: list[str] = []
        text_after = None
        reason = " ".join((_first(form, "reason") or "").split())[:MAX_REASON] or None
        label = action
        if action == "approve":
            changes["approved_at"] = now
            left_out = _left_out(form, self.config.networks)
            if left_out:
                # Kept on the draft's renditions, where the deliveries are opened from.
                networks = {name: dict(made) for name, made in draft.networks.items()}
                for name in left_out:
                    networks.setdefault(name, {})["included"] = False
                changes["networks"] = networks
            edited, words = self._edited_text(draft, form)
            if edited is not None and " ".join(edited.split()) != " ".join(draft.text.split()):
                try:
                    if words is not None and not words.strip():
                        raise Invalid("The edited post is empty: write its words, or reject the draft.")
                    text_after, length = self._check_edit(draft, edited)
                except Invalid as exc:
                    # The approver's words stay in the box, with what to fix; nothing changes.
                    from hookline.approval.renditions import split_post

                    html = self._render_review(
                        draft,
                        token,
                        approver,
                        notice={"tone": "error", "text": str(exc)},
                        hooks={"x": words if words is not None else split_post(edited, draft.post_link)},
                        controls=controls,
                    )
                    return Page(422, html)
                if text_after != draft.text:
                    changes.update(text=text_after, weighted_length=length)
                    label = "edit and approve"
                else:
                    text_after = None
        elif action == "retry":
            changes.update(not_before=now, approved_at=now)
            remove.append("failure")
        try:
            after, entry = self.store.write_transition(
                draft,
                Move(
                    target,
                    actor=f"{approver.name} <{approver.email}>",
                    action=label,
                    expect=expected,
                    changes=changes,
                    remove=remove,
                    reason=reason,
                    text_after=text_after,
                ),
            )
        except StateConflict as exc:
            raise Conflict(self._conflict_message(exc.draft or draft, action)) from None
        if action == "approve" and any(n != "x" for n in self.config.networks):
            self._open_deliveries(after)
        html = self._render_result(
            after, token, approver, action, controls, queue.result() if queue else None, [entry]
        )
        return Page(200, html)

    def _open_deliveries(self, draft: Draft) -> None:
        """Each other network's delivery, as the draft is approved (the publisher opens any that
        are missing too, while the draft is still APPROVED: a failure here loses nothing)."""
        from hookline.publish.delivery import open_deliveries

        try:
            open_deliveries(self.store, self.config, draft, self.clock())
        except Exception:
            log.exception(
                "could not open the other networks' deliveries; the publisher will",
                extra={"draft_id": draft.id},
            )

    def _render_result(
        self,
        draft: Draft,
        token: str,
        approver: Approver,
        action: str,
        controls: Controls,
        queue: list[Queued] | None,
        audit: list[AuditEntry],
    ) -> str:
        # `draft` and `audit` are as this decision left them: nothing is read back.
        context = self._context(draft, token, approver, controls, queue)
        posting_now = False
        if action in ("approve", "retry"):
            expected = context["expected"]
            if context["pause"].paused:
                when = "It is expected to go out when publishing resumes (it is paused now)."
            elif context["hold"]:
                when = "It is expected to go out once the account hold shown below is cleared."
            elif context["over_cap"]:
                when = "It waits: this post would go over the month's spend cap (below)."
            elif expected is None or expected <= context["now"]:
                # Its approval has started the publisher already (the table's stream)
                posting_now = True
                when = "Posting now: it goes out within seconds."
            else:
                when = (
                    f"It is expected to go out at about {expected.astimezone(self.tz):%a %-d %b, %H:%M %Z}."
                )
            title = "Approved" if action == "approve" else "Publishing will be retried"
            text = f"{when} You can withdraw it until then."
        elif action == "withdraw":
            title, text = "Approval withdrawn", "Nothing will be posted."
        else:
            title, text = "Rejected", "Nothing will be posted."
        return render_html(
            "result.html",
            **context,
            title=title,
            result=text,
            action=action,
            audit=audit,
            posting_now=posting_now,
            review_url=self.signer.review_url(draft.id, token),
            history_heading="This decision (the review page shows the whole history)",
        )

    def _conflict_message(self, draft: Draft, action: str) -> str:
        def at(value: datetime | None) -> str:
            return f" at {value.astimezone(self.tz):%a %-d %b %Y, %H:%M %Z}" if value else ""

        approved_by = f" (approved by {draft.decided_by})" if draft.decided_by else ""
        state = draft.state
        if state in (State.APPROVED, State.REJECTED):
            by = f" by {draft.decided_by}" if draft.decided_by else ""
            what = f"already {PAST[state.value]}{by}{at(draft.decided_at or draft.state_at)}"
        elif state is State.PUBLISHED:
            what = f"already published{at(draft.published_at or draft.state_at)}{approved_by}"
        elif state is State.PUBLISHING:
            return f"This draft is being published right now{approved_by}, so it cannot be {VERB[action]}."
        elif state is State.FAILED:
            what = f"refused by X{at(draft.state_at)}{approved_by}"
        elif state is State.EXPIRED:
            what = f"expired{at(draft.state_at)} (nobody decided in time, or the event started)"
        else:
            return f"This draft is still waiting for a decision, so it cannot be {VERB[action]} yet."
        return f"This draft was {what}, so it cannot be {VERB[action]} now."

    @staticmethod
    def _edited_text(draft: Draft, form: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """The post the approver approves, and the words they typed: the `hook` field (the words,
        the link kept apart), or the whole `text` (the older form, still accepted)."""
        from hookline.approval.renditions import join_hook, split_post

        words = _first(form, "hook")
        if words is not None:
            return join_hook(split_post(draft.text, draft.post_link), words), words
        return _first(form, "text"), None

    def _decider(
        self, draft_id: str, form: Mapping[str, Any]
    ) -> tuple[str, Draft, Approver, list[AuditEntry]]:
        token = _first(form, "token") or ""
        claims = self.signer.read_draft_token(token, draft_id, self.config)
        found, history = self.store.draft_and_audit(draft_id)
        draft, approver = self._opened(claims, self._found(found))
        if approver is None:
            raise Forbidden("This is a view-only link; it cannot decide. Use the personal link sent to you.")
        return token, draft, approver, history

    def _reject_step(self, draft_id: str, form: Mapping[str, Any]) -> Page:
        """Reject pressed where the page's script did not run: the same page, asking why."""
        token, draft, approver, history = self._decider(draft_id, form)
        if draft.state is not State.PENDING:
            raise Conflict(self._conflict_message(draft, "reject"))
        return Page(200, self._render_review(draft, token, approver, audit=history, reject_step=True))

    def _change_link(self, draft_id: str, form: Mapping[str, Any]) -> Page:
        """A new destination for a pending draft: used only once the link pre-flight has opened it."""
        token, draft, approver, history = self._decider(draft_id, form)
        if draft.state is not State.PENDING:
            raise Conflict(self._conflict_message(draft, "change-link"))
        new = (_first(form, "link") or "").strip()

        def refused(message: str, status: int = 422) -> Page:
            notice = {"tone": "error", "text": message}
            html = self._render_review(draft, token, approver, audit=history, notice=notice, new_link=new)
            return Page(status, html)

        if new == draft.post_link:
            return refused("That is the link the post has already; nothing was changed.", 200)
        if not _is_web_link(new):
            return refused(
                "The new link was not used: it must be a whole web address starting with https:// "
                "(or http://), with no spaces."
            )
        from hookline.compose.entities import link_refusal

        refusal = link_refusal(new)
        if refusal:
            return refused(f"The new link was not used: {refusal}.")
        if self.link_checker is None:
            return refused("Changing the link is not set up for this deployment; nothing was changed.")
        check = self.link_checker(new)
        if not check.ok:
            problems = "; ".join(check.warnings) or "it does not open"
            return refused(f"The new link was not used: {problems}")
        text = draft.text.replace(draft.post_link, new, 1)
        text_after, length = self._check_edit(draft.model_copy(update={"post_link": new}), text)
        try:
            after, entry = self.store.write_transition(
                draft,
                Move(
                    State.PENDING,
                    actor=f"{approver.name} <{approver.email}>",
                    action="change link",
                    expect=(State.PENDING,),
                    changes={
                        "post_link": new,
                        "text": text_after,
                        "weighted_length": length,
                        "preflight": check.as_json(),
                    },
                    reason=f"link changed from {draft.post_link} to {new}",
                    text_after=text_after,
                ),
            )
        except StateConflict as exc:
            raise Conflict(self._conflict_message(exc.draft or draft, "change-link")) from None
        verdict = check_verdict(after.preflight)
        notice = {"tone": "ok", "text": f"The link is now {new}. Link check: {verdict['text']}"}
        return Page(200, self._render_review(after, token, approver, audit=[*history, entry], notice=notice))

    def _check_edit(self, draft: Draft, edited: str) -> tuple[str, int]:
        from hookline.compose.clean import clean_text
        from hookline.compose.entities import allowed_entities, post_problems
        from hookline.compose.measure import weighted_length

        text = clean_text(edited, neutralise=False)
        if not text:
            raise Invalid("The edited post is empty. Write the post, or reject the draft.")
        if draft.post_link not in text:
            raise Invalid(f"The edited post must keep the link {draft.post_link} exactly as it is.")
        # The same check the publisher makes just before posting: refused here, the approver
        # can fix it now rather than find the draft FAILED later.
        allowed = allowed_entities(self.config, self.config.feed(draft.feed_id), draft.partner)
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

    # -- queue and the pause switch --------------------------------------------------------

    def queue(self, token: str, *, notice: dict[str, str] | None = None) -> Page:
        approver = self._queue_approver(token)
        now = self.clock()
        pending = sorted(self.store.drafts_in(State.PENDING), key=lambda d: d.created_at)
        approved = sorted(self.store.drafts_in(State.APPROVED), key=lambda d: d.approved_at or d.state_at)
        base = self.signer.base_url
        controls = self.store.controls(now.astimezone(self.tz).strftime("%Y-%m"))
        hold = controls.hold
        skips = self.store.kept_skips(MAX_SKIPS_SHOWN, now=now) if self.invoker is not None else []
        return Page(
            200,
            render_html(
                "queue.html",
                skips=[self._skip_view(record) for record in skips],
                config=self.config,
                viewer=approver,
                pending=[{"draft": d, "url": self.signer.decide_url(d, approver.email)} for d in pending],
                approved=[{"draft": d, "url": self.signer.decide_url(d, approver.email)} for d in approved],
                token=token,
                notice=notice,
                pause=controls.pause,
                hold=hold.get("reason") if hold else None,
                now=now,
                tz=self.tz,
                pause_url=f"{base}/controls/pause",
                resume_url=f"{base}/controls/resume",
            ),
        )

    def _skip_view(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """What the queue page shows of a kept skip (every field there, for the strict template)."""
        view = {
            name: record.get(name)
            for name in (
                "title",
                "link",
                "feed_id",
                "reason",
                "requested_by",
                "requested_at",
                "draft_id",
                "draft_error",
            )
        }
        view["skipped_at"] = parse_iso(str(record["at"]))
        view["url"] = f"{self.signer.base_url}/skips/{record['feed_id']}/{record['key']}"
        return view

    def draft_skip(self, feed_id: str, key: str, form: Mapping[str, Any]) -> Page:
        """'Draft this' on a skipped entry: recorded once, then handed to the poll function,
        which composes it as a poll would (this function has no time to fetch the page)."""
        if _first(form, "action") != "draft":
            raise BadRequest("Nothing changed: press the Draft this button to have the entry drafted.")
        approver = self._queue_approver(_first(form, "token") or "")
        if self.invoker is None:
            raise NotFound("Drafting skipped entries by hand is not set up for this deployment.")
        if self.config.feed(feed_id) is None:
            raise NotFound("There is no such feed in the configuration.")
        now = self.clock()
        try:
            record = self.store.request_skip_draft(feed_id, key, by=approver.name, now=now)
        except SkipConflict as exc:
            if exc.record is None:
                raise NotFound(
                    "There is no such skipped entry: its record may have expired, or the link is incomplete."
                ) from None
            at = parse_iso(str(exc.record["requested_at"])).astimezone(self.tz)
            raise Conflict(
                f"{exc.record.get('requested_by')} already asked for this entry to be drafted "
                f"at {at:%a %-d %b %Y, %H:%M %Z}; it is drafted once."
            ) from None
        try:
            self.invoker.invoke_async(
                {"action": "draft-skip", "feed_id": feed_id, "key": key, "by": approver.name}
            )
        except Exception:
            self.store.release_skip_request(feed_id, key)  # so the button works when it is pressed again
            raise
        text = (
            f"\u201c{record.get('title', '')}\u201d is being drafted. It joins the queue above within "
            "a minute, and approvers are told as for any draft."
        )
        return self.queue(_first(form, "token") or "", notice={"tone": "ok", "text": text})

    def set_pause(self, form: Mapping[str, Any], paused: bool) -> Page:
        wanted = "pause" if paused else "resume"
        if _first(form, "action") != wanted:
            raise BadRequest(
                f"Nothing changed: press the {wanted.capitalize()} button to {wanted} publishing."
            )
        token = _first(form, "token") or ""
        approver = self._queue_approver(token)
        reason = " ".join((_first(form, "reason") or "").split())[:MAX_REASON]
        if paused and not reason:
            raise BadRequest("Say why publishing is paused, so others know when it is safe to resume.")
        self.store.set_pause(
            paused, by=f"{approver.name} <{approver.email}>", reason=reason or None, now=self.clock()
        )
        text = (
            "Publishing is paused. Drafts keep queuing; nothing is posted until someone resumes."
            if paused
            else "Publishing resumed. Approved posts go out at the next slot; expired ones do not."
        )
        return self.queue(token, notice={"tone": "ok", "text": text})


def _is_web_link(value: str) -> bool:
    from urllib.parse import urlsplit

    if not value or len(value) > MAX_LINK or any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def check_verdict(preflight: Mapping[str, Any] | None) -> dict[str, str]:
    """The link check in one line, for the summary above the button."""
    if not preflight:
        return {"tone": "warn", "text": "The linked page was not checked."}
    checks = list(preflight.get("checks") or [])
    warnings = [str(c.get("message")) for c in checks if not c.get("ok")]
    if not warnings:
        return {"tone": "ok", "text": f"OK: all {len(checks)} checks pass." if checks else "OK."}
    more = f" (and {len(warnings) - 1} more below)" if len(warnings) > 1 else ""
    return {"tone": "warn", "text": f"Warning: {warnings[0]}{more}"}


def pause_from_cli(store: Store, *, paused: bool, reason: str | None, by: str, now: datetime) -> str:
    reason = " ".join((reason or "").split())[:MAX_REASON] or None
    if paused and not reason:
        raise BadRequest("--reason is required to pause: say why, so others know when it is safe to resume")
    state = store.set_pause(paused, by=by, reason=reason, now=now)
    return f"publishing {'paused' if state.paused else 'resumed'} by {by}" + (f": {reason}" if reason else "")
