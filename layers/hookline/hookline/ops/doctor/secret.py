"""Secrets: each one the stack names exists, is readable and holds what the functions expect."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from hookline.ops.doctor.base import FAIL, OK, Check, DoctorBase, error_of

X_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
MIN_SIGNING_KEY = 32


class SecretChecks(DoctorBase):
    def check_secret(
        self, secret_id: str, what: str, validate: Callable[[str], str | None]
    ) -> tuple[Check, str | None]:
        """(check, the current value when it could be read)."""
        sm = self.client("secretsmanager")
        label = f"secret {what}"
        try:
            described = sm.describe_secret(SecretId=secret_id)
        except Exception as exc:
            code, message = error_of(exc)
            if code == "ResourceNotFoundException":
                return Check(
                    FAIL, label, f"{secret_id} does not exist: {_create_hint(what, secret_id)}"
                ), None
            return Check(FAIL, label, f"{secret_id} cannot be described ({code}: {message})"), None
        name = described.get("Name", secret_id)
        if described.get("DeletedDate"):
            return (
                Check(
                    FAIL,
                    label,
                    f"{name} is scheduled for deletion: aws secretsmanager restore-secret --secret-id {name}",
                ),
                None,
            )
        try:
            value = sm.get_secret_value(SecretId=secret_id).get("SecretString")
        except Exception as exc:
            code, message = error_of(exc)
            return Check(FAIL, label, f"{name} exists but cannot be read ({code}: {message})"), None
        problem = validate(value or "")
        if problem:
            return Check(FAIL, label, f"{name} {problem}"), value
        stages = {s for v in (described.get("VersionIdsToStages") or {}).values() for s in v}
        note = ""
        if "AWSPREVIOUS" in stages and what == "link-signing key":
            note = "; the previous key still verifies links sent before the last rotation"
        changed = described.get("LastChangedDate")
        if isinstance(changed, datetime):
            note += f"; last changed {changed.astimezone(UTC):%Y-%m-%d}"
        return Check(OK, label, f"{name} exists and is readable{note}"), value

    def check_other_networks(
        self, publish_env: dict[str, str], deployed: bool, found: dict[str, tuple[str, str]]
    ) -> Iterator[Check]:
        """One line per other configured network: the secret the stack names to the publisher
        exists and holds its field; `found` gains (secret, credential) of each that does, for
        the account check."""
        for network, env_name, parameter, what, key in OTHER_NETWORKS:
            if network not in self.config.networks:
                continue
            secret_id = publish_env.get(env_name)
            if secret_id:
                check, value = self.check_secret(secret_id, what, functools.partial(_json_field, key=key))
                yield check
                if check.status == OK and value is not None:
                    found[network] = (secret_id, str(json.loads(value)[key]))
            elif deployed:
                yield Check(
                    FAIL,
                    f"secret {what}",
                    f"the config posts to {network.title()}, but the stack names no secret for it: "
                    f"deploy with {parameter}=<the secret's name>",
                )


def x_credentials(value: str) -> str | None:
    try:
        data = json.loads(value)
    except ValueError:
        return "is not JSON: store {" + ", ".join(f'"{k}": "..."' for k in X_KEYS) + "}"
    if not isinstance(data, dict):
        return "is not a JSON object of the four X credentials"
    missing = [k for k in X_KEYS if not data.get(k)]
    if missing:
        return f"lacks {', '.join(missing)}: store all four of the corporate account's X credentials"
    return None


def signing_key(value: str) -> str | None:
    from hookline.services import key_from

    key = key_from(value)
    if len(key) < MIN_SIGNING_KEY:
        return (
            f"holds a key of {len(key)} characters; use at least {MIN_SIGNING_KEY} (see docs/operations.md)"
        )
    return None


OTHER_NETWORKS = (
    (
        "bluesky",
        "HOOKLINE_BLUESKY_SECRET",
        "BlueskyAppPasswordSecretName",
        "Bluesky app password",
        "app_password",
    ),
    ("mastodon", "HOOKLINE_MASTODON_SECRET", "MastodonTokenSecretName", "Mastodon token", "access_token"),
)


def _json_field(value: str, key: str) -> str | None:
    try:
        data = json.loads(value)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get(key), str) or not data[key]:
        return f'is not a JSON object with its {key}: store {{"{key}": "..."}}'
    return None


def _create_hint(what: str, secret_id: str) -> str:
    for _, _, _, other, key in OTHER_NETWORKS:
        if what == other:
            return (
                f"create it: aws secretsmanager create-secret --name {secret_id} "
                f'--secret-string file://{key}.json holding {{"{key}": "..."}} (see the README)'
            )
    if what == "X credentials":
        return (
            f"create it: aws secretsmanager create-secret --name {secret_id} "
            "--secret-string file://x-credentials.json (see the README)"
        )
    return "deploy again (the stack generates it), or set SigningKeySecretName to an existing secret"
