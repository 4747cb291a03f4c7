"""Tell approvers a draft is waiting.

Each approver gets a personal link (SES email) whose token names them. Shared
channels (the SNS topic, a Slack or Teams webhook) carry a view-only link that can
decide nothing. Every channel is sent at most once per draft: a marker is written
after each send, so a poll that failed half-way re-sends only what did not go out.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hookline.approval.links import LinkSigner
from hookline.config import Approver, Config
from hookline.models import Draft
from hookline.store import DraftStore

log = logging.getLogger(__name__)


class NotifyError(Exception):
    pass


class Notifier:
    def __init__(
        self,
        config: Config,
        store: DraftStore,
        signer: Callable[[], LinkSigner],
        *,
        topic_arn: str | None = None,
        sns: Any = None,
        ses: Any = None,
        http: Any = None,
    ) -> None:
        self.config = config
        self.store = store
        self._signer = signer
        self.topic_arn = topic_arn
        self._sns = sns
        self._ses = ses
        self._http = http

    @property
    def sns(self) -> Any:
        if self._sns is None:
            import boto3

            self._sns = boto3.client("sns")
        return self._sns

    @property
    def ses(self) -> Any:
        if self._ses is None:
            import boto3

            self._ses = boto3.client("sesv2")
        return self._ses

    def channels(self) -> list[str]:
        names = []
        if self.config.notifications.email_sender:
            names += [f"email:{a.key}" for a in self.config.approvers]
        if self.config.notifications.sns and self.topic_arn:
            names.append("sns")
        if self.config.notifications.webhook:
            names.append("webhook")
        return names

    def new_draft(self, draft: Draft, now: datetime, *, reminder: bool = False) -> list[str]:
        """Send every channel not yet sent for this draft; raises if any channel failed."""
        signer = self._signer()
        sent, failed = [], []
        prefix = "reminder:" if reminder else ""
        for channel in self.channels():
            marker = prefix + channel
            if self.store.was_notified(draft.id, marker):
                continue
            try:
                self._send(channel, draft, signer, reminder=reminder)
            except Exception as exc:  # one channel's failure must not stop the others
                log.warning(
                    "notification failed",
                    extra={"channel": channel, "draft_id": draft.id, "error": _safe_error(exc)},
                )
                failed.append(channel)
                continue
            self.store.mark_notified(draft.id, marker, now=now)
            sent.append(channel)
        if failed:
            raise NotifyError(f"could not notify via {', '.join(failed)}; the next run retries them")
        return sent

    def _send(self, channel: str, draft: Draft, signer: LinkSigner, *, reminder: bool) -> None:
        from hookline.approval import views

        if channel.startswith("email:"):
            approver = self.config.approver(channel.removeprefix("email:"))
            if approver is None:
                return
            self._email(approver, draft, signer.decide_url(draft, approver.email), views, reminder=reminder)
        elif channel == "sns":
            url = signer.view_url(draft)
            self.sns.publish(
                TopicArn=self.topic_arn,
                Subject=_subject(draft, reminder),
                Message=views.render_text(
                    "notify_shared.txt", draft=draft, url=url, reminder=reminder, config=self.config
                ),
            )
        elif channel == "webhook":
            self._webhook(draft, signer.view_url(draft), reminder)

    def _email(self, approver: Approver, draft: Draft, url: str, views: Any, *, reminder: bool) -> None:
        sender = self.config.notifications.email_sender
        context = {
            "draft": draft,
            "url": url,
            "approver": approver,
            "config": self.config,
            "reminder": reminder,
        }
        self.ses.send_email(
            FromEmailAddress=sender,
            Destination={"ToAddresses": [approver.email]},
            Content={
                "Simple": {
                    "Subject": {"Data": _subject(draft, reminder), "Charset": "UTF-8"},
                    "Body": {
                        "Text": {
                            "Data": views.render_text("notify_email.txt", **context),
                            "Charset": "UTF-8",
                        },
                        "Html": {
                            "Data": views.render_html("notify_email.html", **context),
                            "Charset": "UTF-8",
                        },
                    },
                }
            },
        )

    def _webhook(self, draft: Draft, url: str, reminder: bool) -> None:
        import urllib3

        hook = self.config.notifications.webhook
        if hook is None:
            return
        payload = (
            teams_payload(draft, url, reminder)
            if hook.kind == "teams"
            else slack_payload(draft, url, reminder)
        )
        http = self._http or urllib3.PoolManager(retries=False)
        resp = http.request(
            "POST",
            str(hook.url),
            body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            timeout=urllib3.Timeout(connect=3, read=5),
            redirect=False,
        )
        if resp.status >= 300:
            raise NotifyError(f"webhook answered HTTP {resp.status}")


def _safe_error(exc: Exception) -> str:
    """What failed, without the message: a webhook URL is itself a secret, and urllib3 quotes it."""
    if isinstance(exc, NotifyError):
        return str(exc)
    code = getattr(exc, "response", {}) or {}
    aws_code = code.get("Error", {}).get("Code") if isinstance(code, dict) else None
    return f"{type(exc).__name__}" + (f" ({aws_code})" if aws_code else "")


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def _one_line(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())


def _subject(draft: Draft, reminder: bool) -> str:
    """A header-safe subject: one line (SNS refuses line breaks), under SNS's 100 characters."""
    head = "Reminder: post waiting for approval" if reminder else "Post to approve"
    title = _one_line(draft.title)
    room = 98 - len(head) - 2
    title = title if len(title) <= room else title[: room - 1] + "…"
    return f"{head}: {title}"


