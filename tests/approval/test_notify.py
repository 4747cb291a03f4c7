"""Notifications: what each approver and each shared channel is sent, exactly once."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from hookline.approval.links import LinkSigner
from hookline.approval.notify import Notifier, NotifyError
from tests.conftest import NOW, SIGNING_KEY, make_config
from tests.support.drafts import add_draft, signer

TOPIC = "arn:aws:sns:eu-west-2:000000000000:hookline-approvers"


class Hook(ThreadingHTTPServer):
    """A Slack/Teams incoming webhook on loopback: records every POST and answers `status`."""

    daemon_threads = True

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.status = 200

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(handler) -> None:
                body = handler.rfile.read(int(handler.headers["Content-Length"]))
                self.posts.append(
                    {"path": handler.path, "headers": dict(handler.headers.items()), "body": json.loads(body)}
                )
                handler.send_response(self.status)
                handler.send_header("Content-Length", "2")
                handler.end_headers()
                handler.wfile.write(b"ok")

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, path: str = "/services/T000/B000/secret-webhook-path") -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.shutdown()
    server.server_close()


def notifier(store, config=None, links: LinkSigner | None = None) -> Notifier:
    links = links or signer(SIGNING_KEY)
    return Notifier(config or make_config(), store, lambda: links, topic_arn=TOPIC)


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def test_each_approver_gets_an_email_with_a_personal_link_in_html_and_text(store, aws):
    # Given a new draft and two approvers
    draft = add_draft(store, NOW)
    links = signer(SIGNING_KEY)
    config = make_config()

    # When the approvers are notified
    sent = notifier(store, config, links).new_draft(draft, NOW)

    # Then each got one email from the configured sender, with HTML and text parts
    assert sent == ["email:alex@example.org", "email:sam@example.org", "sns"]
    emails = aws.of("SendEmail")
    assert [e.params["Destination"] for e in emails] == [
        {"ToAddresses": ["alex@example.org"]},
        {"ToAddresses": ["sam@example.org"]},
    ]
    for email, name in zip(emails, ["Alex Morgan", "Sam Patel"], strict=True):
        content = email.params["Content"]["Simple"]
        assert email.params["FromEmailAddress"] == "hookline@example.org"
        assert content["Subject"]["Data"] == "Post to approve: New research report: river quality in the Fens"
        text = content["Body"]["Text"]["Data"]
        html = content["Body"]["Html"]["Data"]
        assert draft.text in text
        assert f"A post is waiting for your approval, {name}." in text
        assert "Why it was queued: category 'Report' matched rule 'publications'" in text
        assert html.startswith("<!doctype html>")
        assert "New research report: river quality in the Fens" in html

    # And each link is personal: it decides in that approver's name, and only for this draft
    alex_url = next(
        line
        for line in emails[0].params["Content"]["Simple"]["Body"]["Text"]["Data"].splitlines()
        if "/drafts/" in line
    )
    sam_html = emails[1].params["Content"]["Simple"]["Body"]["Html"]["Data"]
    assert alex_url.startswith(f"https://approve.example.org/drafts/{draft.id}?token=")
    assert links.read_draft_token(token_of(alex_url), draft.id, config).approver == "alex@example.org"
    sam_url = sam_html.split('href="')[2].split('"')[0].replace("&amp;", "&")
    assert links.read_draft_token(token_of(sam_url), draft.id, config).approver == "sam@example.org"


def test_the_shared_topic_gets_a_view_only_link_that_cannot_decide(store, aws):
    draft = add_draft(store, NOW)
    links = signer(SIGNING_KEY)
    notifier(store, links=links).new_draft(draft, NOW)

    [message] = aws.of("Publish")
    assert message.params["TopicArn"] == TOPIC
    assert message.params["Subject"] == "Post to approve: New research report: river quality in the Fens"
    body = message.params["Message"]
    assert draft.text in body
    url = next(word for word in body.split() if word.startswith("https://approve.example.org/drafts/"))
    claims = links.read_draft_token(token_of(url), draft.id, make_config())
    assert not claims.can_decide
    # and no approver's personal token travels on the shared channel
    for email in aws.of("SendEmail"):
        personal = next(
            w for w in email.params["Content"]["Simple"]["Body"]["Text"]["Data"].split() if "token=" in w
        )
        assert token_of(personal) not in body


def test_a_slack_webhook_gets_a_plain_text_message_with_a_view_only_button(store, aws, hook):
    # Given a Slack webhook and a title that tries Slack's own markup
    config = make_config(notifications={"webhook": {"url": hook.url(), "kind": "slack"}})
    draft = add_draft(store, NOW, title="<!channel> Urgent: <https://evil.example|click> report & more")
    links = signer(SIGNING_KEY)

    # When the draft is announced
    notifier(store, config, links).new_draft(draft, NOW)

    # Then Slack received one JSON message
    [post] = hook.posts
    assert post["path"] == "/services/T000/B000/secret-webhook-path"
    assert post["headers"]["Content-Type"] == "application/json"
    body = post["body"]
    # whose markup is escaped in the fallback text and plain in the blocks
    assert "<!channel>" not in body["text"]
    assert "&lt;!channel&gt; Urgent: &lt;https://evil.example|click&gt; report &amp; more" in body["text"]
    assert body["blocks"][1]["text"] == {"type": "plain_text", "text": draft.text, "emoji": False}
    assert body["unfurl_links"] is False
    # and whose only link is view-only
    [button] = body["blocks"][3]["elements"]
    assert not links.read_draft_token(token_of(button["url"]), draft.id, config).can_decide


def test_a_teams_webhook_gets_an_adaptive_card_whose_text_is_never_markdown(store, aws, hook):
    config = make_config(notifications={"webhook": {"url": hook.url("/workflows/abc"), "kind": "teams"}})
    draft = add_draft(store, NOW, title="[Click me](https://evil.example) **now**")
    links = signer(SIGNING_KEY)

    notifier(store, config, links).new_draft(draft, NOW)

    [post] = hook.posts
    [attachment] = post["body"]["attachments"]
    card = attachment["content"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["type"] == "AdaptiveCard"
    runs = [block["inlines"][0] for block in card["body"]]
    assert all(block["type"] == "RichTextBlock" for block in card["body"])  # TextRuns: no markdown
    assert runs[1]["text"] == draft.text
    [action] = card["actions"]
    assert action["type"] == "Action.OpenUrl"
    assert not links.read_draft_token(token_of(action["url"]), draft.id, config).can_decide


def test_notifying_twice_sends_nothing_twice(store, aws, hook):
    # Given a draft whose notifications all went out
    config = make_config(notifications={"webhook": {"url": hook.url()}})
    draft = add_draft(store, NOW)
    assert len(notifier(store, config).new_draft(draft, NOW)) == 4

    # When the poll runs again (it failed after notifying, say)
    again = notifier(store, config).new_draft(draft, NOW)

    # Then nobody is told twice
    assert again == []
    assert len(aws.of("SendEmail")) == 2
    assert len(aws.of("Publish")) == 1
    assert len(hook.posts) == 1


def test_a_failed_channel_does_not_stop_the_others_and_is_retried_alone(store, aws, hook, caplog):
    # Given SNS failing once and the webhook answering 500
    config = make_config(notifications={"webhook": {"url": hook.url()}})
    draft = add_draft(store, NOW)
    aws.failures["Publish"] = 503
    hook.status = 500

    # When the approvers are notified
    with (
        caplog.at_level(logging.WARNING, logger="hookline"),
        pytest.raises(NotifyError, match="sns, webhook"),
    ):
        notifier(store, config).new_draft(draft, NOW)

    # Then both emails went out, and the failures were logged without the webhook's secret URL
    assert len(aws.of("SendEmail")) == 2
    failures = [r for r in caplog.records if r.getMessage() == "notification failed"]
    assert [r.channel for r in failures] == ["sns", "webhook"]
    assert re.fullmatch(r"\w+( \(\w+\))?", failures[0].error)  # the error's kind, never its message
    assert failures[1].error == "webhook answered HTTP 500"
    assert "secret-webhook-path" not in caplog.text

    # And the retry sends only what failed
    hook.status = 200
    assert notifier(store, config).new_draft(draft, NOW) == ["sns", "webhook"]
    assert len(aws.of("SendEmail")) == 2
    assert len(aws.of("Publish")) == 2  # the failed attempt and the retry
    assert len(hook.posts) == 2


def test_an_unreachable_webhook_is_logged_without_its_url(store, aws, caplog):
    config = make_config(notifications={"webhook": {"url": "http://127.0.0.1:9/services/T0/B0/topsecret"}})
    draft = add_draft(store, NOW)
    with caplog.at_level(logging.DEBUG), pytest.raises(NotifyError):
        notifier(store, config).new_draft(draft, NOW)
    assert "topsecret" not in caplog.text


def test_a_hostile_title_cannot_break_the_subject_line(store, aws):
    # Given a title with line breaks (header injection) and far too long for a subject
    draft = add_draft(store, NOW, title="Report\r\nBcc: victim@example.com\n" + "x" * 200)

    notifier(store).new_draft(draft, NOW)

    subjects = [e.params["Content"]["Simple"]["Subject"]["Data"] for e in aws.of("SendEmail")]
    subjects.append(aws.of("Publish")[0].params["Subject"])
    for subject in subjects:
        assert "\r" not in subject
        assert "\n" not in subject
        assert len(subject) < 100  # SNS refuses 100 or more
        assert subject.startswith("Post to approve: Report Bcc: victim@example.com xxx")
        assert subject.endswith("…")


def test_the_html_email_escapes_feed_text(store, aws):
    draft = add_draft(store, NOW, title='<img src=x onerror="alert(1)"> report')
    notifier(store).new_draft(draft, NOW)
    html = aws.of("SendEmail")[0].params["Content"]["Simple"]["Body"]["Html"]["Data"]
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; report" in html


def test_without_a_sender_or_topic_only_the_configured_channels_are_used(store, aws):
    config = make_config(notifications={"email_sender": None, "sns": False})
    draft = add_draft(store, NOW)
    assert notifier(store, config).new_draft(draft, NOW) == []
    assert aws.calls == []


def test_the_local_stack_prints_each_approvers_link(store):
    import io

    from hookline.approval.notify import EchoNotifier

    out = io.StringIO()
    links = signer(SIGNING_KEY, base_url="http://127.0.0.1:3000")
    draft = add_draft(store, NOW)
    EchoNotifier(make_config(), lambda: links, out).new_draft(draft, NOW)
    urls = [line for line in out.getvalue().splitlines() if line.startswith("http://127.0.0.1:3000/drafts/")]
    assert [links.read_draft_token(token_of(u), draft.id, make_config()).approver for u in urls] == [
        "alex@example.org",
        "sam@example.org",
    ]


def test_the_email_says_which_networks_the_post_goes_to(store, aws):
    # Given X, Bluesky and Mastodon configured
    from hookline.config import parse_config
    from tests.conftest import base_config_data

    data = base_config_data()
    data["accounts"] = {
        "x": data.pop("account"),
        "bluesky": {"handle": "example-trust.bsky.social", "did": "did:plc:" + "a" * 24},
        "mastodon": {"server": "https://mastodon.example", "account_id": "1090", "acct": "exampletrust"},
    }
    draft = add_draft(store, NOW)

    # When the approvers are notified
    notifier(store, parse_config(data)).new_draft(draft, NOW)

    # Then both parts of each email name all three
    for email in aws.of("SendEmail"):
        body = email.params["Content"]["Simple"]["Body"]
        assert "Once approved it goes to X, Bluesky and Mastodon." in body["Text"]["Data"]
        assert "Once approved it goes to X, Bluesky and Mastodon.</p>" in body["Html"]["Data"]
    # while an X-only deployment's says X
    notifier(store).new_draft(add_draft(store, NOW, identity="other", title="Another report"), NOW)
    last = aws.of("SendEmail")[-1].params["Content"]["Simple"]["Body"]["Text"]["Data"]
    assert "Once approved it goes to X." in last
