"""Rotating the link-signing key the way docs/operations.md says, end to end through the handlers.

The key lives in Secrets Manager (intercepted); rotation is `put-secret-value` with a new
random key, which moves the old one to AWSPREVIOUS. Links already mailed keep working
until they expire; a link signed with a key two rotations old does not.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import timedelta

import boto3
import pytest
import time_machine

from hookline.models import State
from hookline.services import SECRET_MAX_AGE
from tests.conftest import NOW, reset_handlers
from tests.support.events import api_event, call, load
from tests.support.feeds import Item, page, rss

SECRET_NAME = "hookline-prod/link-signing-key"
# The stack hands the functions the generated secret's ARN (Ref of the secret).
SECRET_ARN = f"arn:aws:secretsmanager:eu-west-2:000000000000:secret:{SECRET_NAME}-AbCdEf"


def rotate() -> None:
    """What the runbook's command does: a new random key becomes AWSCURRENT."""
    key = secrets.token_hex(32)
    boto3.client("secretsmanager").put_secret_value(
        SecretId=SECRET_ARN, SecretString=json.dumps({"key": key})
    )


@pytest.fixture
def signed_by_secrets_manager(lambda_env, aws, web):
    """The deployed wiring: the functions read the signing key from the generated secret."""
    lambda_env.monkeypatch.delenv("HOOKLINE_SIGNING_KEY")
    lambda_env.monkeypatch.setenv("HOOKLINE_SIGNING_SECRET", SECRET_ARN)
    aws.secrets[SECRET_NAME] = {"AWSCURRENT": json.dumps({"key": secrets.token_hex(32)})}
    web.add("/robots.txt", b"User-agent: *\nAllow: /\n", content_type="text/plain")
    lambda_env.write_config(
        feeds=[{"id": "news", "url": web.url("/news.xml")}], polling={"initial_drafts": 5}
    )
    reset_handlers()
    return lambda_env


def publish_entry(web, title: str, slug: str, items: list[Item]) -> list[Item]:
    item = Item(title, slug)
    items = [item, *items]
    web.add("/news.xml", rss(web.base_url, items, NOW))
    web.add(f"/news/{slug}", page(title))
    return items


def review_link(aws, title_words: str) -> str:
    """Alex's personal review link from the newest email about the draft."""
    for email in reversed(aws.of("SendEmail")):
        content = email.params["Content"]["Simple"]
        text = content["Body"]["Text"]["Data"]
        if email.params["Destination"]["ToAddresses"] == ["alex@example.org"] and title_words in text:
            return re.search(r"https://approve\.example\.org/drafts/\S+", text).group(0)
    raise AssertionError(f"no email about {title_words!r}")


def opens(approvals, link: str) -> int:
    return call(approvals, api_event("GET", link))["statusCode"]


def test_rotation_keeps_links_already_sent_working_and_retires_keys_two_rotations_old(
    signed_by_secrets_manager, aws, web
):
    env = signed_by_secrets_manager
    poll, approvals = env.handler("poll_feeds"), env.handler("approvals")
    store = env.store()

    with time_machine.travel(NOW, tick=False) as clock:
        # Given a draft whose review link was mailed, signed with the first key
        items = publish_entry(web, "New research report: river quality", "river-quality", [])
        assert call(poll, load("poll_feeds"))["drafted"] == 1
        first = review_link(aws, "river quality")
        assert opens(approvals, first) == 200

        # When the key is rotated, and every warm function has picked the new key up
        rotate()
        clock.shift(timedelta(seconds=SECRET_MAX_AGE + 1))

        # Then the link sent before the rotation still opens
        assert opens(approvals, first) == 200
        # And new links are signed with the new key, and open too
        items = publish_entry(web, "Research briefing: flood defences", "flood-defences", items)
        assert call(poll, load("poll_feeds"))["drafted"] == 1
        second = review_link(aws, "flood defences")
        assert opens(approvals, second) == 200

        # When the key is rotated a second time
        rotate()
        clock.shift(timedelta(seconds=SECRET_MAX_AGE + 1))

        # Then a link signed with the key two rotations old is refused, saying so on the page
        refused = call(approvals, api_event("GET", first))
        assert refused["statusCode"] == 403
        assert "This link is not valid" in refused["body"]
        # And the link signed one rotation ago still opens, and can still decide
        assert opens(approvals, second) == 200
        token = second.split("token=")[1]
        draft_id = second.split("/drafts/")[1].split("?")[0]
        decided = call(
            approvals, api_event("POST", f"/drafts/{draft_id}", {"token": token, "action": "approve"})
        )
        assert decided["statusCode"] == 200
        assert store.get_draft(draft_id).state is State.APPROVED


def test_before_any_rotation_there_is_no_previous_key_and_links_work(signed_by_secrets_manager, aws, web):
    env = signed_by_secrets_manager
    poll, approvals = env.handler("poll_feeds"), env.handler("approvals")

    with time_machine.travel(NOW, tick=False) as clock:
        # Given a freshly deployed stack: the secret has no AWSPREVIOUS yet
        publish_entry(web, "New research report: river quality", "river-quality", [])
        call(poll, load("poll_feeds"))
        link = review_link(aws, "river quality")

        # When approvers open the link several times, across the key cache's lifetime
        statuses = [opens(approvals, link)]
        clock.shift(timedelta(seconds=SECRET_MAX_AGE + 1))
        statuses += [opens(approvals, link), opens(approvals, link)]

    # Then it opens every time
    assert statuses == [200, 200, 200]
    # And the previous key is looked for, but its absence is remembered for the cache's lifetime,
    # not asked about on every request (the test's functions share one process, so one cache)
    stages = [
        c.params.get("VersionStage") for c in aws.of("GetSecretValue") if SECRET_NAME in c.params["SecretId"]
    ]
    assert stages.count("AWSPREVIOUS") == 2  # one per cache lifetime
