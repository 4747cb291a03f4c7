"""X behind the publishing port: wraps hookline.publish.xapi (tweepy), the only place tweepy is used.

X has no idempotency key and no way to look a post up without reading the timeline (which
hookline never does: it reads nothing). A retry of an ambiguous attempt sends the very same
text, and X's "duplicate content" answer proves the first attempt went out.
"""

from __future__ import annotations

from hookline.publish.networks.port import Identity, Network, Post, Posted
from hookline.publish.xapi import Poster

NAME = "x"
# A post with a URL, pay-per-use (2026); Bluesky and Mastodon cost nothing.
PRICE_PER_POST_USD = 0.20
MAX_WEIGHTED_LENGTH = 280


class XNetwork:
    name = NAME

    def __init__(self, poster: Poster) -> None:
        self.poster = poster

    def credentials_id(self) -> str:
        return self.poster.credentials_id()

    def whoami(self) -> Identity:
        return self.poster.whoami()

    def post(self, post: Post) -> Posted:
        return self.poster.post(post.text)

    def lookup(self, post: Post) -> Posted | None:
        return None  # the retry's duplicate answer is X's only word on it


def as_network(poster: Poster | Network) -> Network:
    """A network as is; an xapi Poster (what callers passed before the port existed) as X."""
    if isinstance(poster, Network):
        return poster
    return XNetwork(poster)
