"""The address guard: a link from feed content never reaches loopback, private or metadata
addresses, however it is spelt, through redirects, or through a DNS answer that mixes a
public address with an internal one; what the operator configured is still fetched.

Real local web servers stand in for the internal services (they count every request they
get); names resolve through an injected HostMap, as tests have no DNS.
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hookline.poll.fetch import Fetcher, FetchError, FetchLimits, InternalAddressError
from hookline.poll.linkcheck import LinkChecker
from hookline.poll.netguard import Guard, HostMap, Refused, Unresolvable, kind_of, literal
from hookline.settings import read_settings
from local.webserver import Resource, WebServer
from tests.support.feeds import page
from tests.support.netguard import PartnerIsPublic

LONDON = ZoneInfo("Europe/London")
PUBLIC = "93.184.216.34"


@pytest.fixture
def internal(guarded):
    """A listener standing for an internal service (the runtime API, a metadata server)."""
    server = WebServer().start()
    server.add("/2018-06-01/runtime/invocation/next", b'{"secret": "event"}', content_type="application/json")
    server.add("/robots.txt", b"User-agent: *\nAllow: /\n", content_type="text/plain")
    yield server
    server.stop()


def fetcher(guard: Guard | None = None) -> Fetcher:
    return Fetcher(FetchLimits(total_timeout=5), guard=guard)


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("2130706433", "loopback"),
        ("0x7f.0.0.1", "loopback"),
        ("0x7f000001", "loopback"),
        ("0177.0.0.1", "loopback"),
        ("127.1", "loopback"),
        ("::1", "loopback"),
        ("[::1]", "loopback"),
        ("::ffff:127.0.0.1", "loopback, written as IPv6"),
        ("0:0:0:0:0:ffff:7f00:1", "loopback, written as IPv6"),
        ("::127.0.0.1", "loopback, written as IPv6"),
        ("2002:7f00:1::", "loopback, written as IPv6"),
        ("64:ff9b::a9fe:a9fe", "the cloud metadata service, written as IPv6"),
        ("169.254.169.254", "the cloud metadata service"),
        ("169.254.170.2", "the cloud metadata service"),
        ("fd00:ec2::254", "the cloud metadata service"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address to refuse, not one to bind
        ("0", "unspecified"),
        ("::", "unspecified"),
        ("192.0.2.10", "documentation"),
        ("2001:db8::1", "documentation"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("LOCALHOST.", "loopback"),
    ],
)
def test_every_spelling_of_an_internal_address_is_refused_and_named(host, kind):
    guard = Guard(resolver=HostMap({"localhost": ["127.0.0.1"]}))
    with pytest.raises(Refused) as refused:
        guard.addresses(host, 80)
    assert refused.value.kind == kind


def test_public_addresses_and_names_pass_with_every_address_returned():
    resolver = HostMap({"www.example.org": [PUBLIC, "2606:2800:220:1:248:1893:25c8:1946"]})
    guard = Guard(resolver=resolver)
    assert guard.addresses("www.example.org.", 443) == [PUBLIC, "2606:2800:220:1:248:1893:25c8:1946"]
    assert guard.addresses("8.8.8.8", 80) == ["8.8.8.8"]
    assert resolver.calls == ["www.example.org"]  # the trailing dot is the same host
    assert kind_of(literal("1.1.1.1")) is None  # type: ignore[arg-type]


def test_a_dns_answer_that_mixes_a_public_and_a_private_address_is_refused():
    guard = Guard(resolver=HostMap({"mixed.example": [PUBLIC, "10.0.0.5"]}))
    with pytest.raises(Refused, match=r"mixed.example is 10.0.0.5: private"):
        guard.addresses("mixed.example", 80)


def test_a_name_that_does_not_resolve_or_a_broken_number_is_unresolvable():
    guard = Guard(resolver=HostMap({}))
    with pytest.raises(Unresolvable):
        guard.addresses("nowhere.example", 80)
    with pytest.raises(Unresolvable):
        guard.addresses("999.1.1.1", 80)


def test_the_flag_lets_loopback_and_private_through_but_never_metadata_or_link_local():
    guard = Guard(allow_private=True)
    assert guard.addresses("127.0.0.1", 80) == ["127.0.0.1"]
    assert guard.addresses("10.0.0.1", 80) == ["10.0.0.1"]
    for host in ("169.254.169.254", "169.254.170.2", "fe80::1", "0.0.0.0", "224.0.0.1"):  # noqa: S104
        with pytest.raises(Refused):
            guard.addresses(host, 80)


def test_the_flag_is_off_unless_the_environment_says_true():
    base = {"HOOKLINE_TABLE": "t"}
    assert read_settings(base).allow_private_addresses is False
    assert read_settings({**base, "HOOKLINE_ALLOW_PRIVATE_ADDRESSES": "true"}).allow_private_addresses is True


# -- through the fetcher -------------------------------------------------------------------


def test_a_link_at_an_internal_listener_is_refused_before_any_connection(internal):
    url = internal.url("/2018-06-01/runtime/invocation/next")
    with pytest.raises(InternalAddressError) as refused:
        fetcher().get(url)
    assert (
        str(refused.value)
        == "the link points at an internal address (127.0.0.1: loopback) and was not fetched"
    )
    assert internal.requests == []


def test_userinfo_does_not_hide_the_real_host(internal):
    with pytest.raises(InternalAddressError, match=r"127\.0\.0\.1: loopback"):
        fetcher().get(f"http://www.example.org@127.0.0.1:{internal.server_address[1]}/")
    assert internal.requests == []


def test_a_public_looking_partner_that_redirects_inside_is_stopped_at_the_redirect(internal):
    partner = WebServer().start()
    try:
        port = partner.server_address[1]
        target = internal.url("/2018-06-01/runtime/invocation/next")
        partner.add("/story", Resource(redirect=target, status=302))
        guard = PartnerIsPublic(resolver=HostMap({}), partner="127.0.0.1")

        with pytest.raises(InternalAddressError) as refused:
            fetcher(guard).get(f"http://partner.example:{port}/story")

        assert "reached by a redirect to " + target in str(refused.value)
        assert len(partner.requests_for("/story")) == 1
        assert internal.requests == []
    finally:
        partner.stop()


def test_the_checked_address_is_the_one_connected_to_with_the_links_own_host_header(web):
    # Given a name the (flagged, local) resolver maps to the listener, looked up once per hop
    web.add("/page", Resource(redirect="/page2", status=302))
    web.add("/page2", b"<html>ok</html>", content_type="text/html")
    resolver = HostMap({"partner.example": ["::1", "127.0.0.1"]})  # nothing listens on ::1
    port = web.server_address[1]

    result = fetcher(Guard(resolver=resolver, allow_private=True)).get(f"http://partner.example:{port}/page")

    # Then the fetch reached it, said which site it wanted, and never looked the name up twice
    assert result.status == 200 and result.final_url == f"http://partner.example:{port}/page2"
    assert [h["Host"] for h in web.requests_for("/page")] == [f"partner.example:{port}"]
    assert resolver.calls == ["partner.example", "partner.example"]  # one per hop, none in between


def test_a_configured_feed_is_fetched_but_its_redirect_off_its_host_is_guarded(web, guarded):
    feed = web.add("/feed.xml", b"<rss/>", content_type="application/rss+xml")
    web.add("/moved.xml", Resource(redirect=feed, status=301))
    web.add("/away.xml", Resource(redirect=feed.replace("127.0.0.1", "localhost"), status=301))

    # The operator named it: fetched, and so is a redirect on the same host
    assert fetcher().get(feed, configured=True).body == b"<rss/>"
    assert fetcher().get(web.url("/moved.xml"), configured=True).final_url == feed
    # But the same URL from feed content is refused, and so is a redirect to another (internal) host
    with pytest.raises(InternalAddressError):
        fetcher().get(feed)
    before = len(web.requests_for("/feed.xml"))
    with pytest.raises(InternalAddressError, match="localhost is"):
        fetcher().get(web.url("/away.xml"), configured=True)
    assert len(web.requests_for("/feed.xml")) == before


def test_an_unknown_name_is_a_plain_fetch_error():
    with pytest.raises(FetchError, match=r"^the host name does not resolve$"):
        fetcher(Guard(resolver=HostMap({}))).get("http://nowhere.example/")


# -- what the approver sees ----------------------------------------------------------------


def test_the_pre_flight_of_a_refused_link_is_a_warning_and_fetches_nothing_not_even_robots(internal):
    url = internal.url("/latest/meta-data/iam/")

    result = LinkChecker(fetcher(), LONDON).check(url)

    assert result.ok is False
    assert result.warnings == [
        "The link points at an internal address (127.0.0.1: loopback) and was not fetched."
    ]
    assert result.refused
    assert internal.requests == []


def test_the_poll_log_names_the_feed_and_entry_of_a_refused_link(internal, caplog):
    from hookline.models import Entry
    from hookline.poll.run import with_page

    entry = Entry(feed_id="partner", identity="guid-7", title="Report", link=internal.url("/x"))
    with caplog.at_level(logging.WARNING, logger="hookline.poll.drafting"):
        _, page_check = with_page(entry, LinkChecker(fetcher(), LONDON))

    assert page_check is not None and page_check.refused
    record = next(r for r in caplog.records if r.getMessage() == "link not fetched: internal address")
    assert (record.feed, record.entry) == ("partner", "guid-7")  # type: ignore[attr-defined]
    assert internal.requests == []


def test_a_page_on_a_partner_host_is_still_checked_normally(web):
    web.add("/robots.txt", b"User-agent: *\nAllow: /\n", content_type="text/plain")
    web.add("/news/river", page("River"), content_type="text/html")
    port = web.server_address[1]
    guard = PartnerIsPublic(resolver=HostMap({}), partner="127.0.0.1")

    result = LinkChecker(fetcher(guard), LONDON).check(f"http://partner.example:{port}/news/river")

    assert result.ok and result.warnings == []


def test_the_template_never_sets_the_flag_and_the_demo_does():
    from tests.support.paths import ROOT

    assert "HOOKLINE_ALLOW_PRIVATE_ADDRESSES" not in (ROOT / "template.yaml").read_text(encoding="utf-8")
    assert '"HOOKLINE_ALLOW_PRIVATE_ADDRESSES": "true"' in (ROOT / "local" / "demo.py").read_text(
        encoding="utf-8"
    )


# -- https: connected by address, checked as the URL's host ----------------------------------

TLS = Path(__file__).parent.parent / "support" / "tls"  # a test CA and a certificate for partner.example only


@pytest.fixture
def tls_partner():
    """An https server on loopback whose certificate (from the test CA) names partner.example."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS / "partner.pem", TLS / "partner.key")
    server = WebServer()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.add("/page", b"<html>ok</html>", content_type="text/html")
    server.start()
    yield server
    server.stop()


def tls_fetcher(names: dict[str, list[str]]) -> Fetcher:
    import urllib3

    pool = urllib3.PoolManager(num_pools=10, maxsize=4, retries=False, ca_certs=str(TLS / "ca.pem"))
    return Fetcher(
        FetchLimits(total_timeout=5), pool, guard=Guard(resolver=HostMap(names), allow_private=True)
    )


def test_an_https_link_is_connected_by_address_and_its_certificate_checked_for_the_links_host(tls_partner):
    port = tls_partner.server_address[1]

    result = tls_fetcher({"partner.example": ["127.0.0.1"]}).get(f"https://partner.example:{port}/page")

    assert result.status == 200 and result.body == b"<html>ok</html>"
    assert [h["Host"] for h in tls_partner.requests_for("/page")] == [f"partner.example:{port}"]


def test_an_https_link_whose_certificate_names_another_host_is_refused(tls_partner):
    port = tls_partner.server_address[1]

    with pytest.raises(FetchError, match=r"hostname 'other\.example' doesn't match 'partner\.example'"):
        tls_fetcher({"other.example": ["127.0.0.1"]}).get(f"https://other.example:{port}/page")
    assert tls_partner.requests_for("/page") == []
