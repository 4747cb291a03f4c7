"""The approvals function, driven by the API Gateway event in events/approvals.json:
review page, decisions and their answers, audit, with DynamoDB Local behind it."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
import time_machine

from hookline.models import State
from hookline.store import Move
from tests.conftest import NOW, SIGNING_KEY
from tests.support.drafts import add_draft, event_draft, make_draft, signer
from tests.support.events import api_event, call

AT = NOW + timedelta(minutes=5)  # Wednesday 10:05 in London (GMT), inside the publish window
ALEX = "alex@example.org"
SAM = "sam@example.org"


class Api:
    """The deployed approvals function and its table, with links signed as notifications sign them."""

    def __init__(self, lambda_env: Any) -> None:
        self.env = lambda_env
        self.handler = lambda_env.handler("approvals")
        self.store = lambda_env.store()
        self.links = signer(SIGNING_KEY)

    def get(self, path: str) -> dict[str, Any]:
        return call(self.handler, api_event("GET", path))

    def post(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        return call(self.handler, api_event("POST", path, form))

    def review(self, draft: Any, who: str = ALEX) -> dict[str, Any]:
        return self.get(f"/drafts/{draft.id}?token={quote(self.links.decide_token(draft, who))}")

    def decide(self, draft: Any, action: str | None, who: str = ALEX, **fields: str) -> dict[str, Any]:
        form = {"token": self.links.decide_token(draft, who), **fields}
        if action:
            form["action"] = action
        return self.post(f"/drafts/{draft.id}", form)


@pytest.fixture
def api(lambda_env) -> Iterator[Api]:
    with time_machine.travel(AT, tick=False):
        yield Api(lambda_env)


def text_of(page: dict[str, Any]) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page["body"])).split())


def unchanged(api: Api, draft: Any) -> None:
    stored = api.store.get_draft(draft.id)
    assert stored.state is State.PENDING
    assert stored.version == draft.version
    assert stored.text == draft.text
    assert [a.action for a in api.store.audit(draft.id)] == ["queued"]


# -- the review page -------------------------------------------------------------------------


def test_the_review_page_shows_everything_needed_to_decide_and_changes_nothing(api):
    # Given a pending draft
    draft = add_draft(api.store, NOW)

    # When Alex opens the personal link
    page = api.review(draft)

    # Then the page shows the exact post, the account it goes out on, and what is left of X's count
    assert page["statusCode"] == 200
    shown = text_of(page)
    assert f"This will be posted on X E Example Trust @TweepyDev on X {draft.text} " in shown
    assert f" {280 - draft.weighted_length} characters left " in shown
    # and the destination whole, with the words to edit apart from the link
    assert "The link goes to https:// www.example.org /news/river-quality?utm_source=x" in shown
    assert re.search(
        r'<textarea id="hook-x" name="hook"[^>]*>New research report: river quality in the Fens</textarea>',
        page["body"],
    )
    # and the link check, why it was queued, the source entry and the cost against the month's cap
    assert "OK: the page answers 200 OK" in shown
    assert "Why it was queued category 'Report' matched rule 'publications'" in shown
    assert "How clean are the Fens' rivers?" in shown
    assert "Cost $0.20 for this post. This month so far: $0.00 of the $20.00 cap (0 posts)." in shown
    assert "Waiting for a decision since Wed 25 Nov 2026, 10:00 GMT (5 minutes)." in shown
    # and above the button, in order: the account, the cost, the link check
    summary = shown.split("Posts as", 1)[1]
    assert summary.index("@TweepyDev on X Cost $0.20 for this post") < summary.index(
        "Link check OK: all 2 checks pass."
    )
    assert summary.index("Link check OK") < summary.index("Approve and post to X ($0.20)")
    # and the buttons carry the action, the token rides in a hidden field
    body = page["body"]
    assert (
        '<button class="primary" type="submit" name="action" value="approve">Approve and post to X ($0.20)</button>'
        in body
    )
    assert (
        '<button class="secondary" type="submit" name="step" value="reject" data-reject-step>Reject</button>'
        in body
    )
    assert (
        '<button class="secondary" type="submit" name="action" value="reject">Reject this post</button>'
        in body
    )
    assert re.search(r'<input type="hidden" name="token" value="[^"]+">', body)
    assert "Your personal link, Alex Morgan" in shown
    # And opening it changed nothing
    unchanged(api, draft)


def test_the_review_page_is_served_with_a_strict_security_policy(api):
    draft = add_draft(api.store, NOW)
    headers = api.review(draft)["headers"]
    csp = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    assert csp["default-src"] == "'none'"
    assert re.fullmatch(r"'sha256-[A-Za-z0-9+/]+=*'", csp["style-src"])
    assert re.fullmatch(r"'sha256-[A-Za-z0-9+/]+=*'", csp["script-src"])  # the page's own script only
    assert csp["frame-ancestors"] == "'none'"
    assert csp["form-action"] == "'self'"
    assert csp["base-uri"] == "'none'"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"


def test_an_event_shows_when_and_where(api):
    draft = event_draft(api.store, NOW, starts_in=timedelta(days=2, hours=4), venue="Ely Cathedral, Ely")
    shown = text_of(api.review(draft))
    assert (
        "Link check OK: all 2 checks pass. When Fri 27 Nov 2026, 14:00 GMT Where Ely Cathedral, Ely" in shown
    )
    assert "The post is not published once the event has started." in shown


def test_link_check_warnings_are_shown(api):
    draft = add_draft(
        api.store,
        NOW,
        preflight={
            "final_url": "https://www.example.org/news/river-quality-2026",
            "checks": [
                {"ok": True, "message": "the page answers 200 OK"},
                {"ok": False, "message": "the page has no og:image, so X shows no picture"},
            ],
        },
    )
    shown = text_of(api.review(draft))
    assert "Warning: the page has no og:image, so X shows no picture" in shown
    assert "The link ends at https://www.example.org/news/river-quality-2026" in shown


def test_a_view_only_link_shows_the_page_without_buttons(api):
    draft = add_draft(api.store, NOW)
    page = api.get(api.links.view_url(draft).removeprefix("https://approve.example.org"))
    assert page["statusCode"] == 200
    assert 'name="action"' not in page["body"]
    assert "This is a view-only link." in text_of(page)


def test_the_month_spend_and_a_reached_cap_are_shown(lambda_env):
    lambda_env.write_config(pacing={"monthly_spend_cap_usd": 1.0})
    with time_machine.travel(AT, tick=False):
        api = Api(lambda_env)
        for _ in range(4):
            api.store.client.update_item(
                TableName=api.store.table,
                Key={"pk": {"S": "PACE#2026-11"}, "sk": {"S": "MONTH"}},
                UpdateExpression="ADD cents :c, posts :one",
                ExpressionAttributeValues={":c": {"N": "20"}, ":one": {"N": "1"}},
            )
        draft = add_draft(api.store, NOW)
        shown = text_of(api.review(draft))
    assert "This month so far: $0.80 of the $1.00 cap (4 posts)." in shown
    assert "This post would go over the month's spend cap" not in shown
    # one more post would reach but not pass the cap; a cheaper cap shows the warning
    lambda_env.write_config(pacing={"monthly_spend_cap_usd": 0.9})
    with time_machine.travel(AT, tick=False):
        assert "This post would go over the month's spend cap" in text_of(Api(lambda_env).review(draft))


# -- decisions ----------------------------------------------------------------------------------


def test_approving_ends_on_a_result_page_that_says_it_is_posting_now(api):
    draft = add_draft(api.store, NOW)

    result = api.decide(draft, "approve")

    assert result["statusCode"] == 200
    shown = text_of(result)
    assert "Approved. Posting now: it goes out within seconds. You can withdraw it until then." in shown
    # opening the draft again (a GET: a reload of this POST would decide again) shows the post's link
    again = re.search(r'<a href="([^"]+)">Open this draft again</a>', result["body"])
    assert again and html.unescape(again.group(1)).startswith(
        f"https://approve.example.org/drafts/{draft.id}?token="
    )
    assert 'value="withdraw"' in result["body"]
    stored = api.store.get_draft(draft.id)
    assert stored.state is State.APPROVED
    assert (stored.decided_by, stored.decided_at, stored.approved_at) == ("Alex Morgan", AT, AT)
    [_, approve] = api.store.audit(draft.id)
    assert (approve.actor, approve.action, approve.from_state, approve.to_state, approve.at) == (
        "Alex Morgan <alex@example.org>",
        "approve",
        State.PENDING,
        State.APPROVED,
        AT,
    )
    assert "approve by Alex Morgan <alex@example.org> (pending → approved)" in shown


def test_edit_and_approve_posts_the_edited_text_and_records_before_and_after(api):
    draft = add_draft(api.store, NOW)
    edited = f"Our three-year study: how clean are the Fens' rivers? {draft.post_link}"

    result = api.decide(draft, "approve", text=edited.replace(" ", "\r\n", 1))

    assert result["statusCode"] == 200
    stored = api.store.get_draft(draft.id)
    assert stored.text == edited
    assert stored.weighted_length == len(edited) - len(draft.post_link) + 23
    assert stored.composed_text == draft.text
    edit = api.store.audit(draft.id)[-1]
    assert (edit.action, edit.text_before, edit.text_after) == ("edit and approve", draft.text, edited)
    shown = text_of(result)
    assert (
        f"edit and approve by Alex Morgan <alex@example.org> (pending → approved) Before {draft.text} After {edited}"
        in shown
    )
    # and the review page shows the same history to everyone after
    assert f"Before {draft.text} After {edited}" in text_of(api.review(draft, SAM))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(lambda d: "   ", "The edited post is empty.", id="empty"),
        pytest.param(
            lambda d: "River quality in the Fens https://elsewhere.example/",
            "The edited post must keep the link",
            id="link removed",
        ),
        pytest.param(
            lambda d: "A" * 260 + " " + d.post_link,
            "The edited post is 284 characters as X counts them; the most is 280. Shorten it by 4.",
            id="too long",
        ),
        pytest.param(
            lambda d: "Thanks @someone " + d.post_link,
            "The edited post cannot be posted: the post would carry the mention @someone",
            id="a mention the organisation's template did not add",
        ),
        pytest.param(
            lambda d: "See " + d.post_link + " and https://elsewhere.com/x",
            "the post links to https://elsewhere.com/x as well",
            id="a second link",
        ),
        pytest.param(
            lambda d: "😀" * 129 + " " + d.post_link,
            "The edited post is 282 characters as X counts them",
            id="emoji count double",
        ),
    ],
)
def test_an_edit_that_cannot_be_posted_is_refused_with_the_reason_and_the_text_kept(api, edit, message):
    draft = add_draft(api.store, NOW)
    attempt = edit(draft)

    page = api.decide(draft, "approve", text=attempt)

    assert page["statusCode"] == 422
    assert message in text_of(page)
    if attempt.strip():
        assert html.escape(attempt, quote=False) in page["body"]  # the approver's words are still in the box
    unchanged(api, draft)


def test_rejecting_records_the_optional_reason(api):
    draft = add_draft(api.store, NOW)
    result = api.decide(draft, "reject", who=SAM, reason="  Old news;\n covered last week  ")
    assert result["statusCode"] == 200
    assert "Rejected. Nothing will be posted." in text_of(result)
    stored = api.store.get_draft(draft.id)
    assert (stored.state, stored.decided_by) == (State.REJECTED, "Sam Patel")
    reject = api.store.audit(draft.id)[-1]
    assert (reject.action, reject.reason, reject.actor) == (
        "reject",
        "Old news; covered last week",
        "Sam Patel <sam@example.org>",
    )


def test_the_text_box_does_not_turn_a_reject_into_an_edit(api):
    draft = add_draft(api.store, NOW)
    api.decide(draft, "reject", text="anything typed before changing one's mind")
    stored = api.store.get_draft(draft.id)
    assert (stored.state, stored.text) == (State.REJECTED, draft.text)


def test_an_approval_can_be_withdrawn_until_it_is_published(api):
    # Given an approved draft
    draft = add_draft(api.store, NOW)
    api.decide(draft, "approve")

    # When Sam withdraws it
    result = api.decide(draft, "withdraw", who=SAM, reason="Embargo moved")

    # Then nothing will be posted, and the history says who approved and who withdrew
    assert result["statusCode"] == 200
    assert "Approval withdrawn. Nothing will be posted." in text_of(result)
    assert api.store.get_draft(draft.id).state is State.REJECTED
    assert [(a.action, a.actor) for a in api.store.audit(draft.id)][1:] == [
        ("approve", "Alex Morgan <alex@example.org>"),
        ("withdraw", "Sam Patel <sam@example.org>"),
    ]


def test_a_published_post_cannot_be_withdrawn(api):
    draft = add_draft(api.store, NOW)
    api.decide(draft, "approve")
    approved = api.store.get_draft(draft.id)
    publishing = api.store.transition(
        approved, Move(State.PUBLISHING, actor="publisher", action="publish attempt")
    )
    api.store.transition(
        publishing, Move(State.PUBLISHED, actor="publisher", action="published", changes={"published_at": AT})
    )

    refused = api.decide(draft, "withdraw", who=SAM)

    assert refused["statusCode"] == 409
    assert (
        "This draft was already published at Wed 25 Nov 2026, 10:05 GMT (approved by Alex Morgan), so it cannot be withdrawn now."
        in text_of(refused)
    )
    assert 'value="withdraw"' not in api.review(draft)["body"]


def test_a_second_decision_is_told_who_decided_and_when(api):
    # Given Alex rejected the draft at 10:05
    draft = add_draft(api.store, NOW)
    api.decide(draft, "reject")

    # When Sam, with the page still open, presses Approve at 10:07
    with time_machine.travel(AT + timedelta(minutes=2), tick=False):
        late = api.decide(draft, "approve", who=SAM)

    # Then Sam is told it was already decided, by whom and when, and nothing changes
    assert late["statusCode"] == 409
    assert (
        "This draft was already rejected by Alex Morgan at Wed 25 Nov 2026, 10:05 GMT, so it cannot be approved now."
        in text_of(late)
    )
    assert api.store.get_draft(draft.id).state is State.REJECTED
    assert len(api.store.audit(draft.id)) == 2


def test_failed_shows_xs_message_and_retry_sends_it_back_for_publishing(api):
    # Given a post X refused
    draft = add_draft(api.store, NOW)
    api.decide(draft, "approve")
    claimed = api.store.transition(
        api.store.get_draft(draft.id), Move(State.PUBLISHING, actor="publisher", action="publish attempt")
    )
    message = "403 Forbidden: You are not allowed to create a Tweet with duplicate content."
    api.store.transition(
        claimed, Move(State.FAILED, actor="publisher", action="failed", changes={"failure": message})
    )

    # Then the page shows X's message and a retry button
    page = api.review(draft, SAM)
    assert f"X refused this post: {message}" in text_of(page)
    assert (
        '<button class="neutral" type="submit" name="action" value="retry">Retry publishing</button>'
        in page["body"]
    )

    # When Sam retries
    result = api.decide(draft, "retry", who=SAM)

    # Then it is approved again, without the old failure, and goes out at once
    assert result["statusCode"] == 200
    assert "Publishing will be retried. Posting now: it goes out within seconds." in text_of(result)
    stored = api.store.get_draft(draft.id)
    assert (stored.state, stored.failure, stored.decided_by) == (State.APPROVED, None, "Sam Patel")


def test_a_draft_that_must_wait_for_the_spacing_says_until_when(api):
    # a post went out at 10:00; posts are 60 minutes apart
    api.store.reserve_post(
        now=NOW, month="2026-11", day="2026-11-25", cents=20, month_cap_cents=2000, daily_cap=10,
        spacing=timedelta(0),
    )  # fmt: skip
    draft = add_draft(api.store, NOW)

    result = api.decide(draft, "approve")

    shown = text_of(result)
    assert "Approved. It is expected to go out at about Wed 25 Nov, 11:00 GMT." in shown
    assert "Posting now" not in shown and "Open this draft again" not in shown


def test_a_held_account_and_a_pause_are_explained_on_the_page(api):
    draft = add_draft(api.store, NOW)
    reason = "the X credentials belong to @someone_else (user id 42), not the corporate account"
    api.store.put_control("HOLD", {"reason": reason, "at": "2026-11-25T09:00:00.000000Z"})
    api.store.set_pause(True, by="Sam Patel <sam@example.org>", reason="Flood warning in the Fens", now=NOW)

    shown = text_of(api.review(draft))
    assert f"Publishing is held after the account check: {reason}" in shown
    assert (
        "Publishing is paused by Sam Patel <sam@example.org> (Wed 25 Nov 2026, 10:00 GMT): Flood warning in the Fens."
        in shown
    )

    result = text_of(api.decide(draft, "approve"))
    assert "It is expected to go out when publishing resumes (it is paused now)." in result


# -- refusals -----------------------------------------------------------------------------------


def test_a_form_submitted_without_a_button_press_changes_nothing(api):
    # Given a pending draft whose page a mail scanner fetched
    draft = add_draft(api.store, NOW)
    page = api.review(draft)
    token = html.unescape(re.search(r'name="token" value="([^"]+)"', page["body"]).group(1))

    # When the scanner submits the form it found, without clicking (so no action field)
    answer = api.post(f"/drafts/{draft.id}", {"token": token, "text": draft.text, "reason": ""})

    # Then it gets 400 and nothing changes
    assert answer["statusCode"] == 400
    assert "No decision was made: the form arrived without a button press." in text_of(answer)
    unchanged(api, draft)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        pytest.param(
            lambda api, d, o: api.links.decide_token(d, ALEX)[:-2] + "xx", "not valid", id="tampered"
        ),
        pytest.param(
            lambda api, d, o: signer("an-attackers-own-key-0123456789").decide_token(d, ALEX),
            "not valid",
            id="forged",
        ),
        pytest.param(lambda api, d, o: api.links.decide_token(o, ALEX), "different draft", id="cross-draft"),
        pytest.param(lambda api, d, o: api.links.queue_token(ALEX), "not valid", id="queue link"),
        pytest.param(lambda api, d, o: "", "no token", id="missing"),
        pytest.param(
            lambda api, d, o: api.links.decide_token(make_draft(NOW - timedelta(days=30)), ALEX),
            "earlier draft",
            id="earlier draft with the same id",
        ),
    ],
)
def test_a_bad_link_gets_403_with_a_clear_message_and_changes_nothing(api, token, message):
    draft = add_draft(api.store, NOW)
    other = add_draft(api.store, NOW, identity="other")
    bad = token(api, draft, other)

    shown = api.get(f"/drafts/{draft.id}?token={quote(bad)}")
    decided = api.post(f"/drafts/{draft.id}", {"token": bad, "action": "approve"})

    for answer in (shown, decided):
        assert answer["statusCode"] == 403
        assert message in text_of(answer)
        assert "This link cannot be used" in text_of(answer)
        assert answer["headers"]["Content-Security-Policy"].startswith("default-src 'none'")
    unchanged(api, draft)


def test_an_expired_link_gets_403(api):
    draft = add_draft(api.store, NOW)
    with time_machine.travel(NOW - timedelta(days=7, minutes=1), tick=False):
        old = api.links.decide_token(draft, ALEX)
    answer = api.post(f"/drafts/{draft.id}", {"token": old, "action": "approve"})
    assert answer["statusCode"] == 403
    assert "This link has expired. Use the newest notification, or your queue link, to decide." in text_of(
        answer
    )
    unchanged(api, draft)


def test_a_view_only_link_cannot_decide(api):
    draft = add_draft(api.store, NOW)
    answer = api.post(f"/drafts/{draft.id}", {"token": api.links.view_token(draft), "action": "approve"})
    assert answer["statusCode"] == 403
    assert "This is a view-only link; it cannot decide." in text_of(answer)
    unchanged(api, draft)


def test_an_approver_removed_from_the_config_cannot_decide_with_an_earlier_link(lambda_env):
    with time_machine.travel(AT, tick=False):
        api = Api(lambda_env)
        draft = add_draft(api.store, NOW)
        sams_link = api.links.decide_token(draft, SAM)
        lambda_env.write_config(approvers=[{"name": "Alex Morgan", "email": ALEX}])
        answer = api.post(f"/drafts/{draft.id}", {"token": sams_link, "action": "approve"})
        assert answer["statusCode"] == 403
        assert "This link belongs to someone who is no longer an approver." in text_of(answer)
        unchanged(api, draft)


def test_a_link_signed_before_a_key_rotation_still_decides(lambda_env):
    with time_machine.travel(AT, tick=False):
        api = Api(lambda_env)
        draft = add_draft(api.store, NOW)
        old_link = api.links.decide_token(draft, ALEX)
        lambda_env.monkeypatch.setenv("HOOKLINE_SIGNING_KEY", f"a-brand-new-key-0123456789,{SIGNING_KEY}")
        lambda_env.write_config()
        assert api.post(f"/drafts/{draft.id}", {"token": old_link, "action": "approve"})["statusCode"] == 200


def test_an_unknown_draft_gets_404(api):
    ghost = make_draft(NOW, identity="never stored")
    answer = api.get(f"/drafts/{ghost.id}?token={quote(api.links.decide_token(ghost, ALEX))}")
    assert answer["statusCode"] == 404
    assert "There is no such draft." in text_of(answer)
    assert (
        api.post(f"/drafts/{ghost.id}", {"token": api.links.decide_token(ghost, ALEX), "action": "approve"})[
            "statusCode"
        ]
        == 404
    )


def test_an_unknown_address_gets_404(api):
    assert api.get("/admin")["statusCode"] == 404


def test_an_oversized_form_gets_400(api):
    draft = add_draft(api.store, NOW)
    answer = api.decide(draft, "approve", text="x" * 20_000)
    assert answer["statusCode"] == 400
    unchanged(api, draft)


def test_tokens_never_reach_the_logs(api, caplog, capfd, monkeypatch):
    # Given every log line the function and its libraries write, down to DEBUG
    caplog.set_level(logging.DEBUG)
    draft = add_draft(api.store, NOW)
    tokens = [api.links.decide_token(draft, ALEX), api.links.decide_token(draft, SAM)]
    tampered = tokens[0][:-3] + "abc"

    # When links are opened, decisions made, refused and conflicting, and the function crashes
    api.get(f"/drafts/{draft.id}?token={quote(tokens[0])}")
    api.get(f"/drafts/{draft.id}?token={quote(tampered)}")
    api.post(f"/drafts/{draft.id}", {"token": tampered, "action": "approve"})
    api.post(f"/drafts/{draft.id}", {"token": tokens[0]})
    api.post(f"/drafts/{draft.id}", {"token": tokens[0], "action": "approve"})
    api.post(f"/drafts/{draft.id}", {"token": tokens[1], "action": "reject"})
    queue = api.links.queue_token(ALEX)
    api.get(f"/queue?token={quote(queue)}")
    from hookline.store import Store

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"boom with {tokens[1]}")

    monkeypatch.setattr(Store, "_draft_from", broken)  # every read of a draft goes through it
    crashed = api.get(f"/drafts/{draft.id}?token={quote(tokens[1])}")
    assert crashed["statusCode"] == 500

    # Then no token, nor any recognisable part of one, is in any of it
    captured = capfd.readouterr()
    everything = caplog.text + captured.out + captured.err
    assert "request refused" in everything
    assert "request failed" in everything
    for token in [*tokens, tampered, queue]:
        signature = token.rsplit(".", 1)[-1]
        assert token not in everything
        assert quote(token) not in everything
        assert signature not in everything


# -- the queue and the pause switch -------------------------------------------------------------


def test_the_queue_lists_pending_drafts_oldest_first_with_their_waiting_time(api):
    newer = add_draft(
        api.store, NOW - timedelta(minutes=40), identity="newer", title="Newer report on wetlands"
    )
    older = add_draft(api.store, NOW - timedelta(hours=3), identity="older", title="Older report on otters")
    decided = add_draft(api.store, NOW - timedelta(hours=5), identity="decided", title="Rejected report")
    api.decide(decided, "reject")

    page = api.get(f"/queue?token={quote(api.links.queue_token(SAM))}")

    assert page["statusCode"] == 200
    shown = text_of(page)
    assert "Waiting for a decision (2)" in shown
    assert shown.index("Older report on otters") < shown.index("Newer report on wetlands")
    assert "waiting 3 hours · news" in shown
    assert "waiting 45 minutes · news" in shown
    assert "Rejected report" not in shown
    # and each entry is Sam's own personal link to that draft
    urls = [
        html.unescape(u)
        for u in re.findall(r'<a href="(https://approve\.example\.org/drafts/[^"]+)"', page["body"])
    ]
    assert [u.split("?")[0].rsplit("/", 1)[1] for u in urls] == [older.id, newer.id]
    token = urls[0].split("token=")[1]
    from urllib.parse import unquote

    assert api.links.read_draft_token(unquote(token), older.id, api.env.write_config()).approver == SAM


def test_the_queue_needs_an_approvers_queue_link(api):
    draft = add_draft(api.store, NOW)
    assert api.get(f"/queue?token={quote(api.links.decide_token(draft, ALEX))}")["statusCode"] == 403
    assert api.get("/queue")["statusCode"] == 403


def test_pausing_holds_all_publishing_with_a_reason_and_resuming_releases_it(api):
    queue_token = api.links.queue_token(SAM)

    # When Sam presses Pause with a reason
    paused = api.post("/controls/pause", {"token": queue_token, "action": "pause", "reason": "Flood warning"})

    # Then publishing is paused, by Sam, for that reason, and the queue page says so
    assert paused["statusCode"] == 200
    assert "Publishing is paused. Drafts keep queuing; nothing is posted until someone resumes." in text_of(
        paused
    )
    state = api.store.pause_state()
    assert (state.paused, state.by, state.reason, state.at) == (
        True,
        "Sam Patel <sam@example.org>",
        "Flood warning",
        AT,
    )
    assert 'value="resume"' in paused["body"]

    # And when Alex resumes, it is released
    resumed = api.post("/controls/resume", {"token": api.links.queue_token(ALEX), "action": "resume"})
    assert resumed["statusCode"] == 200
    assert "Publishing resumed." in text_of(resumed)
    assert api.store.pause_state().paused is False


@pytest.mark.parametrize(
    ("path", "form", "status", "message"),
    [
        pytest.param(
            "/controls/pause",
            {"action": "pause", "reason": " "},
            400,
            "Say why publishing is paused",
            id="no reason",
        ),
        pytest.param("/controls/pause", {"reason": "Flood"}, 400, "press the Pause button", id="no click"),
        pytest.param(
            "/controls/pause",
            {"action": "pause", "reason": "Flood", "token": "x"},
            403,
            "not valid",
            id="bad token",
        ),
    ],
)
def test_a_pause_without_a_reason_a_click_or_a_valid_link_changes_nothing(api, path, form, status, message):
    form = {"token": api.links.queue_token(ALEX), **form}
    answer = api.post(path, form)
    assert answer["statusCode"] == status
    assert message in text_of(answer)
    assert api.store.pause_state().paused is False


def test_a_personal_review_link_cannot_pause(api):
    draft = add_draft(api.store, NOW)
    answer = api.post(
        "/controls/pause", {"token": api.links.decide_token(draft, ALEX), "action": "pause", "reason": "x"}
    )
    assert answer["statusCode"] == 403
    assert api.store.pause_state().paused is False


# -- the words, the link, the reject step, the button ------------------------------------------


def test_the_words_are_edited_apart_from_the_link_which_cannot_be_broken(lambda_env):
    lambda_env.write_config(compose={"hashtags": {"Report": "#Rivers"}})
    with time_machine.travel(AT, tick=False):
        edit_apart_from_the_link(Api(lambda_env))


def edit_apart_from_the_link(api: Api) -> None:
    # Given a draft whose template put a hashtag after the link
    link = "https://www.example.org/news/river-quality?utm_source=x"
    draft = add_draft(api.store, NOW, post_link=link, text=f"River quality in the Fens {link} #Rivers")

    # When Alex rewrites the words (the `hook` field) and approves
    result = api.decide(draft, "approve", hook="  Three years of data:\r\nhow clean are our rivers? ")

    # Then the post keeps its link and hashtag exactly, with the new words before them
    assert result["statusCode"] == 200
    stored = api.store.get_draft(draft.id)
    assert stored.text == f"Three years of data: how clean are our rivers? {link} #Rivers"
    assert api.store.audit(draft.id)[-1].action == "edit and approve"
    # and the page names who edited it and when, under the post
    assert "Edited by Alex Morgan at Wed 25 Nov 2026, 10:05 GMT" in text_of(api.review(stored, SAM))


def test_empty_words_are_refused_and_nothing_changes(api):
    draft = add_draft(api.store, NOW)
    page = api.decide(draft, "approve", hook="   ")
    assert page["statusCode"] == 422
    assert "The edited post is empty" in text_of(page)
    unchanged(api, draft)


def test_words_that_do_not_fit_are_refused_with_the_words_kept_in_the_box(api):
    draft = add_draft(api.store, NOW)
    words = "A" * 260
    page = api.decide(draft, "approve", hook=words)
    assert page["statusCode"] == 422
    assert "The edited post is 284 characters as X counts them; the most is 280. Shorten it by 4." in text_of(
        page
    )
    assert re.search(rf'<textarea id="hook-x" name="hook"[^>]*>{words}</textarea>', page["body"])
    assert "4 characters too many" in text_of(page)
    unchanged(api, draft)


def test_reject_without_script_asks_for_the_reason_in_a_second_step(api):
    # Given a pending draft, and a browser that runs no script
    draft = add_draft(api.store, NOW)
    first = api.review(draft)["body"]
    # the reason box is there but hidden until Reject is pressed
    assert re.search(r'<form class="decide reject-step" id="reject-step"[^>]* hidden>', first)

    # When Sam presses Reject (the step button)
    step = api.decide(draft, None, who=SAM, step="reject")

    # Then the same page asks why, with the reason box showing; nothing is decided yet
    assert step["statusCode"] == 200
    assert re.search(r'<form class="decide reject-step" id="reject-step"[^>]*action="[^"]+">', step["body"])
    assert 'name="step"' not in step["body"]
    unchanged(api, draft)

    # And pressing Reject this post with a reason rejects it
    api.decide(draft, "reject", who=SAM, reason="Covered last week")
    stored = api.store.get_draft(draft.id)
    assert (stored.state, api.store.audit(draft.id)[-1].reason) == (State.REJECTED, "Covered last week")


def test_the_approve_button_says_when_the_post_goes_out_if_it_must_wait(lambda_env):
    # Given it is 18:00 in London, after the publish window (09:00-17:30)
    with time_machine.travel(NOW + timedelta(hours=8), tick=False):
        api = Api(lambda_env)
        draft = add_draft(api.store, NOW)
        body = api.review(draft)["body"]
    # Then the button says it waits until the window opens tomorrow
    assert 'value="approve">Approve (goes out Thu 26 Nov, 09:00)</button>' in body

    # And while publishing is paused, it says so
    api.store.set_pause(True, by="Sam Patel <sam@example.org>", reason="Flood warning", now=NOW)
    with time_machine.travel(AT, tick=False):
        body = api.review(draft)["body"]
    assert 'value="approve">Approve (goes out when publishing resumes)</button>' in body


def test_the_page_warns_when_the_credentials_are_another_accounts(api):
    # Given the publisher's last account check found the credentials belong to someone else
    draft = add_draft(api.store, NOW)
    user_id = api.env.write_config().account.user_id
    api.store.put_control(
        "ACCOUNT",
        {"ok": False, "kind": "account", "expected": user_id, "user_id": "1", "username": "SomeoneElse"},
    )
    shown = text_of(api.review(draft))
    # Then the account line names the configured account and warns about the credentials
    assert (
        "Posts as @TweepyDev on X Warning: The X credentials belong to @SomeoneElse, not @TweepyDev: "
        "nothing is posted until they are the corporate account's again." in shown
    )


def test_changing_the_link_is_its_own_action_and_the_new_page_is_checked(api, web):
    # Given a pending draft, and the page an approver wants it to link to instead
    draft = add_draft(api.store, NOW)
    web.add("/news/river-quality-2026", "<html><head><title>Rivers</title></head><body>Report</body></html>")
    new = web.url("/news/river-quality-2026")

    # When Alex changes the link
    page = api.decide(draft, "change-link", link=new)

    # Then the post has the new link with the same words, the new page's check is on the page,
    # and the draft is still waiting for a decision
    assert page["statusCode"] == 200
    stored = api.store.get_draft(draft.id)
    assert (stored.state, stored.post_link) == (State.PENDING, new)
    assert stored.text == f"New research report: river quality in the Fens {new}"
    assert stored.preflight["url"] == new
    shown = text_of(page)
    assert f"The link is now {new}. Link check: Warning: The page has no og:title" in shown
    change = api.store.audit(draft.id)[-1]
    assert (change.action, change.text_before, change.text_after) == ("change link", draft.text, stored.text)

    # And a link that does not open is refused, the post keeping the link it has
    gone = web.url("/nowhere")
    page = api.decide(stored, "change-link", link=gone)
    assert page["statusCode"] == 422
    assert "The new link was not used: The link does not open" in text_of(page)
    assert api.store.get_draft(draft.id).post_link == new


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "www.example.org/no-scheme", "https://exa mple.org/"]
)
def test_a_new_link_that_is_not_a_web_address_is_refused(api, link):
    draft = add_draft(api.store, NOW)
    page = api.decide(draft, "change-link", link=link)
    assert page["statusCode"] == 422
    assert "it must be a whole web address starting with https://" in text_of(page)
    unchanged(api, draft)


def test_a_deployment_without_x_still_opens_the_review_page(api):
    # Given a configuration whose only corporate account is on Bluesky
    import yaml

    from tests.conftest import base_config_data, reset_handlers

    data = base_config_data()
    del data["account"]
    data["accounts"] = {"bluesky": {"handle": "example-trust.bsky.social", "did": "did:plc:" + "a" * 24}}
    api.env.config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    reset_handlers()
    draft = add_draft(api.store, NOW)
    page = api.review(draft)
    # Then the page opens with Bluesky's post alone, nothing to pay, and its edit box, none for X
    assert page["statusCode"] == 200
    assert "This will be posted on X" not in text_of(page)
    assert "This will be posted on Bluesky" in text_of(page)
    assert 'value="approve">Approve and post to Bluesky ($0.00)</button>' in page["body"]
    assert page["body"].count("<textarea") == 1
    assert 'name="hook_bluesky"' in page["body"] and 'name="hook"' not in page["body"]


def test_the_queue_says_which_networks_each_post_goes_to(api):
    # Given X and Mastodon configured
    import yaml

    from tests.conftest import base_config_data, reset_handlers

    data = base_config_data()
    data["accounts"] = {
        "x": data.pop("account"),
        "mastodon": {"server": "https://mastodon.example", "account_id": "1090", "acct": "exampletrust"},
    }
    api.env.config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    reset_handlers()
    add_draft(api.store, NOW)

    # When an approver opens the queue
    page = api.get(f"/queue?token={quote(api.links.queue_token(SAM))}")

    # Then it says where an approved post goes
    assert page["statusCode"] == 200
    assert "Each post goes to X and Mastodon once approved." in text_of(page)


def test_an_approver_can_leave_one_network_out_of_this_post(api):
    # Given X, Bluesky and Mastodon configured, and a draft waiting
    import yaml

    from tests.conftest import base_config_data, reset_handlers

    data = base_config_data()
    data["accounts"] = {
        "x": data.pop("account"),
        "bluesky": {"handle": "example-trust.bsky.social", "did": "did:plc:" + "a" * 24},
        "mastodon": {"server": "https://mastodon.example", "account_id": "1090", "acct": "exampletrust"},
    }
    api.env.config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    reset_handlers()
    draft = add_draft(api.store, NOW)
    # (the page offers each other network as a ticked box)
    assert 'name="include_mastodon" value="yes" checked' in api.review(draft)["body"]

    # When the approver unticks Mastodon and approves
    page = api.decide(draft, "approve", include_mastodon="no", include_bluesky="yes")

    # Then the draft is approved, Bluesky's delivery is opened and Mastodon's is not
    assert page["statusCode"] == 200
    assert api.store.get_draft(draft.id).state is State.APPROVED
    assert set(api.store.deliveries_of(draft.id)) == {"bluesky"}
    assert api.store.get_draft(draft.id).networks["mastodon"]["included"] is False
