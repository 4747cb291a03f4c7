"""doctor checks the Bluesky and Mastodon accounts end to end, through each network's
publishing adapter: Bluesky against a real PDS, Mastodon intercepted at the HTTP transport.
X's account line is covered in test_doctor.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hookline.store import Store
from tests.conftest import NOW
from tests.ops.test_doctor import STACK, Deployment, prod  # noqa: F401 - the fixture
from tests.support.aws import deploy
from tests.support.mastodon import ACCOUNT_ID, ACCT, SERVER, TOKEN, MastodonFake, Sent

BLUESKY_SECRET = "hookline/bluesky"
MASTODON_SECRET = "hookline/mastodon"
PARAMETERS = {"BlueskyAppPasswordSecretName": BLUESKY_SECRET, "MastodonTokenSecretName": MASTODON_SECRET}


@pytest.fixture
def mastodon_server(monkeypatch) -> MastodonFake:
    server = MastodonFake(clock=lambda: NOW)
    monkeypatch.setattr("hookline.publish.networks.mastodon.pool", lambda: server)
    return server


@pytest.fixture
def networks(prod, pds, dynamodb_local, table, monkeypatch, mastodon_server) -> tuple[Deployment, Store]:  # noqa: F811
    """prod, also posting to a Bluesky account on the real PDS and a Mastodon account, with
    both secrets stored and the table (where the publisher keeps the Bluesky session) local."""
    deploy(prod.aws, STACK, parameters=PARAMETERS, physical={"Table": table})
    monkeypatch.setenv("HOOKLINE_DYNAMODB_ENDPOINT", dynamodb_local.endpoint)
    trust = pds.account("doctor-trust.test")
    prod.aws.secrets[BLUESKY_SECRET] = {"AWSCURRENT": json.dumps({"app_password": trust.app_password})}
    prod.aws.secrets[MASTODON_SECRET] = {"AWSCURRENT": json.dumps({"access_token": TOKEN})}
    prod.config["accounts"] = {
        "x": prod.config.pop("account"),
        "bluesky": {"handle": trust.handle, "did": trust.did, "service": pds.url},
        "mastodon": {"server": SERVER, "account_id": ACCOUNT_ID, "acct": ACCT},
    }
    return prod, Store(table, client=dynamodb_local.client())


def bluesky_session(store: Store) -> dict[str, Any] | None:
    kept = store.get_control("SESSION#bluesky")
    return kept["session"] if kept else None


def test_each_network_is_one_line_saying_whose_the_credentials_are(networks, pds, mastodon_server):
    deployment, store = networks
    trust = pds.account("doctor-trust.test")
    # When the doctor examines a deployment whose three accounts are all right
    code, checks, text = deployment.run()

    # Then each network has one account line, saying the account the credentials belong to
    assert code == 0, text
    assert checks["bluesky account"] == (
        "ok",
        f"the credentials belong to {trust.handle} ({trust.did}), the corporate account",
    )
    assert checks["mastodon account"] == (
        "ok",
        f"the credentials belong to {ACCT} ({ACCOUNT_ID}), the corporate account",
    )
    assert checks["x account"][0] == "ok"
    names = list(checks)
    assert names.index("x account") < names.index("bluesky account") < names.index("mastodon account")
    # And Mastodon was asked exactly one thing: who the token is (nothing is posted)
    assert mastodon_server.sent == [
        Sent(
            "GET",
            f"{SERVER}/api/v1/accounts/verify_credentials",
            {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"},
            None,
        )
    ]
    assert pds.records(trust.did) == []
    # And the Bluesky session is kept where the publisher keeps it, so a second doctor run
    # (or the publisher) logs in no more: it uses the same session
    first = bluesky_session(store)
    assert first is not None and first["did"] == trust.did
    code, checks, text = deployment.run()
    assert checks["bluesky account"][0] == "ok", text
    assert bluesky_session(store) == first


def test_credentials_of_another_account_name_both_accounts(networks, pds, mastodon_server):
    deployment, _ = networks
    trust = pds.account("doctor-trust.test")
    intern = pds.account("doctor-intern.test")
    # Given the Bluesky secret holds another account's app password, and the Mastodon token
    # is a member of staff's own account
    deployment.aws.secrets[BLUESKY_SECRET] = {"AWSCURRENT": json.dumps({"app_password": intern.app_password})}
    deployment.config["accounts"]["bluesky"]["handle"] = intern.handle  # the login name is the intern's
    deployment.config["accounts"]["bluesky"]["did"] = trust.did
    mastodon_server.account = {**mastodon_server.account, "id": "4242", "acct": "sam_personal"}

    # When the doctor examines it
    code, checks, text = deployment.run()

    # Then each line names both accounts and says what to do; the exit status says it failed
    assert code == 1, text
    assert checks["bluesky account"] == (
        "FAIL",
        f"the credentials belong to {intern.handle} ({intern.did}), not the corporate account "
        f"@{intern.handle} ({trust.did}); nothing would be posted there. Store the corporate account's "
        f"app password in {BLUESKY_SECRET}, or correct accounts.bluesky.did in {deployment.tmp / 'hookline.yaml'}",
    )
    assert checks["mastodon account"] == (
        "FAIL",
        f"the credentials belong to sam_personal (4242), not the corporate account "
        f"@{ACCT}@mastodon.example ({ACCOUNT_ID}); nothing would be posted there. Store the corporate "
        f"account's access token in {MASTODON_SECRET}, or correct accounts.mastodon.account_id in "
        f"{deployment.tmp / 'hookline.yaml'}",
    )


def test_refused_credentials_say_to_store_new_ones(networks, pds, mastodon_server):
    deployment, _ = networks
    trust = pds.account("doctor-trust.test")
    # Given a revoked app password and a revoked token
    deployment.aws.secrets[BLUESKY_SECRET] = {
        "AWSCURRENT": json.dumps({"app_password": "aaaa-bbbb-cccc-dddd"})
    }
    deployment.aws.secrets[MASTODON_SECRET] = {"AWSCURRENT": json.dumps({"access_token": "revoked-token"})}

    # When the doctor examines it
    code, checks, text = deployment.run()

    # Then each network's line says its server refused them and how to replace them
    assert code == 1, text
    status, detail = checks["bluesky account"]
    assert status == "FAIL", text
    assert detail.startswith(f"the server refused the app password in {BLUESKY_SECRET} (Bluesky refused")
    assert detail.endswith(
        f"make a new one for @{trust.handle} (see the README) and store it in {BLUESKY_SECRET}"
    )
    assert checks["mastodon account"] == (
        "FAIL",
        f"the server refused the access token in {MASTODON_SECRET} (Mastodon 401: The access token is "
        f"invalid): make a new one for @{ACCT}@mastodon.example (see the README) and store it in "
        f"{MASTODON_SECRET}",
    )
    assert [s.headers["Authorization"] for s in mastodon_server.sent] == ["Bearer revoked-token"]


def test_a_server_that_cannot_be_reached_says_which_setting_to_check(networks, mastodon_server):
    deployment, _ = networks
    # Given the Bluesky service is a port nothing listens on, and Mastodon's connection fails
    deployment.config["accounts"]["bluesky"]["service"] = "http://127.0.0.1:9"
    from urllib3.exceptions import NewConnectionError

    mastodon_server.script("/api/v1/accounts/verify_credentials", NewConnectionError(None, "refused"))  # type: ignore[arg-type]

    # When the doctor examines it
    code, checks, text = deployment.run()

    # Then each line says the server could not be reached and which setting names it
    assert code == 1, text
    config = deployment.tmp / "hookline.yaml"
    assert checks["bluesky account"] == (
        "FAIL",
        f"could not reach Bluesky: NewConnectionError: check accounts.bluesky.service in {config}, "
        "or whether the server is up",
    )
    assert checks["mastodon account"] == (
        "FAIL",
        f"could not reach Mastodon: NewConnectionError: check accounts.mastodon.server in {config}, "
        "or whether the server is up",
    )


def test_a_network_whose_secret_is_missing_is_one_line_about_its_secret(networks, table, mastodon_server):
    deployment, _ = networks
    # Given the Bluesky app password not yet created
    del deployment.aws.secrets[BLUESKY_SECRET]

    # When the doctor examines it
    code, checks, text = deployment.run()

    # Then Bluesky is one line saying how to create the secret, and its account is not tried;
    # Mastodon's secret and account are fine
    status, detail = checks["secret Bluesky app password"]
    assert status == "FAIL", text
    assert detail.startswith(f"{BLUESKY_SECRET} does not exist: create it: aws secretsmanager create-secret")
    assert "bluesky account" not in checks
    assert checks["secret Mastodon token"][0] == "ok", text
    assert checks["secret Mastodon token"][1].startswith(f"{MASTODON_SECRET} exists and is readable")
    assert checks["mastodon account"][0] == "ok", text
    assert code != 0

    # And a stack deployed without the Mastodon secret's name says which parameter to set
    deploy(
        deployment.aws,
        STACK,
        parameters={"BlueskyAppPasswordSecretName": BLUESKY_SECRET},
        physical={"Table": table},
    )
    deployment.aws.secrets[BLUESKY_SECRET] = {
        "AWSCURRENT": json.dumps({"app_password": "abcd-efgh-ijkl-mnop"})
    }
    mastodon_server.sent.clear()
    code, checks, text = deployment.run()
    assert checks["secret Bluesky app password"][0] == "ok", text
    assert checks["secret Mastodon token"] == (
        "FAIL",
        "the config posts to Mastodon, but the stack names no secret for it: "
        "deploy with MastodonTokenSecretName=<the secret's name>",
    )
    assert "mastodon account" not in checks
    assert mastodon_server.sent == []
