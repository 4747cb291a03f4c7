"""`python -m hookline doctor --stack NAME`: is a deployment wired to work, before the first real post?

It reads the stack from CloudFormation (outputs, resources) and the functions' deployed
environment from Lambda, so it checks what is really deployed rather than what a
local file says, and then checks what a person would otherwise find out the hard way:

- each secret exists and is readable, and holds what the functions expect;
- the X credentials belong to the configured corporate account (and its profile
  links the organisation's homepage and names the person behind the account, as the
  organisation's guidance asks: a warning, not a failure);
- the Bluesky and Mastodon credentials answer, through each network's publishing
  adapter, and belong to the configured corporate accounts (one line per network);
- SES can send to each approver (sender verified; in the sandbox, each approver too);
- every configured feed answers and parses;
- the schedules are enabled, and someone receives the alarms.

Each check is one line: "ok", "warn" or "FAIL" and, when it is not ok, what to do.
Only a FAIL makes the exit status non-zero. It posts nothing and changes nothing, except
that a Bluesky session it had to renew is kept where the publisher keeps it (so neither
needs a new login: Bluesky limits them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO

from hookline.config import Config
from hookline.ops.doctor.base import FAIL, OK, WARN, Check, ClientFactory, Stack, error_of, read_stack
from hookline.ops.doctor.feeds import FeedChecks, websub_hub
from hookline.ops.doctor.mail import MailChecks
from hookline.ops.doctor.networks import NetworkChecks
from hookline.ops.doctor.secret import SecretChecks, signing_key, x_credentials
from hookline.ops.doctor.stack import StackChecks
from hookline.ops.doctor.x import ProfileReader, XCheckFailed, XChecks, XMe, read_x_profile

if TYPE_CHECKING:
    from hookline.poll.fetch import Fetcher

__all__ = [
    "FAIL",
    "OK",
    "WARN",
    "Check",
    "Doctor",
    "Stack",
    "XCheckFailed",
    "XMe",
    "read_stack",
    "read_x_profile",
    "run",
    "websub_hub",
]


class Doctor(StackChecks, SecretChecks, XChecks, NetworkChecks, MailChecks, FeedChecks):
    def __init__(
        self,
        config: Config,
        client: ClientFactory,
        *,
        fetcher: Fetcher,
        profile_reader: ProfileReader = read_x_profile,
        config_source: str = "the config",
    ) -> None:
        self.config = config
        self.client = client
        self.fetcher = fetcher
        self.read_profile = profile_reader
        self.config_source = config_source

    def run(self, stack_name: str) -> Iterator[Check]:
        stack: Stack | None = None
        try:
            stack = read_stack(self.client("cloudformation"), stack_name)
        except LookupError:
            yield Check(
                FAIL,
                f"stack {stack_name}",
                "not found in this region: deploy it (sam deploy --config-env ...), or pass --region",
            )
        except Exception as exc:
            code, message = error_of(exc)
            yield Check(FAIL, f"stack {stack_name}", f"cannot be read ({code}: {message})")
        if stack is None:
            return
        yield self.check_stack(stack)
        envs: dict[str, dict[str, str]] = {}
        for check in self.check_functions(stack, envs):
            yield check
        yield from self.check_wiring(stack, envs)

        publish_env = envs.get("PublishFunction", {})
        x_secret = publish_env.get("HOOKLINE_X_SECRET")
        signing = next(
            (e["HOOKLINE_SIGNING_SECRET"] for e in envs.values() if "HOOKLINE_SIGNING_SECRET" in e), None
        )
        credentials: dict[str, str] | None = None
        if x_secret:
            check, value = self.check_secret(x_secret, "X credentials", x_credentials)
            yield check
            if check.status == OK and value is not None:
                credentials = json.loads(value)
        elif envs:
            yield Check(
                FAIL, "secret X credentials", "the publish function has no HOOKLINE_X_SECRET: redeploy"
            )
        if signing:
            yield self.check_secret(signing, "link-signing key", signing_key)[0]
        elif envs:
            yield Check(FAIL, "secret link-signing key", "no function has HOOKLINE_SIGNING_SECRET: redeploy")

        others: dict[str, tuple[str, str]] = {}
        yield from self.check_other_networks(publish_env, bool(envs), others)
        if credentials:
            yield from self.check_x(credentials, x_secret or "")
        yield from self.check_network_accounts(stack, publish_env, others)
        yield from self.check_email()
        yield from self.check_feeds()
        yield from self.check_schedules(stack)
        yield self.check_alarm_subscribers(stack)


def run(
    stack: str,
    config: Config,
    out: TextIO,
    *,
    client: ClientFactory,
    fetcher: Fetcher,
    profile_reader: ProfileReader = read_x_profile,
    config_source: str = "the config",
) -> int:
    """Print one line per check as it completes, then a summary; 1 if any check failed, else 0."""
    doctor = Doctor(
        config, client, fetcher=fetcher, profile_reader=profile_reader, config_source=config_source
    )
    counts = {OK: 0, WARN: 0, FAIL: 0}
    for check in doctor.run(stack):
        counts[check.status] += 1
        print(check.line(), file=out, flush=True)
    summary = f"{counts[OK]} ok, {counts[WARN]} warning(s), {counts[FAIL]} failed"
    if counts[FAIL]:
        print(f"doctor: {summary}: fix each FAIL above, then run doctor again", file=out)
        return 1
    print(f"doctor: {summary}: {stack} is ready", file=out)
    return 0
