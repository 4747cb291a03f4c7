"""`python -m hookline pause/resume`: the operators' crisis switch, from a terminal."""

from __future__ import annotations

import io

import pytest

from hookline.approval.review import Approvals
from hookline.models import State
from hookline.ops.cli import main
from tests.conftest import NOW, SIGNING_KEY, make_config
from tests.support.drafts import add_draft, signer


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_pause_and_resume_find_the_table_from_the_stack_name(store, aws, dynamodb_local, monkeypatch):
    # Given a deployed stack whose outputs name its table
    aws.stack_outputs["hookline-prod"] = {"TableName": store.table, "ApprovalsUrl": "https://x"}
    monkeypatch.setenv("HOOKLINE_DYNAMODB_ENDPOINT", dynamodb_local.endpoint)

    # When an operator pauses publishing by stack name
    code, out, _ = run("pause", "--stack", "hookline-prod", "--reason", "Flood warning", "--by", "Dana")

    # Then the stack was asked for its outputs, and that table is paused, by whom and why
    assert code == 0
    assert out.strip() == "publishing paused by Dana (cli): Flood warning"
    [describe] = aws.of("DescribeStacks")
    assert describe.params["StackName"] == "hookline-prod"
    state = store.pause_state()
    assert (state.paused, state.by, state.reason) == (True, "Dana (cli)", "Flood warning")

    # And resume releases it
    code, out, _ = run("resume", "--stack", "hookline-prod", "--by", "Dana")
    assert code == 0
    assert out.strip() == "publishing resumed by Dana (cli)"
    assert store.pause_state().paused is False


def test_pause_by_table_name_shows_on_the_approvers_pages(store, dynamodb_local, clock):
    code, _, _ = run(
        "pause",
        "--table",
        store.table,
        "--endpoint",
        dynamodb_local.endpoint,
        "--reason",
        "Crisis",
        "--by",
        "ops",
    )
    assert code == 0
    links = signer(SIGNING_KEY)
    draft = add_draft(store, NOW)
    page = Approvals(make_config(), store, links, clock).review(
        draft.id, links.decide_token(draft, "alex@example.org")
    )
    assert "Publishing is paused</strong> by ops (cli)" in page.html
    assert "Crisis" in page.html
    # drafts keep queuing meanwhile
    assert store.get_draft(draft.id).state is State.PENDING


def test_pause_needs_a_reason(store, dynamodb_local, capsys):
    with pytest.raises(SystemExit) as exited:
        run("pause", "--table", store.table, "--endpoint", dynamodb_local.endpoint)
    assert exited.value.code == 2
    assert "--reason" in capsys.readouterr().err
    code, _, err = run(
        "pause", "--table", store.table, "--endpoint", dynamodb_local.endpoint, "--reason", "  "
    )
    assert code == 2
    assert "--reason is required to pause" in err
    assert store.pause_state().paused is False


def test_an_unknown_stack_is_a_clear_error(aws):
    code, out, err = run("pause", "--stack", "no-such-stack", "--reason", "x")
    assert code == 2
    assert err == (
        "hookline: there is no stack 'no-such-stack' in eu-west-2: check the name "
        "(`aws cloudformation list-stacks`) or add --region REGION\n"
    )
    assert out == ""


def test_a_stack_without_a_table_output_is_a_clear_error(aws):
    aws.stack_outputs["other-app"] = {"BucketName": "b"}
    code, _, err = run("resume", "--stack", "other-app")
    assert code == 2
    assert err.startswith("hookline: stack other-app has no TableName output, so it is not a hookline stack")


def test_without_a_stack_or_table_it_says_what_to_pass(monkeypatch):
    monkeypatch.delenv("HOOKLINE_TABLE", raising=False)
    code, _, err = run("resume")
    assert code == 2
    assert "--stack NAME, or --table NAME" in err
    assert "the commands `make demo` printed" in err
