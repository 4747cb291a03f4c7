"""Exactly once: every way a post can fail or be interrupted, and never two posts of one draft.

The drafts live in DynamoDB Local; X is intercepted at the HTTP transport and, like X, answers
a text it already created with 403 duplicate content (tests/support/x.py). `x_api.created` is
what X actually created: the account's timeline.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from hookline.models import State
from hookline.publish.recovery import MAX_RETRIES
from hookline.publish.run import publish_due
from hookline.store import Move, Store
from tests.conftest import NOW, make_config
from tests.support.publishing import UNPACED, Publisher, approved, creates, me_requests
from tests.support.x import DUPLICATE, RECORDED_ME


class Killed(BaseException):
    """The process dies: no except clause of ours runs, nothing is cleaned up."""


@pytest.fixture
def config():
    return make_config(**UNPACED)


@pytest.fixture
def publisher(store, config, clock):
    return Publisher(store, config, clock)


def month_cents(store: Store) -> int:
    return store.month_spend(NOW.strftime("%Y-%m")).cents


# -- the happy path ----------------------------------------------------------------------------


def test_an_approved_draft_is_posted_once_and_recorded_with_its_id_and_url(store, publisher, x_api, clock):
    # Given an approved draft
    draft = approved(store, "New research report on river quality", at=NOW - timedelta(hours=1))

    # When the publisher runs
    report = publisher.run()

    # Then the corporate account was checked, then the text was posted once
    assert [s.url.rsplit("/", 2)[-2:] for s in x_api.sent] == [["users", "me"], ["2", "tweets"]]
    assert x_api.created == [draft.text]
    assert report.published == [draft.id]
    # And the draft is PUBLISHED with X's id and the post's URL on the corporate account
    done = store.get_draft(draft.id)
    assert done.state is State.PUBLISHED
    assert done.post_url == f"https://x.com/{RECORDED_ME['username']}/status/{done.post_id}"
    assert done.attempt is None
    assert done.published_at == NOW
    # And the audit shows the claim and the outcome, by the publisher
    steps = [(a.action, a.from_state, a.to_state, a.actor) for a in store.audit(draft.id)][-2:]
    assert steps == [
        ("publish attempt", State.APPROVED, State.PUBLISHING, "publisher"),
        ("published", State.PUBLISHING, State.PUBLISHED, "publisher"),
    ]
    # And the post's price was counted against the month
    assert month_cents(store) == 20

    # When the run is repeated (a Lambda retry, the next schedule)
    clock.advance(minutes=5)
    again = publisher.run()

    # Then nothing more is posted
    assert again.published == []
    assert creates(x_api) == [draft.text]


# -- ambiguous failures: the answer is lost ----------------------------------------------------


@pytest.mark.parametrize("lost", ["timeout", "reset"])
def test_a_post_whose_answer_was_lost_is_retried_later_and_recognised_as_published(
    store, publisher, x_api, clock, lost
):
    # Given an approved draft, and X that receives and creates the post but whose answer is lost
    draft = approved(store, "Annual report published", at=NOW - timedelta(hours=1))
    x_api.then(lost)

    # When the publisher runs
    first = publisher.run()

    # Then the draft is back to APPROVED with the ambiguous attempt recorded and a not-before time
    waiting = store.get_draft(draft.id)
    assert waiting.state is State.APPROVED
    assert first.retrying == [draft.id]
    [attempt] = waiting.ambiguous_attempts
    assert attempt.started_at == NOW
    assert waiting.not_before == NOW + timedelta(minutes=5)
    assert "X may have posted it" in store.audit(draft.id)[-1].reason
    # And the spend stays reserved (X may have billed it)
    assert month_cents(store) == 20

    # When a run comes before the not-before time
    clock.advance(minutes=4)
    publisher.run()

    # Then nothing is sent
    assert len(creates(x_api)) == 1

    # When the retry is due
    clock.advance(minutes=1)
    retry = publisher.run()

    # Then the same text was sent again, X answered duplicate content, and the draft is PUBLISHED
    # without an id, flagged for a person to confirm
    assert creates(x_api) == [draft.text, draft.text]
    assert x_api.created == [draft.text]  # one post on the account
    done = store.get_draft(draft.id)
    assert done.state is State.PUBLISHED
    assert (done.post_id, done.post_url) == (None, None)
    assert done.needs_confirmation is True
    assert done.published_at == NOW
    assert retry.needs_confirmation == [draft.id]
    assert "please confirm" in store.audit(draft.id)[-1].reason
    # And the post was paid for once
    assert month_cents(store) == 20


def test_a_500_is_retried_in_a_later_run_and_posted_once(store, publisher, x_api, clock):
    # Given X fails with a 500 and did not create the post
    draft = approved(store, "Briefing on local transport", at=NOW - timedelta(hours=1))
    x_api.then((500, {"title": "Internal Server Error", "detail": "Internal Server Error"}))

    # When the publisher runs, and again after the backoff
    publisher.run()
    assert store.get_draft(draft.id).state is State.APPROVED
    clock.advance(minutes=5)
    publisher.run()

    # Then the retry was answered with a new post: PUBLISHED with its id, posted once
    done = store.get_draft(draft.id)
    assert done.state is State.PUBLISHED
    assert done.post_id
    assert done.needs_confirmation is False
    assert x_api.created == [draft.text]
    # And the 500's reservation was given back once X's answer showed it had not posted
    assert month_cents(store) == 20


def test_transient_failures_back_off_and_then_ask_a_person(store, publisher, x_api, clock):
    # Given X keeps failing with 503
    draft = approved(store, "Research findings on housing", at=NOW - timedelta(hours=1))
    x_api.then(*[(503, {"title": "Service Unavailable"})] * MAX_RETRIES)

    # When the publisher runs each time the draft is due again
    waits = []
    for _ in range(MAX_RETRIES - 1):
        publisher.run()
        current = store.get_draft(draft.id)
        assert current.state is State.APPROVED
        waits.append(current.not_before - clock.now)
        clock.now = current.not_before
    publisher.run()

    # Then the waits grew, and after the last try the draft is FAILED with a message that says
    # an attempt may have reached X
    assert waits == [timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1), timedelta(hours=1)]
    failed = store.get_draft(draft.id)
    assert failed.state is State.FAILED
    assert failed.failure.startswith(f"X failed {MAX_RETRIES} times in a row (last: X server error 503")
    assert f"check @{RECORDED_ME['username']} before retrying" in failed.failure
    assert len(failed.ambiguous_attempts) == MAX_RETRIES

    # When a person retries it (the review page's retry button) and X works again
    store.transition(
        failed, Move(State.APPROVED, actor="Alex Morgan", action="retry", changes={"not_before": clock.now})
    )
    publisher.run()

    # Then it is posted once
    assert store.get_draft(draft.id).state is State.PUBLISHED
    assert x_api.created == [draft.text]


def test_a_request_that_never_reached_x_is_retried_without_counting_as_ambiguous(
    store, publisher, x_api, clock
):
    # Given X cannot be reached at all
    draft = approved(store, "Evidence review", at=NOW - timedelta(hours=1))
    x_api.then("unreachable")

    # When the publisher runs
    publisher.run()

    # Then the draft waits with no ambiguous attempt, and nothing is counted against the budget
    waiting = store.get_draft(draft.id)
    assert waiting.state is State.APPROVED
    assert waiting.ambiguous_attempts == []
    assert waiting.failure == "could not reach X: ConnectionError"
    assert month_cents(store) == 0
    assert store.posts_on(NOW.strftime("%Y-%m-%d")) == 0

    # When it is due again
    clock.advance(minutes=5)
    publisher.run()

    # Then it is posted, with its id (a later duplicate could not be mistaken for this post)
    done = store.get_draft(draft.id)
    assert done.state is State.PUBLISHED
    assert done.post_id
    assert done.failure is None


# -- X refuses ---------------------------------------------------------------------------------


def test_duplicate_content_without_an_earlier_attempt_fails_the_draft_with_xs_message(
    store, publisher, x_api, config
):
    # Given the same text was posted by hand on the account already, and another approved draft
    draft = approved(store, "Report on air quality", at=NOW - timedelta(hours=2))
    other = approved(store, "Report on water quality", at=NOW - timedelta(hours=1))
    x_api.created.append(draft.text)

    # When the publisher runs
    report = publisher.run()

    # Then that draft is FAILED with X's message; its reservation was given back
    failed = store.get_draft(draft.id)
    assert failed.state is State.FAILED
    assert failed.failure == DUPLICATE["detail"]
    assert report.failed == [draft.id]
    # And the other draft still went out in the same run, and only it is paid for
    assert store.get_draft(other.id).state is State.PUBLISHED
    assert month_cents(store) == 20


def test_another_403_fails_the_draft_and_a_person_can_retry_it(store, config, clock, x_api, publisher):
    # Given X refuses the post for a reason of its own
    draft = approved(store, "Policy paper on energy", at=NOW - timedelta(hours=1))
    refusal = {
        "title": "Forbidden",
        "detail": "This post violates our rules.",
        "type": "about:blank",
        "status": 403,
    }
    x_api.then((403, refusal))

    # When the publisher runs
    publisher.run()

    # Then the draft is FAILED with X's message, and nothing is spent
    failed = store.get_draft(draft.id)
    assert (failed.state, failed.failure) == (State.FAILED, "This post violates our rules.")
    assert month_cents(store) == 0

    # And the review page shows X's message with a retry button
    from hookline.approval.links import LinkSigner
    from hookline.approval.review import Approvals
    from tests.conftest import SIGNING_KEY

    signer = LinkSigner([SIGNING_KEY], timedelta(days=7), "https://approve.example.org")
    approvals = Approvals(config, store, signer, clock)
    token = signer.decide_token(failed, "alex@example.org")
    page = approvals.review(draft.id, token).html
    assert "X refused this post:</strong> This post violates our rules." in page
    assert 'value="retry"' in page

    # When the approver presses retry, and the publisher runs
    approvals.decide(draft.id, {"token": token, "action": "retry"})
    publisher.run()

    # Then it is posted
    assert store.get_draft(draft.id).state is State.PUBLISHED
    assert x_api.created == [draft.text]


def test_x_refusing_post_after_post_stops_the_run_instead_of_failing_the_whole_queue(store, publisher, x_api):
    # Given four approved drafts, and X refusing whatever it gets
    drafts = [approved(store, f"Report number {n}", at=NOW - timedelta(hours=5 - n)) for n in range(4)]
    refusal = {"title": "Forbidden", "detail": "Something is wrong.", "type": "about:blank"}
    x_api.then(*[(403, refusal)] * 4)

    # When the publisher runs
    report = publisher.run()

    # Then it stopped after two refusals; the rest wait for the next run
    assert len(report.failed) == 2
    assert [store.get_draft(d.id).state for d in drafts] == [State.FAILED] * 2 + [State.APPROVED] * 2
    assert report.waiting == "X refused 2 posts in a row; the next run carries on"


# -- rate limits, usage caps, credentials ------------------------------------------------------


def test_a_rate_limit_waits_until_x_rate_limit_reset(store, publisher, x_api, clock):
    # Given X answers 429 with a reset time 12 minutes away
    draft = approved(store, "Study on school meals", at=NOW - timedelta(hours=1))
    reset = NOW + timedelta(minutes=12)
    x_api.then((429, {"title": "Too Many Requests"}, {"x-rate-limit-reset": str(int(reset.timestamp()))}))

    # When the publisher runs
    report = publisher.run()

    # Then the draft waits until then, publishing is held until then, nothing is spent
    waiting = store.get_draft(draft.id)
    assert (waiting.state, waiting.not_before) == (State.APPROVED, reset)
    assert waiting.ambiguous_attempts == []
    limit = store.limit_state()
    assert (limit.kind, limit.until) == ("rate-limit", reset)
    assert store.hold_state() is None  # not an account problem: the review page says nothing of it
    assert report.held_kind == "rate-limit"
    assert month_cents(store) == 0

    # When runs come before the reset
    clock.advance(minutes=6)
    assert publisher.run().held_kind == "rate-limit"
    assert len(creates(x_api)) == 1

    # And after it
    clock.now = reset
    publisher.run()

    # Then the post goes out and the limit is gone
    assert store.get_draft(draft.id).state is State.PUBLISHED
    assert store.limit_state() is None


@pytest.mark.parametrize(
    "answer",
    [
        (
            429,
            {
                "title": "UsageCapExceeded",
                "detail": "Usage cap exceeded: Monthly product cap",
                "type": "https://api.twitter.com/2/problems/usage-capped",
            },
            {"x-rate-limit-reset": str(int((NOW + timedelta(minutes=15)).timestamp()))},
        ),
        (402, {"title": "CreditsDepleted", "detail": "No credits left", "type": "about:blank"}),
    ],
    ids=["429-usage-capped", "402-no-credit"],
)
def test_a_spent_usage_cap_stops_posting_for_the_day_with_an_alert(store, publisher, x_api, clock, answer):
    # Given two approved drafts, and X says the usage cap is spent
    first = approved(store, "Report one", at=NOW - timedelta(hours=2))
    second = approved(store, "Report two", at=NOW - timedelta(hours=1))
    x_api.then(answer)

    # When the publisher runs
    report = publisher.run()

    # Then nothing more is tried today, the run reports it for the alarm, and the drafts wait
    assert report.usage_capped is True
    assert len(creates(x_api)) == 1
    assert [store.get_draft(d.id).state for d in (first, second)] == [State.APPROVED] * 2
    limit = store.limit_state()
    assert limit.kind == "usage-cap"
    assert limit.until == NOW.replace(hour=0) + timedelta(days=1)  # midnight in London (GMT in November)
    assert "nothing more is posted today" in limit.reason

    # When later runs come the same day
    clock.advance(hours=5)
    assert publisher.run().held_kind == "usage-cap"
    assert len(creates(x_api)) == 1

    # And the next morning, inside the window
    clock.now = NOW + timedelta(days=1)
    publisher.run()

    # Then posting carries on
    assert store.get_draft(first.id).state is State.PUBLISHED


def test_a_401_holds_all_publishing_until_the_credentials_work_again(store, publisher, x_api, clock):
    # Given X rejects the tokens when posting
    draft = approved(store, "Annual accounts", at=NOW - timedelta(hours=1))
    x_api.then((401, {"title": "Unauthorized", "detail": "Unauthorized", "type": "about:blank"}))

    # When the publisher runs
    report = publisher.run()

    # Then the draft is not failed (it is the credentials' fault), publishing is held, the run
    # reports an account problem (the alarm), and nothing is spent
    waiting = store.get_draft(draft.id)
    assert waiting.state is State.APPROVED
    assert report.account_problem.startswith("X rejected the credentials (401): Unauthorized")
    assert store.hold_state().kind == "credentials"
    assert month_cents(store) == 0

    # When the next runs come with the same tokens
    sent = len(x_api.sent)
    clock.advance(minutes=5)
    again = publisher.run()

    # Then they spend no X request on them
    assert again.account_problem == report.account_problem
    assert len(x_api.sent) == sent

    # When someone stores new tokens in the secret
    publisher.credentials.values["access_token"] = "at-renewed"
    clock.advance(minutes=5)
    fixed = publisher.run()

    # Then the account is checked with them, the hold is lifted and the draft is posted with them
    assert fixed.published == [draft.id]
    assert store.hold_state() is None
    assert 'oauth_token="at-renewed"' in x_api.sent[-1].headers["Authorization"]


def test_a_read_only_app_holds_publishing_rather_than_failing_every_draft(store, publisher, x_api):
    # Given the X app was created with read-only permissions
    drafts = [approved(store, f"Research paper {n}", at=NOW - timedelta(hours=3 - n)) for n in range(3)]
    x_api.then(
        (
            403,
            {
                "title": "Unsupported Authentication",
                "detail": "Your client app is not configured with the appropriate oauth1 app permissions for this endpoint.",
                "type": "https://api.twitter.com/2/problems/oauth1-permissions",
            },
        )
    )

    # When the publisher runs
    report = publisher.run()

    # Then no draft failed; publishing is held with X's explanation
    assert [store.get_draft(d.id).state for d in drafts] == [State.APPROVED] * 3
    assert "oauth1 app permissions" in store.hold_state().reason
    assert report.account_problem


# -- crashes and takeovers ---------------------------------------------------------------------


class Dying:
    """A poster that dies at a chosen moment around the real one."""

    def __init__(self, real, *, before_send: bool):
        self.real = real
        self.before_send = before_send

    def credentials_id(self):
        return self.real.credentials_id()

    def whoami(self):
        return self.real.whoami()

    def post(self, text):
        if not self.before_send:
            self.real.post(text)
        raise Killed


@pytest.mark.parametrize("before_send", [True, False], ids=["killed-before-sending", "killed-after-x-posted"])
def test_a_publisher_killed_mid_attempt_is_taken_over_after_its_lease_and_posts_once(
    store, config, clock, x_api, before_send
):
    # Given a publisher that dies during its attempt (before sending it, or after X created it)
    draft = approved(store, "Research on coastal erosion", at=NOW - timedelta(hours=1))
    dying = Publisher(store, config, clock)
    dying.poster = Dying(dying.poster, before_send=before_send)
    with pytest.raises(Killed):
        dying.run()
    assert store.get_draft(draft.id).state is State.PUBLISHING

    # When another container runs while the lease is still live
    other = Publisher(store, config, clock)
    clock.advance(minutes=1)
    other.run()

    # Then it leaves the attempt alone
    assert store.get_draft(draft.id).state is State.PUBLISHING
    assert len(x_api.created) == (0 if before_send else 1)

    # When the lease has expired
    clock.advance(minutes=2)
    report = other.run()

    # Then the draft was taken over as an ambiguous attempt and retried with the same text
    assert report.recovered == [draft.id]
    done = store.get_draft(draft.id)
    assert done.state is State.PUBLISHED
    assert "lease expired" in done.ambiguous_attempts[0].outcome
    # And the account shows exactly one post: a new one with its id if the first never left,
    # else X's duplicate answer confirmed the earlier one (flagged for a person)
    assert x_api.created == [draft.text]
    if before_send:
        assert done.post_id
        assert not done.needs_confirmation
    else:
        assert done.post_id is None
        assert done.needs_confirmation


def test_a_crash_after_x_posted_but_before_the_published_write_never_posts_twice(store, config, clock, x_api):
    # Given a publisher killed between X's 201 and the PUBLISHED write
    draft = approved(store, "Report on library services", at=NOW - timedelta(hours=1))

    class KilledBeforeRecording(Store):
        def transition(self, d, move):
            if move.to is State.PUBLISHED:
                raise Killed
            return super().transition(d, move)

    crashing = KilledBeforeRecording(store.table, client=store.client, clock=clock)
    with pytest.raises(Killed):
        Publisher(crashing, config, clock).run()
    assert x_api.created == [draft.text]

    # When the next runs come, before and after the lease expired
    publisher = Publisher(store, config, clock)
    for minutes in (1, 2, 5):
        clock.advance(minutes=minutes)
        publisher.run()

    # Then X was asked once more, said duplicate, and the draft is PUBLISHED for a person to confirm
    assert creates(x_api) == [draft.text, draft.text]
    assert x_api.created == [draft.text]
    assert store.get_draft(draft.id).needs_confirmation is True


def test_an_unexpected_crash_is_recorded_as_ambiguous_and_raised(store, config, clock, x_api):
    # Given a bug that raises right after X created the post
    draft = approved(store, "Report on parks", at=NOW - timedelta(hours=1))
    publisher = Publisher(store, config, clock)
    real_post = publisher.poster.post

    def buggy(text):
        real_post(text)
        raise KeyError("surprise")

    publisher.poster.post = buggy

    # When the publisher runs, the crash surfaces (for the dead-letter queue and the errors alarm)
    with pytest.raises(KeyError):
        publisher.run()

    # Then the draft is not stuck: back to APPROVED with the attempt recorded as ambiguous
    waiting = store.get_draft(draft.id)
    assert waiting.state is State.APPROVED
    assert waiting.ambiguous_attempts[0].outcome == "crashed: KeyError"

    # And the retry is recognised as the same post
    publisher.poster.post = real_post
    clock.advance(minutes=5)
    publisher.run()
    assert store.get_draft(draft.id).needs_confirmation is True
    assert x_api.created == [draft.text]


# -- publishers at once ------------------------------------------------------------------------


def test_two_publishers_at_once_post_each_draft_exactly_once(store, config, clock, x_api):
    # Given six approved drafts and two publish functions started at the same moment
    drafts = [approved(store, f"Publication number {n}", at=NOW - timedelta(hours=7 - n)) for n in range(6)]
    publishers = [Publisher(store, config, clock) for _ in range(2)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(publisher: Publisher) -> None:
        try:
            start.wait()
            publisher.run()
        except BaseException as exc:
            errors.append(exc)

    # When both run over the same due drafts, twice
    for _ in range(2):
        threads = [threading.Thread(target=run, args=(p,)) for p in publishers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []

    # Then every draft was sent to X exactly once and is PUBLISHED
    assert sorted(creates(x_api)) == sorted(d.text for d in drafts)
    assert sorted(x_api.created) == sorted(d.text for d in drafts)
    assert {store.get_draft(d.id).state for d in drafts} == {State.PUBLISHED}
    # And the budget counts six posts
    assert store.month_spend(NOW.strftime("%Y-%m")).posts == 6


def test_two_publishers_at_once_respect_the_spacing_between_them(store, clock, x_api):
    # Given an hour's spacing, three approved drafts and two publishers racing
    config = make_config(pacing={"min_spacing_minutes": 60, "daily_cap": 10})
    for n in range(3):
        approved(store, f"Findings part {n}", at=NOW - timedelta(hours=3 - n))
    publishers = [Publisher(store, config, clock) for _ in range(2)]
    start = threading.Barrier(2)

    def run(publisher: Publisher) -> None:
        start.wait()
        publisher.run()

    # When both run at once
    threads = [threading.Thread(target=run, args=(p,)) for p in publishers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # Then only one post went out
    assert len(x_api.created) == 1


# -- the run's own limits ----------------------------------------------------------------------


def test_a_run_starts_no_attempt_it_could_not_finish(store, publisher, x_api):
    # Given two due drafts and a run with 15 seconds left (an attempt may take 20)
    approved(store, "Late report", at=NOW - timedelta(hours=1))

    # When it runs
    report = publisher.run(time_left=lambda: 15.0)

    # Then nothing was claimed or sent
    assert creates(x_api) == []
    assert report.waiting == "the run's time is nearly up; the next run carries on"
    assert store.drafts_in(State.PUBLISHING) == []


def test_a_lease_shorter_than_the_run_is_refused_before_anything_happens(store, config, clock, x_api):
    # Given a lease shorter than the function may run (a live attempt could be taken over)
    approved(store, "Some report", at=NOW - timedelta(hours=1))

    # Then the run refuses to start
    with pytest.raises(ValueError, match="must be longer than the run"):
        publish_due(
            store,
            Publisher(store, config, clock).poster,
            config,
            NOW,
            lease=timedelta(seconds=60),
            time_left=lambda: 60.0,
        )
    assert x_api.sent == []


def test_nothing_due_means_no_x_request_at_all(store, publisher, x_api):
    # Given no approved drafts
    approved(store, "Pending report", at=NOW - timedelta(hours=1), state=State.PENDING)

    # When the publisher runs
    publisher.run()

    # Then X was not asked anything (each request costs)
    assert x_api.sent == []
    assert me_requests(x_api) == 0


def test_a_rate_limit_reset_far_in_the_future_holds_publishing_for_a_day_at_most(store, publisher, x_api):
    # Given X's 429 names a reset a year away (a garbled header)
    approved(store, "Report under a strange limit", at=NOW - timedelta(hours=1))
    far = NOW + timedelta(days=365)
    x_api.then((429, {"title": "Too Many Requests"}, {"x-rate-limit-reset": str(int(far.timestamp()))}))

    # When the publisher runs
    publisher.run()

    # Then publishing waits a day, not a year
    assert store.limit_state().until == NOW + timedelta(hours=24)


def test_a_post_that_would_mention_someone_is_refused_before_x_and_the_run_carries_on(
    store, publisher, x_api
):
    # Given an approved draft whose text mentions someone (an old draft, or a path that
    # skipped compose), and an ordinary one approved after it
    bad = approved(store, "Thanks @someone and $TSLA for the data", at=NOW - timedelta(hours=2))
    good = approved(store, "New research report on river quality", at=NOW - timedelta(hours=1))

    # When the publisher runs
    report = publisher.run()

    # Then X never saw the bad text, and the good one was posted
    assert creates(x_api) == [good.text]
    assert report.failed == [bad.id]
    # And the draft says why, in words a person can act on
    failed = store.get_draft(bad.id)
    assert failed.state is State.FAILED
    assert "mention @someone" in failed.failure
    assert "cashtag $TSLA" in failed.failure
    # And only the post that reached X was paid for
    assert month_cents(store) == 20
