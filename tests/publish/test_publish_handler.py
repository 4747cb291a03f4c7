"""The publish Lambda handler as deployed: settings from the environment, X credentials from
Secrets Manager (intercepted at botocore's transport), metrics as CloudWatch EMF on stdout,
crashes raised for the dead-letter queue."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from hookline.approval.links import LinkSigner
from hookline.models import State
from tests.conftest import NOW, SIGNING_KEY, X_SECRET
from tests.support.drafts import add_draft
from tests.support.events import api_event, call, load
from tests.support.publishing import approved, creates, me_requests


def metrics_of(out: str) -> dict[str, Any]:
    """The metric values of the EMF blobs printed during a run."""
    values: dict[str, Any] = {}
    for line in out.splitlines():
        if '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                values[metric["Name"]] = sum(value) if isinstance(value, list) else value
    return values


def run(lambda_env, timeout: float = 60) -> dict[str, Any]:
    return call(lambda_env.handler("publish"), load("publish"), timeout=timeout)


def test_a_run_publishes_and_reports_its_metrics(lambda_env, x_api, capsys):
    # Given an approved draft
    store = lambda_env.store()
    draft = approved(store, "Handler report", at=NOW - timedelta(hours=1))

    # When the scheduled event invokes the function
    with time_machine.travel(NOW, tick=False):
        result = run(lambda_env)

    # Then it posted, and said so in its result and its metrics
    assert result["published"] == 1
    assert x_api.created == [draft.text]
    metrics = metrics_of(capsys.readouterr().out)
    assert metrics["Published"] == 1
    assert metrics["PublishFailed"] == 0
    assert metrics["AccountCheckFailed"] == 0
    assert result["spend_cents"] == 20
    assert result["held"] is None


def test_credentials_and_the_account_check_are_not_fetched_again_by_warm_or_cold_starts(
    lambda_env, x_api, aws
):
    # Given two approved drafts and an hour's spacing
    store = lambda_env.store()
    first = approved(store, "First handler report", at=NOW - timedelta(hours=2))
    second = approved(store, "Second handler report", at=NOW - timedelta(hours=1))

    # When the function runs, runs warm five minutes later, and runs from a cold start an hour later
    with time_machine.travel(NOW, tick=False):
        run(lambda_env)
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        run(lambda_env)
    warm_secret_reads = len(aws.of("GetSecretValue"))
    lambda_env.write_config()  # a new container: every in-memory cache is gone
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        run(lambda_env)

    # Then both drafts went out, the secret was read once per container, and get_me was asked
    # once: the cold start trusted the check recorded in the table
    assert x_api.created == [first.text, second.text]
    assert warm_secret_reads == 1
    assert len(aws.of("GetSecretValue")) == 2
    assert me_requests(x_api) == 1

    # And a few hours later the account is checked again before posting
    approved(store, "Third handler report", at=NOW + timedelta(hours=1))
    with time_machine.travel(NOW + timedelta(hours=4), tick=False):
        run(lambda_env)
    assert me_requests(x_api) == 2
    assert x_api.sent[-2].url.endswith("/2/users/me")


def test_credentials_of_another_account_hold_everything_raise_the_alarm_and_show_on_the_review_page(
    lambda_env, x_api, capsys
):
    # Given the secret holds tokens of some other account
    store = lambda_env.store()
    draft = approved(store, "Report for the wrong account", at=NOW - timedelta(hours=1))
    x_api.user_id, x_api.username = "999999", "someone_else"

    # When the function runs
    with time_machine.travel(NOW, tick=False):
        result = run(lambda_env)

    # Then nothing was posted, the draft stays APPROVED, and the alarm metric fired
    assert creates(x_api) == []
    assert store.get_draft(draft.id).state is State.APPROVED
    problem = (
        "the X credentials belong to @someone_else (user id 999999), not the corporate account "
        "@TweepyDev (user id 1072250532645998596); nothing will be posted"
    )
    assert result["account_problem"] == problem
    metrics = metrics_of(capsys.readouterr().out)
    assert metrics["AccountCheckFailed"] == 1
    assert result["held"] == problem

    # And an approver opening the draft's review page sees why
    signer = LinkSigner([SIGNING_KEY], timedelta(days=7), "https://approve.example.org")
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        token = signer.decide_token(store.get_draft(draft.id), "alex@example.org")
        page = call(lambda_env.handler("approvals"), api_event("GET", f"/drafts/{draft.id}?token={token}"))
    assert page["statusCode"] == 200
    assert (
        "Publishing is held after the account check:</strong> the X credentials belong to @someone_else"
        in page["body"]
    )

    # When the runs go on, the mismatch is not asked of X more than every 15 minutes
    for minutes in (5, 10, 16):
        with time_machine.travel(NOW + timedelta(minutes=minutes), tick=False):
            run(lambda_env)
    assert me_requests(x_api) == 2

    # When the right tokens are stored (here: X now knows them as the corporate account)
    x_api.user_id, x_api.username = "1072250532645998596", "TweepyDev"
    with time_machine.travel(NOW + timedelta(minutes=32), tick=False):
        result = run(lambda_env)

    # Then the hold is lifted and the draft goes out
    assert result["published"] == 1
    assert lambda_env.store().hold_state() is None


def test_an_unusable_secret_holds_publishing_with_the_reason(lambda_env, x_api, aws, capsys):
    # Given a secret without the access tokens
    aws.secrets[X_SECRET] = {"AWSCURRENT": json.dumps({"consumer_key": "ck", "consumer_secret": "cs"})}
    store = lambda_env.store()
    approved(store, "Report with a broken secret", at=NOW - timedelta(hours=1))

    # When the function runs
    with time_machine.travel(NOW, tick=False):
        result = run(lambda_env)

    # Then nothing reached X, and the reason names the secret and what it lacks
    assert x_api.sent == []
    assert result["held_kind"] == "credentials"
    assert "the X secret 'hookline/x-credentials' lacks access_token, access_token_secret" in result["held"]
    assert metrics_of(capsys.readouterr().out)["AccountCheckFailed"] == 1


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_an_unexpected_crash_fails_the_invocation_for_the_dead_letter_queue(lambda_env, x_api, monkeypatch):
    # Given a bug in the X client
    store = lambda_env.store()
    draft = approved(store, "Report meeting a bug", at=NOW - timedelta(hours=1))

    def broken(self, text):
        raise RuntimeError("a bug")

    monkeypatch.setattr("hookline.publish.xapi.TweepyPoster.post", broken)

    # When the function runs, the invocation fails (Lambda sends the event to the dead-letter queue)
    with time_machine.travel(NOW, tick=False), pytest.raises(RuntimeError, match="a bug"):
        run(lambda_env)

    # And the draft is left safe to retry: APPROVED with the attempt recorded as ambiguous
    after = store.get_draft(draft.id)
    assert after.state is State.APPROVED
    assert after.ambiguous_attempts[0].outcome == "crashed: RuntimeError"


def test_reminders_still_go_out_when_the_publish_run_crashes(lambda_env, x_api, aws, monkeypatch):
    # Given a draft that has waited long enough for a reminder, and a publish run that crashes
    store = lambda_env.store()
    waiting = add_draft(store, NOW - timedelta(hours=5))
    approved(store, "Report meeting a bug", at=NOW - timedelta(hours=1))

    def broken(self, text):
        raise RuntimeError("a bug")

    monkeypatch.setattr("hookline.publish.xapi.TweepyPoster.post", broken)
    with time_machine.travel(NOW, tick=False), pytest.raises(RuntimeError, match="a bug"):
        run(lambda_env)

    # Then the approvers were still reminded of the waiting draft
    assert store.get_draft(waiting.id).reminded_at == NOW


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_a_lease_shorter_than_the_function_timeout_is_refused(lambda_env, x_api, monkeypatch):
    # Given HOOKLINE_LEASE_SECONDS below the function's timeout (a live attempt could be taken over)
    monkeypatch.setenv("HOOKLINE_LEASE_SECONDS", "60")
    lambda_env.write_config()
    approved(lambda_env.store(), "Report under a short lease", at=NOW - timedelta(hours=1))

    # Then the function refuses to run before anything is claimed or sent
    with time_machine.travel(NOW, tick=False), pytest.raises(ValueError, match="lease"):
        run(lambda_env, timeout=90)
    assert x_api.sent == []


def test_every_publish_alarm_watches_a_metric_the_function_emits(lambda_env, x_api, capsys):
    # Given the alarms template.yaml defines on the publisher's own metrics
    import os

    import yaml

    from local.dynamodb import _CfnLoader
    from tests.support.paths import ROOT

    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in template["Resources"].values()
        if a["Type"] == "AWS::CloudWatch::Alarm" and a["Properties"].get("Namespace") == "hookline"
    }
    ours = {"AccountCheckFailed", "PublishFailed", "UsageCapped", "PublishNeedsConfirmation"}
    assert ours <= set(alarms)

    # When the function runs
    with time_machine.travel(NOW, tick=False):
        run(lambda_env)

    # Then each of those metrics is emitted every run, in the namespace and dimension the alarm watches
    out = capsys.readouterr().out
    assert ours <= set(metrics_of(out))
    blob = json.loads(next(line for line in out.splitlines() if '"_aws"' in line))
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == os.environ["POWERTOOLS_METRICS_NAMESPACE"]
    for name in ours:
        assert alarms[name]["Dimensions"] == [{"Name": "service", "Value": blob["service"]}]
