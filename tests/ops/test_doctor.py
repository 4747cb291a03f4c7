"""`python -m hookline doctor --stack NAME` against a deployed stack as `sam deploy` of template.yaml
leaves it (CloudFormation, Lambda, Secrets Manager, SES, Scheduler and SNS intercepted at botocore's
transport), the X API intercepted at requests' transport, and feeds from a real local web server.

Every check is shown passing (the healthy deployment) and failing (one fault at a time), and each
failure says what to do.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from hookline.ops.cli import main
from local.webserver import Resource
from tests.conftest import NOW, SIGNING_KEY, X_CREDENTIALS, X_SECRET, _merge, base_config_data
from tests.support.aws import AwsFake, deploy
from tests.support.feeds import Item, rss
from tests.support.x import RECORDED_ME, XFake

STACK = "hookline-prod"
SIGNING_SECRET = f"{STACK}/link-signing-key"
ALARM_TOPIC = f"arn:aws:sns:eu-west-2:000000000000:{STACK}-AlarmTopic-1A2B3C"
# The corporate account's profile as X returns it with user.fields=url,description,entities.
PROFILE = {
    "description": "Research, reports and events from Example Trust. Posts by @alex_morgan_comms.",
    "url": "https://t.co/AbCdEf1234",
    "entities": {
        "url": {
            "urls": [
                {
                    "start": 0,
                    "end": 23,
                    "url": "https://t.co/AbCdEf1234",
                    "expanded_url": "https://www.example.org/",
                    "display_url": "example.org",
                }
            ]
        },
        "description": {"mentions": [{"start": 58, "end": 76, "username": "alex_morgan_comms"}]},
    },
}
READ_ONLY = ("Describe", "Get", "List")
ME_ID = RECORDED_ME["id"]


@dataclass
class Deployment:
    """A healthy production deployment; each test breaks one thing in it."""

    aws: AwsFake
    x: XFake
    web: Any
    tmp: Path
    config: dict[str, Any]

    def run(self, *extra: str) -> tuple[int, dict[str, tuple[str, str]], str]:
        """(exit status, {check name: (status, detail)}, the whole output)."""
        path = self.tmp / "hookline.yaml"
        path.write_text(yaml.safe_dump(self.config), encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        code = main(["doctor", "--stack", STACK, "--config", str(path), *extra], out=out, err=err)
        text = out.getvalue()
        checks = {}
        for line in text.splitlines()[:-1]:
            status, rest = line.split(None, 1)
            name, detail = rest.split(": ", 1)
            assert name not in checks, f"two checks named {name!r}"
            checks[name] = (status, detail)
        return code, checks, text


@pytest.fixture
def prod(aws, x_api, web, tmp_path) -> Deployment:
    deploy(aws, STACK)
    aws.secrets[SIGNING_SECRET] = {"AWSCURRENT": json.dumps({"key": SIGNING_KEY + "0" * 14})}
    aws.ses_identities["example.org"] = "SUCCESS"  # the organisation's domain is verified (DKIM)
    aws.subscriptions[ALARM_TOPIC] = [
        {
            "Protocol": "email",
            "Endpoint": "ops@example.org",
            "SubscriptionArn": f"{ALARM_TOPIC}:5b3c2a1d-0000-4000-8000-000000000001",
        }
    ]
    x_api.profile = dict(PROFILE)
    web.add("/news.xml", rss(web.base_url, [Item("New research report", "report")], NOW))
    web.add("/events.xml", rss(web.base_url, [Item("Open day", "open-day", category="Event")], NOW))
    config = _merge(
        base_config_data(),
        {
            "feeds": [
                {"id": "news", "url": web.url("/news.xml")},
                {"id": "events", "url": web.url("/events.xml"), "kind": "event"},
            ]
        },
    )
    return Deployment(aws, x_api, web, tmp_path, config)


def test_a_healthy_deployment_passes_every_check_with_one_line_each(prod):
    # Given a deployment that is wired correctly
    # When the doctor examines it
    code, checks, text = prod.run()

    # Then every check is one "ok" line, and the exit status says all passed
    assert code == 0, text
    assert {status for status, _ in checks.values()} == {"ok"}, text
    assert text.splitlines()[-1] == f"doctor: {len(checks)} ok, 0 warning(s), 0 failed: {STACK} is ready"
    # And the lines cover what the deployment needs, in a fixed order
    assert list(checks) == [
        f"stack {STACK}",
        "function poll",
        "function approvals",
        "function publish",
        "publishing",
        "approval links",
        "secret X credentials",
        "secret link-signing key",
        "x account",
        "x access",
        "x profile homepage",
        "x profile person",
        "ses account",
        "ses sender",
        "ses approver alex@example.org",
        "ses approver sam@example.org",
        "feed news",
        "feed events",
        "schedule PollFeedsFunctionPoll",
        "schedule PublishFunctionPublish",
        "alarms",
    ]
    # And the X check prints whose credentials they are
    assert checks["x account"][1] == (
        f"the credentials belong to @TweepyDev (user id {ME_ID}), the corporate account"
    )
    assert checks["x access"][1] == "the tokens may post (read-write-directmessages)"
    assert checks["publishing"][1] == "live: approved posts go to @TweepyDev"
    assert (
        checks["approval links"][1]
        == "start with https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/drafts/"
    )
    assert checks["ses sender"][1] == "hookline@example.org is verified (through the domain example.org)"
    assert checks["feed news"][1].endswith("answers and parses: 1 entry, newest 2026-11-25")
    assert checks["schedule PollFeedsFunctionPoll"][1] == "enabled, rate(1 minute)"
    assert checks["alarms"][1] == "go to email ops@example.org"


def test_a_feed_that_advertises_a_websub_hub_is_reported_and_still_polled(prod):
    # Given the news feed names a WebSub hub (Atom's link in an RSS channel, as WordPress and
    # Blogger feeds do) and the events feed's server names one in its Link header
    hub = '<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="hub" href="https://pubsubhubbub.appspot.com/"/>'
    body = rss(prod.web.base_url, [Item("New research report", "report")], NOW).replace(
        b"<description>test</description>", b"<description>test</description>" + hub.encode()
    )
    prod.web.add("/news.xml", Resource(body=body))
    events = rss(prod.web.base_url, [Item("Open day", "open-day", category="Event")], NOW)
    prod.web.add(
        "/events.xml",
        Resource(body=events, headers={"Link": '<https://websub.example.net/hub>; rel="hub"'}),
    )

    code, checks, text = prod.run()

    # Then each feed's line says so, and that polling every minute is what hookline does
    assert code == 0, text
    assert checks["feed news"] == (
        "ok",
        f"{prod.web.url('/news.xml')} answers and parses: 1 entry, newest 2026-11-25; it advertises a "
        "WebSub hub (https://pubsubhubbub.appspot.com/), which hookline does not need: it polls every minute",
    )
    assert "(https://websub.example.net/hub)" in checks["feed events"][1]


def test_the_doctor_only_reads_and_asks_x_for_the_profile_with_the_publishers_timeouts(prod):
    # When the doctor runs
    prod.run()

    # Then every AWS call it made was a read
    operations = {c.operation for c in prod.aws.calls}
    assert operations and all(op.startswith(READ_ONLY) for op in operations), operations
    # And X was asked once who the credentials are, with the profile fields, signed as the account
    [me] = prod.x.sent
    assert me.method == "GET"
    assert me.url.startswith("https://api.twitter.com/2/users/me?")
    assert "user.fields=url%2Cdescription%2Centities" in me.url
    assert 'oauth_consumer_key="ck-test"' in me.headers["Authorization"]
    assert me.timeout == (3.05, 10.0)  # hookline.publish.xapi's connect and read timeouts
    assert prod.x.posts == []


# -- each check failing, one fault at a time ----------------------------------------------------


def _x_secret_missing(d: Deployment) -> None:
    del d.aws.secrets[X_SECRET]


def _x_secret_unreadable(d: Deployment) -> None:
    d.aws.secrets_denied.add(X_SECRET)


def _x_secret_deleted(d: Deployment) -> None:
    d.aws.secrets_deleted.add(X_SECRET)


def _x_secret_incomplete(d: Deployment) -> None:
    d.aws.secrets[X_SECRET] = {"AWSCURRENT": json.dumps({**X_CREDENTIALS, "access_token_secret": ""})}


def _signing_key_short(d: Deployment) -> None:
    d.aws.secrets[SIGNING_SECRET] = {"AWSCURRENT": json.dumps({"key": "short"})}


def _signing_key_missing(d: Deployment) -> None:
    del d.aws.secrets[SIGNING_SECRET]


def _other_account(d: Deployment) -> None:
    d.x.user_id, d.x.username = "44196397", "someone_else"


def _revoked_tokens(d: Deployment) -> None:
    d.x.me_then("unauthorized")


def _x_unreachable(d: Deployment) -> None:
    d.x.me_then("unreachable")


def _read_only_tokens(d: Deployment) -> None:
    d.x.access_level = "read"


def _x_rate_limited(d: Deployment) -> None:
    d.x.me_then((429, {"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429}))


def _no_homepage(d: Deployment) -> None:
    d.x.profile = {**PROFILE, "url": "", "entities": {"description": PROFILE["entities"]["description"]}}


def _nobody_named(d: Deployment) -> None:
    d.x.profile = {
        **PROFILE,
        "description": "Research from Example Trust.",
        "entities": {"url": PROFILE["entities"]["url"]},
    }


def _sender_unverified(d: Deployment) -> None:
    d.aws.ses_identities.clear()


def _sender_pending(d: Deployment) -> None:
    d.aws.ses_identities.clear()
    d.aws.ses_identities["hookline@example.org"] = "PENDING"


def _no_sender(d: Deployment) -> None:
    d.config["notifications"]["email_sender"] = None


def _sending_paused(d: Deployment) -> None:
    d.aws.ses_sending = False


def _sandbox_unverified_approver(d: Deployment) -> None:
    d.aws.ses_production = False
    d.aws.ses_identities.clear()
    d.aws.ses_identities.update({"hookline@example.org": "SUCCESS", "alex@example.org": "SUCCESS"})


def _approver_suppressed(d: Deployment) -> None:
    d.aws.ses_suppressed["alex@example.org"] = "BOUNCE"


def _feed_gone(d: Deployment) -> None:
    d.web.add("/news.xml", Resource(body=b"", status=404, content_type="text/plain"))


def _feed_is_a_page(d: Deployment) -> None:
    d.web.add("/news.xml", b"<!doctype html><html><body>Our news</body></html>", content_type="text/html")


def _feed_host_down(d: Deployment) -> None:
    d.config["feeds"][0]["url"] = "http://127.0.0.1:9/news.xml"


def _poll_schedule_disabled(d: Deployment) -> None:
    [name] = [n for n in d.aws.schedules if "PollFeedsFunctionPoll" in n]
    d.aws.schedules[name]["State"] = "DISABLED"


def _publish_schedule_gone(d: Deployment) -> None:
    [name] = [n for n in d.aws.schedules if "PublishFunctionPublish" in n]
    del d.aws.schedules[name]


def _function_gone(d: Deployment) -> None:
    [name] = [n for n in d.aws.functions if "PublishFunction" in n]
    del d.aws.functions[name]


def _stack_rolled_back(d: Deployment) -> None:
    d.aws.stack_status[STACK] = "UPDATE_ROLLBACK_COMPLETE"


FAILURES: list[tuple[str, Callable[[Deployment], None], str, list[str]]] = [
    (
        "stack rolled back",
        _stack_rolled_back,
        f"stack {STACK}",
        ["UPDATE_ROLLBACK_COMPLETE", "describe-stack-events"],
    ),
    ("function missing", _function_gone, "function publish", ["cannot be read (ResourceNotFoundException"]),
    (
        "X secret missing",
        _x_secret_missing,
        "secret X credentials",
        ["does not exist", "aws secretsmanager create-secret --name hookline/x-credentials"],
    ),
    (
        "X secret unreadable",
        _x_secret_unreadable,
        "secret X credentials",
        ["exists but cannot be read (AccessDeniedException"],
    ),
    (
        "X secret deleted",
        _x_secret_deleted,
        "secret X credentials",
        ["scheduled for deletion", "restore-secret --secret-id hookline/x-credentials"],
    ),
    ("X secret incomplete", _x_secret_incomplete, "secret X credentials", ["lacks access_token_secret"]),
    (
        "signing key too short",
        _signing_key_short,
        "secret link-signing key",
        ["a key of 5 characters; use at least 32"],
    ),
    (
        "signing key missing",
        _signing_key_missing,
        "secret link-signing key",
        ["does not exist", "deploy again"],
    ),
    (
        "another account's tokens",
        _other_account,
        "x account",
        [
            f"belong to @someone_else (user id 44196397), not the corporate account @TweepyDev (user id {ME_ID})",
            "nothing would be posted",
        ],
    ),
    ("revoked tokens", _revoked_tokens, "x account", ["401 Unauthorized", "regenerate"]),
    ("X unreachable", _x_unreachable, "x account", ["could not reach X (ConnectionError)"]),
    (
        "read-only tokens",
        _read_only_tokens,
        "x access",
        ["may only read, so nothing can be posted", "Read and write", "regenerate the access token"],
    ),
    ("X rate limit", _x_rate_limited, "x account", ["rate limit", "again in 15 minutes"]),
    (
        "sender not verified",
        _sender_unverified,
        "ses sender",
        [
            "hookline@example.org is not verified: aws sesv2 create-email-identity --email-identity hookline@example.org"
        ],
    ),
    (
        "sender verification pending",
        _sender_pending,
        "ses sender",
        ["not verified (PENDING): open the link AWS mailed to hookline@example.org"],
    ),
    (
        "no sender configured",
        _no_sender,
        "ses sender",
        ["notifications.email_sender is not set", "approvers get no personal links"],
    ),
    (
        "SES sending paused",
        _sending_paused,
        "ses account",
        ["sending is paused", "put-account-sending-attributes --sending-enabled"],
    ),
    (
        "sandbox, approver unverified",
        _sandbox_unverified_approver,
        "ses approver sam@example.org",
        [
            "SES is in the sandbox and sam@example.org is not verified",
            "create-email-identity --email-identity sam@example.org",
        ],
    ),
    (
        "approver suppressed",
        _approver_suppressed,
        "ses approver alex@example.org",
        ["suppression list (BOUNCE)", "delete-suppressed-destination --email-address alex@example.org"],
    ),
    ("feed gone", _feed_gone, "feed news", ["HTTP 404", "check feeds[0].url in"]),
    ("feed is a web page", _feed_is_a_page, "feed news", ["answers but is not a feed", "RSS or Atom"]),
    ("feed host down", _feed_host_down, "feed news", ["connection refused", "check feeds[0].url"]),
    (
        "poll schedule disabled",
        _poll_schedule_disabled,
        "schedule PollFeedsFunctionPoll",
        [
            "DISABLED: nothing is polled",
            "aws scheduler update-schedule --name hookline-prod-PollFeedsFunctionPoll-9Z8Y7X --state ENABLED",
        ],
    ),
    (
        "publish schedule gone",
        _publish_schedule_gone,
        "schedule PublishFunctionPublish",
        ["cannot be read (ResourceNotFoundException", "nothing is published"],
    ),
]


@pytest.mark.parametrize(("fault", "arrange", "check", "says"), FAILURES, ids=[f[0] for f in FAILURES])
def test_each_fault_is_one_failing_line_that_says_what_to_do_and_the_exit_status_says_so(
    prod, fault, arrange, check, says
):
    # Given a deployment with one fault
    arrange(prod)

    # When the doctor examines it
    code, checks, text = prod.run()

    # Then that check fails, saying what is wrong and what to do
    status, detail = checks[check]
    assert status == "FAIL", text
    for words in says:
        assert words in detail, text
    # And the exit status says not everything passed
    assert code == 1
    assert text.splitlines()[-1].endswith("failed: fix each FAIL above, then run doctor again")


def test_a_failing_secret_or_feed_does_not_stop_the_other_checks(prod):
    # Given revoked X credentials and a feed that is gone
    _revoked_tokens(prod)
    _feed_gone(prod)

    # When the doctor runs
    code, checks, _ = prod.run()

    # Then only those two fail; every other check still ran and passed
    failed = {name for name, (status, _) in checks.items() if status == "FAIL"}
    assert failed == {"x account", "feed news"}
    assert checks["feed events"][0] == "ok"
    assert checks["schedule PublishFunctionPublish"][0] == "ok"
    assert code == 1


def test_without_readable_x_credentials_the_account_is_not_asked_about(prod):
    # Given an X secret that does not exist
    _x_secret_missing(prod)

    # When the doctor runs
    _, checks, _ = prod.run()

    # Then it does not call X with nothing, and says nothing about the account it cannot know
    assert prod.x.sent == []
    assert "x account" not in checks


def test_a_stack_that_does_not_exist_is_one_clear_failure(prod):
    # Given no stack of that name in the region
    del prod.aws.stack_outputs[STACK]

    # When the doctor is pointed at it
    code, checks, text = prod.run()

    # Then it says so once, and how to fix it, without a traceback
    assert checks == {
        f"stack {STACK}": (
            "FAIL",
            "not found in this region: deploy it (sam deploy --config-env ...), or pass --region",
        )
    }
    assert code == 1
    assert "Traceback" not in text


# -- warnings: worth knowing, not failures -----------------------------------------------------------


@pytest.mark.parametrize(
    ("arrange", "check", "says"),
    [
        (
            _no_homepage,
            "x profile homepage",
            "does not link the organisation's homepage (https://www.example.org/)",
        ),
        (_nobody_named, "x profile person", "does not name the person responsible for the account"),
    ],
    ids=["no homepage link", "nobody named"],
)
def test_a_profile_that_does_not_show_the_people_and_organisation_behind_it_is_a_warning(
    prod, arrange, check, says
):
    # Given a corporate account whose profile lacks what the organisation's guidance asks for
    arrange(prod)

    # When the doctor runs
    code, checks, _ = prod.run()

    # Then it warns, and says what to add, but the deployment still passes
    assert checks[check][0] == "warn"
    assert says in checks[check][1]
    assert code == 0


def test_the_profile_check_reads_links_in_the_bio_and_ignores_the_accounts_own_handle(prod):
    # Given a profile with no website field, the homepage linked in the bio, and only itself mentioned
    prod.x.profile = {
        "description": "From @TweepyDev: see https://t.co/x1 for more",
        "entities": {
            "description": {
                "urls": [{"url": "https://t.co/x1", "expanded_url": "https://example.org/about"}],
                "mentions": [{"username": "TweepyDev"}],
            }
        },
    }

    # When the doctor runs
    _, checks, _ = prod.run()

    # Then the bio link counts as the homepage (www. or not), but naming itself names no person
    assert checks["x profile homepage"][0] == "ok"
    assert checks["x profile person"][0] == "warn"


def test_shadow_mode_is_a_warning_that_nothing_reaches_x(prod):
    # Given the stack deployed with PublishMode=shadow
    deploy(prod.aws, STACK, parameters={"PublishMode": "shadow"})

    # When the doctor runs
    code, checks, _ = prod.run()

    # Then it says plainly that nothing will be posted, without failing
    assert checks["publishing"] == (
        "warn",
        "shadow mode: the whole pipeline runs but only logs what it would post; nothing reaches X "
        "(deploy with PublishMode=live to post)",
    )
    assert code == 0


def test_the_ses_sandbox_is_a_warning_when_every_approver_is_verified(prod):
    # Given SES still in its sandbox, with the sender's domain and both approvers verified
    prod.aws.ses_production = False
    prod.aws.ses_identities.update({"alex@example.org": "SUCCESS", "sam@example.org": "SUCCESS"})

    # When the doctor runs
    code, checks, _ = prod.run()

    # Then it passes, warning about the sandbox's limits and how to leave it
    assert checks["ses account"][0] == "warn"
    assert "aws sesv2 put-account-details --production-access-enabled" in checks["ses account"][1]
    assert checks["ses approver sam@example.org"] == (
        "ok",
        "Sam Patel can receive mail in the sandbox: verified",
    )
    assert code == 0


def test_a_renamed_account_passes_on_its_user_id_and_warns_about_the_handle(prod):
    # Given the corporate account renamed on X (same user id, new handle)
    prod.x.username = "ExampleTrustNew"

    # When the doctor runs
    code, checks, _ = prod.run()

    # Then the account check passes (the id is what counts) and the stale handle is a warning
    assert checks["x account"][0] == "ok"
    assert checks["x account handle"] == (
        "warn",
        f"the account is now @ExampleTrustNew, the config says @TweepyDev: update account.handle in "
        f"{prod.tmp / 'hookline.yaml'} (post links use it)",
    )
    assert code == 0


@pytest.mark.parametrize(
    ("subscriptions", "says"),
    [
        (
            [{"Protocol": "email", "Endpoint": "ops@example.org", "SubscriptionArn": "PendingConfirmation"}],
            "the subscription of ops@example.org is not confirmed",
        ),
        ([], "nobody receives them: deploy with AlarmEmail="),
    ],
    ids=["unconfirmed", "nobody"],
)
def test_alarms_nobody_will_see_are_a_warning(prod, subscriptions, says):
    # Given an alarm topic without a confirmed subscriber
    prod.aws.subscriptions[ALARM_TOPIC] = subscriptions

    # When the doctor runs
    code, checks, _ = prod.run()

    # Then it warns and says how to fix it
    assert checks["alarms"][0] == "warn"
    assert says in checks["alarms"][1]
    assert code == 0


def test_with_a_custom_domain_the_doctor_shows_the_links_use_it(prod):
    # Given the stack deployed with a custom domain for the approval links
    deploy(
        prod.aws,
        STACK,
        parameters={
            "ApprovalDomainName": "approve.example.org",
            "ApprovalCertificateArn": "arn:aws:acm:eu-west-2:000000000000:certificate/0a1b2c3d-0000-4000-8000-000000000000",
        },
    )

    # When the doctor runs
    _, checks, _ = prod.run()

    # Then the approval links start with the custom domain
    assert checks["approval links"] == ("ok", "start with https://approve.example.org/drafts/")


def test_links_that_do_not_use_the_configured_custom_domain_fail(prod):
    # Given a stack whose parameters name a custom domain but whose poll function still signs
    # links for the execute-api address (e.g. a function updated outside CloudFormation)
    prod.aws.stack_parameters[STACK]["ApprovalDomainName"] = "approve.example.org"

    # When the doctor runs
    code, checks, _ = prod.run()

    # Then the links check fails
    assert checks["approval links"][0] == "FAIL"
    assert "not the custom domain approve.example.org" in checks["approval links"][1]
    assert code == 1


def test_a_function_deployed_with_private_addresses_allowed_is_a_warning(prod):
    # Given the poll function deployed with the local stack's flag (links may reach inside)
    poll = next(name for name in prod.aws.functions if "PollFeeds" in name)
    prod.aws.functions[poll]["HOOKLINE_ALLOW_PRIVATE_ADDRESSES"] = "true"

    # When the doctor runs
    code, checks, _ = prod.run()

    # Then it warns, names the function and says what to do; the rest still passes
    assert checks["link guard"] == (
        "warn",
        "HOOKLINE_ALLOW_PRIVATE_ADDRESSES is set on the poll function: links from feeds can reach "
        "loopback and private addresses inside AWS; it is for the local stack only: remove it and redeploy",
    )
    assert code == 0


def test_a_feed_that_redirects_to_an_internal_host_fails_its_check_unfetched(prod, guarded):
    # Given a configured feed (trusted) that now redirects to another host that is loopback
    target = prod.web.url("/news.xml").replace("127.0.0.1", "localhost")
    prod.web.add("/moved.xml", Resource(redirect=target, status=301))
    prod.config["feeds"][0]["url"] = prod.web.url("/moved.xml")
    before = len(prod.web.requests_for("/news.xml"))

    # When the doctor runs
    code, checks, _ = prod.run()

    # Then that feed's check fails saying why, and the redirect was not followed
    status, detail = checks["feed news"]
    assert status == "FAIL" and code == 1
    # (localhost may answer ::1 or 127.0.0.1 first, by the machine's resolver)
    assert re.search(r"the link points at an internal address \(localhost is [0-9a-f.:]+: loopback", detail)
    assert len(prod.web.requests_for("/news.xml")) == before
