"""A partner's public server, for tests of what happens after the address guard lets it through."""

from __future__ import annotations

from dataclasses import dataclass

from hookline.poll.netguard import Guard, normalise_host


@dataclass(frozen=True)
class PartnerIsPublic(Guard):
    """`partner.example` stands for a partner's public server: it is a loopback listener here,
    which the guard lets through for that name only (tests have no public addresses), so its
    redirects and pages can be tested. Every other host is guarded as deployed."""

    partner: str = "127.0.0.1"

    def addresses(self, host: str, port: int) -> list[str]:
        if normalise_host(host) == "partner.example":
            return [self.partner]
        return super().addresses(host, port)