def _slack_escape(text: str) -> str:
    # Slack reads <...> as links and mentions (<!channel>); a feed title must stay plain text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(draft: Draft, url: str, reminder: bool) -> dict[str, Any]:
    """A Slack incoming-webhook message: the post as plain text and a view-only button."""
    head = _subject(draft, reminder)
    return {
        "text": _slack_escape(f"{head}\n{draft.text}"),
        "unfurl_links": False,
        "blocks": [
            {"type": "section", "text": {"type": "plain_text", "text": head[:150], "emoji": False}},
            {"type": "section", "text": {"type": "plain_text", "text": draft.text[:3000], "emoji": False}},
            {
                "type": "context",
                "elements": [
                    {"type": "plain_text", "text": f"Why: {_one_line(draft.reason)}"[:2000], "emoji": False}
                ],
            },
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "View (approvers decide from their email)"},
                        "url": url,
                    }
                ],
            },
        ],
    }


def teams_payload(draft: Draft, url: str, reminder: bool) -> dict[str, Any]:
    """A Teams (Workflows) webhook message: an Adaptive Card whose text runs are never read as markdown."""

    def run(text: str, **style: Any) -> dict[str, Any]:
        return {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text, **style}]}

    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        run(_subject(draft, reminder), weight="Bolder"),
                        run(draft.text),
                        run(f"Why: {_one_line(draft.reason)}", isSubtle=True),
                    ],
                    "actions": [
                        {
                            "type": "Action.OpenUrl",
                            "title": "View (approvers decide from their email)",
                            "url": url,
                        }
                    ],
                },
            }
        ],
    }


class EchoNotifier:
    """The local stack's notifier: prints each approver's personal review link."""

    def __init__(self, config: Config, signer: Callable[[], LinkSigner], out: Any = None) -> None:
        self.config = config
        self._signer = signer
        self.out = out or sys.stdout

    def new_draft(self, draft: Draft, now: datetime, *, reminder: bool = False) -> list[str]:
        signer = self._signer()
        head = "Reminder: still waiting for approval" if reminder else "New draft to approve"
        print(f"\n{head} ({draft.weighted_length}/280): {draft.text}", file=self.out)
        for approver in self.config.approvers:
            print(f"  review link for {approver.name}:", file=self.out)
            print(
                signer.decide_url(draft, approver.email),
                file=self.out,
                flush=True,
            )
        return ["echo"]
