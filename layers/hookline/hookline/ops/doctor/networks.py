"""The Bluesky and Mastodon accounts end to end: each network's publishing adapter asks its
server who the stored credentials belong to (the identity check the publisher's guard runs),
and doctor compares that with the configured corporate account. Nothing is posted.

Bluesky limits logins per account, so the adapter is given the session the publisher keeps
in the table: doctor reuses it (renewing it if due, and keeping the renewal there, as the
publisher would) and logs in only when there is none.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from hookline.ops.doctor.base import FAIL, OK, WARN, Check, DoctorBase, Stack

if TYPE_CHECKING:
    from hookline.publish.networks.port import Network


class MemorySessions:
    """Where no table can be found: the session lives as long as the doctor's run."""

    def __init__(self) -> None:
        self.session: dict[str, Any] | None = None

    def load(self) -> dict[str, Any] | None:
        return self.session

    def save(self, session: dict[str, Any]) -> None:
        self.session = session


# network -> (what its secret holds, the config's field for the account's id, where it is served)
WHAT = {
    "bluesky": ("app password", "accounts.bluesky.did", "accounts.bluesky.service"),
    "mastodon": ("access token", "accounts.mastodon.account_id", "accounts.mastodon.server"),
}


class NetworkChecks(DoctorBase):
    def check_network_accounts(
        self, stack: Stack, publish_env: Mapping[str, str], credentials: Mapping[str, tuple[str, str]]
    ) -> Iterator[Check]:
        """One line per network whose secret could be read: `credentials` maps the network to
        (secret name, the credential it holds)."""
        for network, (secret, value) in credentials.items():
            yield self.check_network_account(
                network, self._adapter(network, value, stack, publish_env), secret
            )

    def _adapter(self, network: str, value: str, stack: Stack, publish_env: Mapping[str, str]) -> Network:
        accounts = self.config.accounts
        if network == "bluesky" and accounts.bluesky is not None:
            from hookline.publish.networks.bluesky import BlueskyNetwork

            return BlueskyNetwork(accounts.bluesky, lambda: value, self._sessions(stack, publish_env))
        if network == "mastodon" and accounts.mastodon is not None:
            from hookline.publish.networks.mastodon import MastodonNetwork

            return MastodonNetwork(accounts.mastodon, lambda: value)
        raise KeyError(network)

    def _sessions(self, stack: Stack, publish_env: Mapping[str, str]) -> Any:
        from hookline.publish.networks.bluesky import TableSessions
        from hookline.store import Store

        table = stack.outputs.get("TableName") or publish_env.get("HOOKLINE_TABLE")
        if not table:
            return MemorySessions()
        return TableSessions(Store(table, client=self.client("dynamodb")))

    def check_network_account(self, network: str, adapter: Network, secret: str) -> Check:
        from hookline.publish.delivery import expected_account
        from hookline.publish.networks.port import (
            CredentialsError,
            NetworkError,
            NotSent,
            RateLimited,
            Unauthorized,
            WrongAccount,
            guard,
        )

        name = f"{network} account"
        what, id_field, server_field = WHAT[network]
        expected, shown = expected_account(self.config, network)
        try:
            me = guard(adapter, expected, shown)
        except WrongAccount as exc:
            return Check(
                FAIL,
                name,
                f"the credentials belong to {exc.seen.username or '?'} ({exc.seen.user_id}), not the corporate "
                f"account {shown} ({expected}); nothing would be posted there. Store the corporate account's "
                f"{what} in {secret}, or correct {id_field} in {self.config_source}",
            )
        except Unauthorized as exc:
            return Check(
                FAIL,
                name,
                f"the server refused the {what} in {secret} ({exc}): make a new one for {shown} "
                f"(see the README) and store it in {secret}",
            )
        except RateLimited as exc:
            when = f" after {exc.reset_at:%H:%M} UTC" if exc.reset_at else " later"
            return Check(
                WARN, name, f"the server is rate limiting these credentials ({exc}): run doctor again{when}"
            )
        except NotSent as exc:
            return Check(
                FAIL,
                name,
                f"{exc}: check {server_field} in {self.config_source}, or whether the server is up",
            )
        except (NetworkError, CredentialsError) as exc:
            return Check(FAIL, name, f"the account could not be checked ({exc}); run doctor again")
        return Check(
            OK,
            name,
            f"the credentials belong to {me.username or shown} ({me.user_id}), the corporate account",
        )
