"""The Mastodon adapter: exactly what goes over the wire, and what each answer means.

Mastodon is intercepted at the HTTP transport (tests/support/mastodon.py) with answers shaped as
the server sends them; the tests assert on the exact request (path, form fields, headers).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from urllib3.exceptions import NewConnectionError, ReadTimeoutError

from hookline.config import MastodonAccount
from hookline.publish.networks import mastodon
from hookline.publish.networks.mastodon import MastodonNetwork, idempotency_key
from hookline.publish.networks.port import (
    Ambiguous,
    CredentialsError,
    Network,
    NotSent,
    Post,
    RateLimited,
    Refused,
    Unauthorized,
)
from tests.conftest import NOW, Clock
from tests.support.mastodon import ACCOUNT_ID, ACCT, SERVER, TOKEN, MastodonFake

TEXT = "New research report: river quality in the Fens https://www.example.org/news/river-quality?utm_source=mastodon"
ACCOUNT = MastodonAccount(server=SERVER, account_id=ACCOUNT_ID, acct=ACCT, visibility="public")


@pytest.fixture(autouse=True)
def _fresh_instance_cache():
    mastodon._INSTANCES.clear()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(clock) -> MastodonFake:
    return MastodonFake(clock=clock)


def network(server, clock, *, account=ACCOUNT, token=TOKEN) -> MastodonNetwork:
    return MastodonNetwork(account, lambda: token, http=server, clock=clock)


def delivery(**kw) -> Post:
    values = {
        "key": "draft-1:mastodon",
        "text": TEXT,
        "link": "https://www.example.org/news/river-quality",
        "first_attempt_at": NOW,
        "lang": "en",
    }
    return Post(**(values | kw))


def test_a_post_is_one_status_with_exactly_the_text_language_visibility_and_idempotency_key(server, clock):
    # Given the corporate account's token
    net = network(server, clock)
    assert isinstance(net, Network) and net.name == "mastodon"

    # When a delivery is posted
    posted = net.post(delivery())

    # Then exactly one POST /api/v1/statuses went out, form-encoded, with these fields and no others
    [sent] = server.sent
    assert (sent.method, sent.url) == ("POST", f"{SERVER}/api/v1/statuses")
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.form == {"status": [TEXT], "visibility": ["public"], "language": ["en"]}
    # And it carries the user token and an Idempotency-Key derived from the delivery
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Idempotency-Key"] == idempotency_key(delivery())
    assert TOKEN not in sent.headers["Idempotency-Key"]
    # And the answer names the status and its page on the server
    assert posted.post_id == server.statuses[0]["id"]
    assert posted.url == f"{SERVER}/@{ACCT}/{posted.post_id}"


def test_the_idempotency_key_is_the_same_for_every_attempt_of_a_delivery_and_differs_between_them():
    first = idempotency_key(delivery())
    assert idempotency_key(delivery(text="edited", first_attempt_at=NOW + timedelta(minutes=5))) == first
    assert idempotency_key(delivery(key="draft-2:mastodon")) != first
    assert idempotency_key(delivery(key="draft-1:bluesky")) != first


def test_the_configured_visibility_is_sent(server, clock):
    net = network(server, clock, account=ACCOUNT.model_copy(update={"visibility": "unlisted"}))
    net.post(delivery(lang=None))
    [sent] = server.sent
    assert sent.form == {"status": [TEXT], "visibility": ["unlisted"]}


def test_a_retry_after_a_lost_answer_makes_no_second_status(server, clock):
    # Given a status the server made, whose answer was lost on the way back
    server.lose_answer_after_create = 1
    net = network(server, clock)
    with pytest.raises(Ambiguous, match="did not answer in time"):
        net.post(delivery())

    # When the publisher retries the same delivery within the key's lifetime
    clock.advance(minutes=5)
    posted = net.post(delivery(after_ambiguous=True))

    # Then the server answered the repeat with the status it already made: one status in all
    assert len(server.statuses) == 1
    assert posted.post_id == server.statuses[0]["id"]
    assert [s.headers["Idempotency-Key"] for s in server.creates()] == [idempotency_key(delivery())] * 2


def test_after_the_keys_lifetime_the_recent_statuses_are_searched_before_posting_again(server, clock):
    # Given an ambiguous attempt that did make the status, and the server has since forgotten the key
    server.lose_answer_after_create = 1
    net = network(server, clock)
    with pytest.raises(Ambiguous):
        net.post(delivery())
    clock.advance(hours=2)
    server.forget_keys()

    # When the retry comes
    posted = net.post(delivery(after_ambiguous=True))

    # Then it found the status among the account's own recent statuses and posted nothing
    assert len(server.creates()) == 1
    lookup = server.sent[-1]
    assert (lookup.method, lookup.path) == ("GET", f"/api/v1/accounts/{ACCOUNT_ID}/statuses")
    assert lookup.query == {"limit": ["40"], "exclude_replies": ["true"], "exclude_reblogs": ["true"]}
    assert posted.post_id == server.statuses[0]["id"]


def test_after_the_keys_lifetime_a_status_that_is_not_there_is_posted_once(server, clock):
    # Given an attempt that never made the status (the connection dropped before the server acted)
    server.script("/api/v1/statuses", ReadTimeoutError(None, f"{SERVER}/api/v1/statuses", "timed out"))
    net = network(server, clock)
    with pytest.raises(Ambiguous):
        net.post(delivery())
    # And an older status of the account with other text
    clock.advance(minutes=1)
    net.post(delivery(key="draft-0:mastodon", text="An older post https://www.example.org/old"))
    clock.advance(hours=2)

    # When the retry comes after the key's lifetime
    posted = net.post(delivery(after_ambiguous=True))

    # Then the search found nothing of this delivery, and exactly one new status was made
    assert [s["content"].count("river-quality") > 0 for s in server.statuses] == [False, True]
    assert posted.post_id == server.statuses[-1]["id"]


def test_the_account_guard_reads_verify_credentials(server, clock):
    me = network(server, clock).whoami()
    [sent] = server.sent
    assert (sent.method, sent.url) == ("GET", f"{SERVER}/api/v1/accounts/verify_credentials")
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert (me.user_id, me.username) == (ACCOUNT_ID, ACCT)


def test_the_instance_limits_are_read_once_and_default_when_the_server_cannot_say(server, clock):
    # Given a server allowing longer posts
    server.instance["configuration"]["statuses"]["max_characters"] = 1000
    server.instance["configuration"]["statuses"]["characters_reserved_per_url"] = 30
    net = network(server, clock)

    # When compose asks for the limits twice
    first, second = net.limits(), net.limits()

    # Then the server's own limits are used, asked once (no token needed)
    assert (first.max_characters, first.url_weight) == (1000, 30)
    assert second == first
    [sent] = server.sent
    assert (sent.method, sent.url) == ("GET", f"{SERVER}/api/v2/instance")
    assert "Authorization" not in sent.headers

    # And a server that cannot say gets Mastodon's defaults (not cached: asked again next time)
    mastodon._INSTANCES.clear()
    server.script("/api/v2/instance", (503, {"error": "down"}))
    assert (net.limits().max_characters, net.limits().url_weight) == (500, 23)


@pytest.mark.parametrize(
    ("answer", "error", "words"),
    [
        ((401, {"error": "The access token is invalid"}), Unauthorized, "The access token is invalid"),
        ((403, {"error": "This action is outside the authorized scopes"}), Unauthorized, "authorized scopes"),
        (
            (422, {"error": "Validation failed: Text character limit of 500 exceeded"}),
            Refused,
            "500 exceeded",
        ),
        ((503, b"<html>Service Unavailable</html>"), Ambiguous, "Mastodon 503"),
        (
            (429, {"error": "Too many requests"}, {"X-RateLimit-Reset": "2026-12-03T10:00:00.000Z"}),
            RateLimited,
            "Too many",
        ),
    ],
    ids=["401", "403-scope", "422-too-long", "503", "429"],
)
def test_each_answer_means_one_outcome(server, clock, answer, error, words):
    server.script("/api/v1/statuses", answer)
    with pytest.raises(error, match=words) as caught:
        network(server, clock).post(delivery())
    if error is RateLimited:
        assert caught.value.reset_at.isoformat() == "2026-12-03T10:00:00+00:00"


def test_a_server_never_reached_is_not_sent(server, clock):
    server.script("/api/v1/statuses", NewConnectionError(None, "Connection refused"))  # type: ignore[arg-type]
    with pytest.raises(NotSent):
        network(server, clock).post(delivery())
    assert server.statuses == []


def test_a_missing_token_is_a_credentials_problem_before_anything_is_sent(server, clock):
    with pytest.raises(CredentialsError):
        network(server, clock, token="").credentials_id()
    assert server.sent == []
