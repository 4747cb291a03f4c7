"""No credential, token or signing key in anything the functions write, down to DEBUG.

The three deployed functions go through a week of the organisation's news
(tests/reliability/journey.py): polls, notifications with personal links, reviews,
decisions and refusals, publishing with X failing in every way, reminders, expiry.
Everything is captured: every logging record at DEBUG from every logger (the
functions' powertools loggers set to DEBUG too), and all that reached stdout and
stderr. None of it may contain the X consumer or access secrets, the signing key, or
any link token (whole, URL-quoted, or its signature alone).
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest
import time_machine

from tests.conftest import NOW, SIGNING_KEY, X_CREDENTIALS
from tests.reliability.journey import Journey, run
from tests.reliability.system import Findings

pytestmark = pytest.mark.slow


@pytest.mark.scenario("No credential, token or key in any log")
def test_nothing_secret_reaches_any_log_on_a_full_poll_approve_publish_week(
    lambda_env, web, aws, x_api, caplog, capfd, ledger
):
    # Given every logger at DEBUG, the functions' own loggers included
    caplog.set_level(logging.DEBUG)
    handlers = [lambda_env.handler(name) for name in ("poll_feeds", "approvals", "publish")]
    for module in handlers:
        module.logger.setLevel(logging.DEBUG)

    # When the functions run through the week
    with time_machine.travel(NOW, tick=False) as traveller:
        journey = Journey(lambda_env, web, aws, x_api, traveller)
        run(journey)

    captured = capfd.readouterr()
    records = caplog.records
    everything = "\n".join([caplog.text, captured.out, captured.err])
    secrets: dict[str, str] = {
        "X consumer secret": X_CREDENTIALS["consumer_secret"],
        "X access token secret": X_CREDENTIALS["access_token_secret"],
        "X access token": X_CREDENTIALS["access_token"],
        "link-signing key": SIGNING_KEY,
    }
    tokens = sorted(set(journey.tokens))
    for n, token in enumerate(tokens):
        secrets[f"link token {n}"] = token
        secrets[f"link token {n}, URL-quoted"] = quote(token)
        secrets[f"link token {n}'s signature"] = token.rsplit(".", 1)[-1]

    # Then none of it appears anywhere
    found = Findings()
    for what, value in secrets.items():
        if value and value in everything:
            where = next(
                (
                    f"{r.name} {r.levelname}: {r.getMessage()[:120]!r}"
                    for r in records
                    if value in r.getMessage()
                ),
                "stdout/stderr",
            )
            found.unsafe.append(f"the {what} appears in the logs ({where})")
    # (and the logs are really there: the week was logged, at DEBUG too)
    assert "poll finished" in everything and "publish run finished" in everything
    assert any(r.levelno == logging.DEBUG for r in records)

    ledger.record(
        len(records) + len(captured.out.splitlines()) + len(captured.err.splitlines()),
        found,
        note=f"{len(records)} log records at DEBUG and above from {len({r.name for r in records})} loggers, and "
        f"{len(captured.out.splitlines())} lines of stdout, searched for the X secrets, the signing key and "
        f"{len(tokens)} link tokens (whole, URL-quoted and their signatures)",
    )
    assert found.clean, found.summary()
