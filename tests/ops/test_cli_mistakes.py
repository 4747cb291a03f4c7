"""Every mistake a newcomer makes with the operators' commands is one sentence saying what is
wrong and what to type, exit status 2, and no traceback unless --debug is given."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from hookline.ops.cli import main
from local.dynamodb import free_port
from tests.support.paths import ROOT

AWS_SETTINGS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def one_sentence(err: str) -> str:
    assert err.startswith("hookline: ")
    assert err.count("\n") == 1, err  # one line
    assert "Traceback" not in err
    return err.removeprefix("hookline: ").rstrip("\n")


@pytest.fixture
def no_aws(monkeypatch):
    for name in AWS_SETTINGS:
        monkeypatch.delenv(name, raising=False)


def test_no_region_says_to_pass_one(no_aws, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    code, out, err = run("status", "--stack", "hookline-prod")
    assert code == 2
    assert out == ""
    assert one_sentence(err) == (
        "no AWS region is set: add --region REGION (e.g. --region eu-west-2) or set AWS_REGION"
    )


def test_no_credentials_says_how_to_get_them(no_aws):
    code, _, err = run("pause", "--stack", "hookline-prod", "--region", "eu-west-2", "--reason", "x")
    assert code == 2
    assert one_sentence(err).startswith("no AWS credentials found: run `aws configure` (or `aws sso login`)")


def test_an_endpoint_nothing_answers_on_points_back_at_the_demo():
    endpoint = f"http://127.0.0.1:{free_port()}"
    code, _, err = run("status", "--endpoint", endpoint, "--table", "hookline-demo")
    assert code == 2
    assert one_sentence(err) == (
        f"nothing answers at {endpoint}: is `make demo` still running? Use the --endpoint it printed "
        "at start-up (--debug shows the traceback)"
    )


@pytest.mark.parametrize(
    "command", [("status",), ("pause", "--reason", "x"), ("resume",), ("rules", "report")]
)
def test_an_unknown_table_is_named(dynamodb_local, command):
    code, _, err = run(*command, "--endpoint", dynamodb_local.endpoint, "--table", "no-such-table")
    assert code == 2
    assert one_sentence(err).startswith(
        f"there is no table 'no-such-table' at {dynamodb_local.endpoint}: check --table "
        "(the demo prints its table name"
    )


def test_a_config_that_is_not_there_is_named(store, dynamodb_local, tmp_path):
    missing = tmp_path / "nowhere.yaml"
    code, _, err = run(
        "status", "--endpoint", dynamodb_local.endpoint, "--table", store.table, "--config", str(missing)
    )
    assert code == 2
    assert one_sentence(err) == (
        f"no config file at {missing}: pass --config FILE (or set HOOKLINE_CONFIG), or run from the "
        "repository's root, where config/hookline.yaml is"
    )
    code, _, err = run("preview", "feed.xml", "--config", str(missing))
    assert code == 2
    assert one_sentence(err).startswith(f"no config file at {missing}")


def test_dynamodb_local_needs_no_aws_settings_at_all(no_aws, store, dynamodb_local, tmp_path):
    # The demo's table, from a shell with no AWS set-up: DynamoDB Local takes any credentials
    code, out, err = run(
        "pause",
        "--endpoint",
        dynamodb_local.endpoint,
        "--table",
        store.table,
        "--reason",
        "Drill",
        "--by",
        "Sam",
    )
    assert (code, err) == (0, "")
    assert out == "publishing paused by Sam (cli): Drill\n"
    assert store.pause_state().paused is True


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "hookline"), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-m", "hookline", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_in_a_terminal_a_mistake_has_no_traceback_and_debug_shows_it():
    endpoint = f"http://127.0.0.1:{free_port()}"
    plain = _cli("status", "--endpoint", endpoint, "--table", "t")
    assert plain.returncode == 2
    assert plain.stderr.startswith(f"hookline: nothing answers at {endpoint}")
    assert "Traceback" not in plain.stderr

    debug = _cli("status", "--endpoint", endpoint, "--table", "t", "--debug")
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert "EndpointConnectionError" in debug.stderr
