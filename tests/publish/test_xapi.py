"""The X client: what goes over the wire, and what each answer of X means to the publisher.

X is intercepted at requests' transport (tests/support/x.py) and answers from tweepy's recorded
cassettes, so these tests see tweepy's real request building, OAuth 1.0a signing and parsing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from hookline.publish.xapi import (
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    Ambiguous,
    CredentialsError,
    DryRunPoster,
    Duplicate,
    NotSent,
    RateLimited,
    Refused,
    TweepyPoster,
    Unauthorized,
    UsageCapped,
    fingerprint,
)
from hookline.services import x_credentials
from hookline.settings import read_settings
from tests.conftest import X_CREDENTIALS, X_SECRET, make_config
from tests.support.publishing import OTHER_ACCOUNT_CREDENTIALS, Credentials
from tests.support.x import DUPLICATE, RECORDED_CREATE, RECORDED_ME

TEXT = "New research report: river quality in the Fens https://www.example.org/news/river-quality"


@pytest.fixture
def poster() -> TweepyPoster:
    return TweepyPoster(Credentials(), make_config().account)


def test_a_post_sends_exactly_the_text_and_nothing_else_signed_as_the_corporate_account(x_api, poster):
    # Given the corporate account's tokens
    # When a post is made
    posted = poster.post(TEXT)

    # Then one POST /2/tweets went to X whose whole JSON body is the text: no reply, quote,
    # poll, media or mention settings can ride along
    [sent] = x_api.sent
    assert (sent.method, sent.url) == ("POST", "https://api.twitter.com/2/tweets")
    assert sent.body == {"text": TEXT}
    # And it is signed with OAuth 1.0a user context, with the corporate account's tokens
    auth = sent.headers["Authorization"]
    assert auth.startswith("OAuth ")
    assert 'oauth_consumer_key="ck-test"' in auth
    assert 'oauth_token="at-test"' in auth
    assert "oauth_signature=" in auth
    # And the answer gives the post's id and its URL on the corporate account
    assert posted.post_id == str(int(RECORDED_CREATE["body"]["data"]["id"]) + 1)
    assert posted.url == f"https://x.com/{RECORDED_ME['username']}/status/{posted.post_id}"


def test_the_x_client_offers_no_way_to_reply_quote_mention_or_read():
    # Given the poster the publisher uses
    public = {name for name in dir(TweepyPoster) if not name.startswith("_")}

    # Then the only X calls it offers are "who am I" and "post this text"
    assert public - {"client", "credentials_id"} == {"whoami", "post"}
    # And post takes the text and nothing else
    assert list(TweepyPoster.post.__code__.co_varnames[: TweepyPoster.post.__code__.co_argcount]) == [
        "self",
        "text",
    ]


def test_every_request_carries_explicit_timeouts_to_the_transport(x_api, poster):
    # Given tweepy, which sets no timeout of its own
    # When the account is checked and a post is made
    poster.whoami()
    poster.post(TEXT)

    # Then both requests reached the transport with the connect and read timeouts set
    assert [s.timeout for s in x_api.sent] == [(CONNECT_TIMEOUT, READ_TIMEOUT)] * 2


def test_the_transport_never_resends_a_post_on_its_own(poster):
    # Given the session tweepy posts through
    adapter = poster.client.session.get_adapter("https://api.twitter.com/2/tweets")

    # Then urllib3 retries nothing: a silent resend of a POST would be a second post
    assert adapter.max_retries.total == 0


def test_whoami_reads_the_account_the_tokens_belong_to(x_api, poster):
    # Given X knows the tokens as the recorded account
    me = poster.whoami()

    # Then its numeric id and handle come back, from GET /2/users/me signed with the tokens
    assert (me.user_id, me.username) == (RECORDED_ME["id"], RECORDED_ME["username"])
    [sent] = x_api.sent
    assert (sent.method, sent.url) == ("GET", "https://api.twitter.com/2/users/me")
    assert 'oauth_token="at-test"' in sent.headers["Authorization"]


RESET = 1_795_000_000  # x-rate-limit-reset, epoch seconds


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        pytest.param(
            (
                429,
                {"title": "Too Many Requests", "detail": "Too Many Requests"},
                {"x-rate-limit-reset": str(RESET)},
            ),
            RateLimited,
            "X rate limit: Too Many Requests",
            id="429-rate-limit",
        ),
        pytest.param(
            (
                429,
                {
                    "title": "UsageCapExceeded",
                    "detail": "Usage cap exceeded: Monthly product cap",
                    "type": "https://api.twitter.com/2/problems/usage-capped",
                    "period": "Monthly",
                    "scope": "Product",
                },
                {"x-rate-limit-reset": str(RESET)},
            ),
            UsageCapped,
            "X usage cap reached: Usage cap exceeded: Monthly product cap",
            id="429-usage-capped",
        ),
        pytest.param(
            (
                402,
                {"title": "CreditsDepleted", "detail": "Your account has no credits", "type": "about:blank"},
            ),
            UsageCapped,
            "X credit exhausted (402): Your account has no credits",
            id="402-credits",
        ),
        pytest.param(
            (401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}),
            Unauthorized,
            "X rejected the credentials (401): Unauthorized",
            id="401",
        ),
        pytest.param(
            (403, DUPLICATE),
            Duplicate,
            "You are not allowed to create a Tweet with duplicate content.",
            id="403-duplicate",
        ),
        pytest.param(
            (
                403,
                {
                    "title": "Unsupported Authentication",
                    "detail": "Your client app is not configured with the appropriate oauth1 app permissions for this endpoint.",
                    "type": "https://api.twitter.com/2/problems/oauth1-permissions",
                    "status": 403,
                },
            ),
            Unauthorized,
            "X does not let these credentials post (403): Your client app is not configured",
            id="403-read-only-app",
        ),
        pytest.param(
            (
                403,
                {
                    "title": "Forbidden",
                    "detail": "You are not permitted to perform this action.",
                    "type": "about:blank",
                    "status": 403,
                },
            ),
            Refused,
            "You are not permitted to perform this action.",
            id="403-other",
        ),
        pytest.param(
            (
                400,
                {"errors": [{"message": "Post text is too long"}], "title": "Invalid Request"},
            ),
            Refused,
            "Post text is too long",
            id="400",
        ),
        pytest.param((500, {"title": "Internal Server Error"}), Ambiguous, "X server error 500", id="500"),
        pytest.param((503, {"title": "Service Unavailable"}), Ambiguous, "X server error 503", id="503"),
    ],
)
def test_each_answer_of_x_becomes_the_error_the_publisher_acts_on(x_api, poster, answer, error, message):
    # Given X answers a create request like this
    x_api.then(answer)

    # When a post is made
    with pytest.raises(error) as caught:
        poster.post(TEXT)

    # Then the error names what X said
    assert str(caught.value).startswith(message)
    if error is RateLimited:
        # And a rate limit says when it resets, from x-rate-limit-reset
        assert caught.value.reset_at == datetime.fromtimestamp(RESET, UTC)


@pytest.mark.parametrize(
    ("answer", "error", "reached_x"),
    [
        ("timeout", Ambiguous, True),
        ("reset", Ambiguous, True),
        ("unreachable", NotSent, False),
    ],
)
def test_a_lost_answer_is_ambiguous_but_a_request_that_never_left_is_not(
    x_api, poster, answer, error, reached_x
):
    # Given the network fails in this way
    x_api.then(answer)

    # When a post is made
    with pytest.raises(error):
        poster.post(TEXT)

    # Then only a failure after the request left counts as "X may have posted it"
    assert (len(x_api.sent) == 1) is reached_x


def test_a_success_answer_without_an_id_is_ambiguous(x_api, poster):
    # Given X says 201 but the body has no post in it
    x_api.then((201, {"meta": {}}))

    # Then the post may exist: the publisher must treat it as ambiguous, not as failed
    with pytest.raises(Ambiguous, match="no id"):
        poster.post(TEXT)


def test_whoami_errors_are_mapped_too(x_api, poster):
    # Given X rejects the tokens
    x_api.me_then((401, {"title": "Unauthorized", "detail": "Unauthorized", "type": "about:blank"}))

    # Then the account check learns it is the credentials
    with pytest.raises(Unauthorized):
        poster.whoami()


def test_posts_use_the_checked_credentials_until_they_are_loaded_again(x_api):
    # Given a poster whose credentials were loaded (and checked)
    credentials = Credentials()
    poster = TweepyPoster(credentials, make_config().account)
    first = poster.credentials_id()

    # When the secret is rotated to another account's tokens behind its back
    credentials.values = dict(OTHER_ACCOUNT_CREDENTIALS)
    poster.post(TEXT)

    # Then the post is still signed with the tokens that were checked
    assert 'oauth_token="at-test"' in x_api.sent[-1].headers["Authorization"]

    # And only loading them again (which the publisher follows with an account check) switches
    second = poster.credentials_id()
    poster.post(TEXT + " 2")
    assert second != first
    assert 'oauth_token="at-someone-else"' in x_api.sent[-1].headers["Authorization"]


def test_the_credentials_id_is_a_short_one_way_fingerprint():
    # Given the tokens
    fp = fingerprint(X_CREDENTIALS)

    # Then the fingerprint stored in the table gives none of them away, and tells tokens apart
    assert len(fp) == 16
    assert not any(v in fp for v in X_CREDENTIALS.values())
    assert fp != fingerprint(OTHER_ACCOUNT_CREDENTIALS)


def test_incomplete_credentials_are_a_clear_error_naming_what_is_missing():
    # Given a secret without the access token secret
    poster = TweepyPoster(lambda: {**X_CREDENTIALS, "access_token_secret": ""}, make_config().account)

    # Then loading them says which field is missing
    with pytest.raises(CredentialsError, match="lacks access_token_secret"):
        poster.credentials_id()


def test_credentials_come_from_secrets_manager_once_per_cache_period(aws, monkeypatch):
    # Given the function's environment naming the secret
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    monkeypatch.setenv("HOOKLINE_TABLE", "t")
    monkeypatch.setenv("HOOKLINE_X_SECRET", X_SECRET)
    settings = read_settings()

    # When the credentials are needed twice
    first = x_credentials(settings)
    second = x_credentials(settings)

    # Then they are the secret's tokens, fetched from Secrets Manager once (powertools caches them)
    assert first == second == X_CREDENTIALS
    [call] = aws.of("GetSecretValue")
    assert call.params["SecretId"] == X_SECRET
    parameters.clear_caches()


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("not json", "is not a JSON object"),
        (json.dumps(["a"]), "is not a JSON object"),
        (json.dumps({"consumer_key": "ck"}), "lacks consumer_secret, access_token, access_token_secret"),
    ],
)
def test_an_unusable_secret_is_a_credentials_error(aws, monkeypatch, secret, message):
    # Given a secret that exists but does not hold the four tokens
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    aws.secrets[X_SECRET] = {"AWSCURRENT": secret}
    monkeypatch.setenv("HOOKLINE_TABLE", "t")
    monkeypatch.setenv("HOOKLINE_X_SECRET", X_SECRET)

    # Then it is a CredentialsError (publishing is held with this reason), not a crash
    with pytest.raises(CredentialsError, match=message):
        x_credentials(read_settings())
    parameters.clear_caches()


def test_the_dry_run_poster_prints_and_sends_nothing(x_api, capsys):
    # Given the local stack's poster
    poster = DryRunPoster(make_config().account)

    # When it posts
    posted = poster.post("Hello\nworld https://example.org")

    # Then the post is printed on one line, nothing reaches X, and there is no post id
    assert capsys.readouterr().out == "DRY-RUN POST: [x] Hello world https://example.org\n"
    assert x_api.sent == []
    assert posted.post_id is None
