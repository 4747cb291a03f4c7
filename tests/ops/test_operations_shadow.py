"""Shadow mode (PublishMode=shadow): the whole pipeline runs for real, but nothing reaches X."""

from __future__ import annotations

import re

import time_machine

from hookline.models import State
from tests.conftest import NOW
from tests.support.aws import AwsFake, deploy
from tests.support.events import api_event, call, load
from tests.support.feeds import Item, page, rss


def publisher_setting(mode: str) -> str:
    """HOOKLINE_PUBLISHER as template.yaml sets it on the publish function for PublishMode=mode."""
    template = deploy(AwsFake(), "hookline", parameters={"PublishMode": mode})
    return template.functions()["PublishFunction"]["HOOKLINE_PUBLISHER"]


def test_the_template_maps_publish_mode_to_the_publisher_setting():
    assert publisher_setting("live") == "x"
    assert publisher_setting("shadow") == "shadow"


def test_in_shadow_mode_an_approved_draft_goes_all_the_way_but_only_the_log_sees_the_post(
    lambda_env, web, aws, x_api, caplog
):
    # Given a stack deployed with PublishMode=shadow
    lambda_env.monkeypatch.setenv("HOOKLINE_PUBLISHER", publisher_setting("shadow"))
    item = Item("New research report: river quality in the Fens", "river-quality")
    web.add("/news.xml", rss(web.base_url, [item], NOW))
    web.add("/news/river-quality", page(item.title))
    web.add("/robots.txt", b"User-agent: *\nAllow: /\n", content_type="text/plain")
    lambda_env.write_config(
        feeds=[{"id": "news", "url": web.url("/news.xml")}], polling={"initial_drafts": 1}
    )
    poll, approvals, publish = (lambda_env.handler(n) for n in ("poll_feeds", "approvals", "publish"))
    store = lambda_env.store()

    with time_machine.travel(NOW, tick=True):
        # When an entry is drafted, mailed to the approvers for real, and approved from the link
        assert call(poll, load("poll_feeds"))["drafted"] == 1
        [draft] = store.drafts_in(State.PENDING)
        mail = next(
            e for e in aws.of("SendEmail") if e.params["Destination"]["ToAddresses"] == ["alex@example.org"]
        )
        link = re.search(
            r"https://approve\.example\.org/\S+", mail.params["Content"]["Simple"]["Body"]["Text"]["Data"]
        )
        token = link.group(0).split("token=")[1]
        decided = call(
            approvals, api_event("POST", f"/drafts/{draft.id}", {"token": token, "action": "approve"})
        )
        assert decided["statusCode"] == 200

        # And the publish run comes round
        result = call(publish, load("publish"))

    # Then the draft is published in hookline's records, marked as a dry run with no post on X
    assert result["published"] == 1
    done = store.get_draft(draft.id)
    assert done.state is State.PUBLISHED
    assert done.post_id is None and done.post_url is None
    assert store.audit(draft.id)[-1].reason == "dry run: nothing was sent to X"
    # And nothing at all reached X: no account check, no post
    assert x_api.sent == []
    # And the log says exactly what would have been posted
    would = [r for r in caplog.records if r.__dict__.get("mode") == "shadow"]
    assert [r.getMessage() for r in would] == [f"DRY-RUN POST: [x] {draft.text}"]
    assert [r.__dict__["text"] for r in would] == [draft.text]


def test_in_shadow_mode_each_network_logs_its_dry_run_line_and_prints_nothing(caplog, capsys):
    import logging
    from datetime import UTC, datetime

    from hookline.publish.networks.dryrun import DryRunNetwork
    from hookline.publish.networks.port import Identity, Post

    text = "River quality in the Fens\nour study https://www.example.org/news/river"
    post = Post(
        key="d-1:bluesky",
        text=text,
        link="https://www.example.org/news/river",
        first_attempt_at=datetime(2026, 12, 3, 9, tzinfo=UTC),
    )
    with caplog.at_level(logging.INFO):
        for name in ("bluesky", "mastodon"):
            DryRunNetwork(name, Identity("id", "handle"), shadow=True).post(post)
    would = [r for r in caplog.records if r.__dict__.get("mode") == "shadow"]
    assert [r.getMessage() for r in would] == [
        f"DRY-RUN POST: [{n}] River quality in the Fens our study https://www.example.org/news/river"
        for n in ("bluesky", "mastodon")
    ]
    assert [r.__dict__["text"] for r in would] == [text, text]
    assert capsys.readouterr().out == ""
