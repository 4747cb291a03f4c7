"""The demo's host map: its sample site's name reaches the local server, through the address
guard, in this process only, and every other name is left alone."""

from __future__ import annotations

import re
import socket

import pytest

from hookline import weighted_length
from hookline.poll.fetch import Fetcher, FetchError
from hookline.poll.netguard import Guard
from local import hosts
from local.hosts import SAMPLE_HOST, map_hosts, unmap_hosts
from local.sample import serve_sample


@pytest.fixture
def mapped():
    map_hosts({SAMPLE_HOST: "127.0.0.1"})
    yield
    unmap_hosts()


def test_the_sample_site_is_served_under_a_name_x_counts_as_a_link(web, mapped):
    feed = serve_sample(web, host=SAMPLE_HOST)
    assert feed == f"http://{SAMPLE_HOST}:{web.server_address[1]}/news/feed"

    # Fetched as the demo's poll fetches it: guarded, with private addresses allowed
    result = Fetcher(guard=Guard(allow_private=True)).get(feed)
    assert result.status == 200
    assert (
        f"<link>http://{SAMPLE_HOST}:{web.server_address[1]}/news/net-zero-homes-report</link>".encode()
        in (result.body)
    )
    # And a post with that link is counted as X counts it: the link is 23
    text = f"New report {feed.replace('/feed', '/net-zero-homes-report')}?utm_source=x"
    assert weighted_length(text) == len("New report ") + 23


def test_without_the_allowance_the_guard_still_refuses_the_mapped_loopback(web, mapped):
    feed = serve_sample(web, host=SAMPLE_HOST)
    with pytest.raises(FetchError, match=re.escape(f"{SAMPLE_HOST} is 127.0.0.1")):
        Fetcher(guard=Guard(allow_private=False)).get(feed)


def test_unmapped_the_process_resolves_as_before(web):
    real = socket.getaddrinfo
    map_hosts({SAMPLE_HOST: "127.0.0.1"})
    assert socket.getaddrinfo(SAMPLE_HOST, 80)[0][4][0] == "127.0.0.1"
    assert socket.getaddrinfo("localhost", 80)  # other names go to the real resolver
    unmap_hosts()
    assert socket.getaddrinfo is real is hosts._real_getaddrinfo
