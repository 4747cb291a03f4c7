"""A network that posts nothing: prints (local stack) or logs (shadow mode) what would go out."""

from __future__ import annotations

import logging
import sys

from hookline.publish.networks.port import Identity, Post, Posted

log = logging.getLogger(__name__)


class DryRunNetwork:
    def __init__(self, name: str, identity: Identity, *, shadow: bool = False) -> None:
        self.name = name
        self.identity = identity
        self.shadow = shadow
        self.posted: list[str] = []

    def credentials_id(self) -> str:
        return "dry-run"

    def whoami(self) -> Identity:
        return self.identity

    def post(self, post: Post) -> Posted:
        self.posted.append(post.text)
        # The same line either way (the contract's), printed locally, logged in shadow mode.
        line = f"DRY-RUN POST: [{self.name}] " + post.text.replace("\n", " ")
        if self.shadow:
            log.info(line, extra={"mode": "shadow", "network": self.name, "text": post.text})
        else:
            print(line, file=sys.stdout, flush=True)
        return Posted(post_id=None, url=None)

    def lookup(self, post: Post) -> Posted | None:
        return None
