"""The publishing port: every network is an adapter behind one interface, and the domain
never imports a network's SDK outside that network's adapter."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

from hookline.publish.networks.port import Network, Post
from hookline.publish.networks.x import XNetwork, as_network
from hookline.publish.xapi import DryRunPoster, TweepyPoster
from tests.conftest import make_config
from tests.support.publishing import Credentials
from tests.support.x import RECORDED_ME

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "hookline" / "hookline"
# Each SDK may be imported by exactly the module that adapts its network, and nowhere else.
SDK_HOMES = {"tweepy": {"xapi.py"}, "atproto": set(), "mastodon": set(), "requests": {"xapi.py"}}
POST = Post(
    key="d-1:x",
    text="New research report: river quality https://www.example.org/news/river",
    link="https://www.example.org/news/river",
    first_attempt_at=datetime(2026, 12, 3, 9, tzinfo=UTC),
)


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_module_but_its_adapter_imports_a_network_sdk():
    # Given every module of the domain package
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for sdk in _imported_roots(path) & SDK_HOMES.keys():
            if path.name not in SDK_HOMES[sdk]:
                offenders.append(f"{path.relative_to(PACKAGE)} imports {sdk}")
    # Then none imports a network's SDK outside the one adapter that owns it
    assert offenders == []


def test_the_x_adapter_posts_the_delivery_text_through_tweepy_as_the_corporate_account(x_api):
    # Given the X adapter around the tweepy poster
    network = XNetwork(TweepyPoster(Credentials(), make_config().account))
    assert isinstance(network, Network) and network.name == "x"

    # When the corporate-account check and the post go through the port
    me = network.whoami()
    posted = network.post(POST)

    # Then X was asked who the tokens belong to, then sent exactly the text
    assert me.user_id == RECORDED_ME["id"]
    assert [s.url for s in x_api.sent] == [
        "https://api.twitter.com/2/users/me",
        "https://api.twitter.com/2/tweets",
    ]
    assert x_api.sent[1].body == {"text": POST.text}
    assert posted.url.endswith(f"/status/{posted.post_id}")
    # And after an ambiguous attempt X offers no lookup: the retry's duplicate answer decides
    assert network.lookup(POST) is None
    assert len(x_api.sent) == 2


def test_a_poster_from_before_the_port_is_taken_as_the_x_network():
    dry = DryRunPoster(make_config().account)
    network = as_network(dry)
    assert network.name == "x"
    assert as_network(network) is network
