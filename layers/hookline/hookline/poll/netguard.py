"""The address guard: a URL taken from feed content never reaches inside.

A partner's feed is third-party content, and hookline fetches its links (the pre-flight,
the card checks, robots.txt). Without a guard, a link to `http://127.0.0.1:9001/...` (the
Lambda runtime API), `169.254.169.254` (instance metadata) or a private address is a
server-side request forgery: the function fetches it with its own network position.

`Guard.addresses` resolves a host once and refuses when ANY address is internal; the
fetcher then connects to exactly those checked addresses, so a DNS answer that changes
between the check and the connection (rebinding) cannot slip an internal address in.
Numeric hosts are read as the C library would read them (`2130706433`, `0x7f.0.0.1`,
`0177.0.0.1`, `127.1`), so no spelling of an address escapes the check.

What the operator names (the configured feeds, `preview` SOURCEs, X's API, webhooks) is
trusted and not guarded; see `Fetcher.get(configured=True)`.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses it resolves to, as strings. Tests inject a HostMap.
Resolver = Callable[[str, int], Sequence[str]]

ALLOW_PRIVATE_ENV = "HOOKLINE_ALLOW_PRIVATE_ADDRESSES"
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})

METADATA = "the cloud metadata service"
LOOPBACK = "loopback"
PRIVATE = "private"
CGNAT = "carrier-grade NAT"
# What HOOKLINE_ALLOW_PRIVATE_ADDRESSES lets through (the local stack serves linked pages on
# loopback). Metadata, link-local, multicast and the rest stay refused even then.
PRIVATE_KINDS = frozenset({LOOPBACK, PRIVATE, CGNAT})

# Order matters: the first match names the address in the message.
_NETWORKS: tuple[tuple[str, str], ...] = (
    ("169.254.169.254/32", METADATA),
    ("169.254.170.2/32", METADATA),  # ECS task metadata and credentials
    ("fd00:ec2::254/128", METADATA),  # EC2 instance metadata over IPv6
    ("fd00:ec2::23/128", METADATA),  # EC2 DNS over IPv6
    ("0.0.0.0/8", "unspecified"),
    ("::/128", "unspecified"),
    ("127.0.0.0/8", LOOPBACK),
    ("::1/128", LOOPBACK),
    ("169.254.0.0/16", "link-local"),
    ("fe80::/10", "link-local"),
    ("10.0.0.0/8", PRIVATE),
    ("172.16.0.0/12", PRIVATE),
    ("192.168.0.0/16", PRIVATE),
    ("fc00::/7", PRIVATE),
    ("100.64.0.0/10", CGNAT),
    ("224.0.0.0/4", "multicast"),
    ("ff00::/8", "multicast"),
    ("192.0.2.0/24", "documentation"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("198.18.0.0/15", "reserved (benchmarking)"),
    ("192.0.0.0/24", "reserved (IETF protocol assignments)"),
    ("240.0.0.0/4", "reserved"),
    ("fec0::/10", "reserved (site-local)"),
)
NETWORKS = tuple((ipaddress.ip_network(net), kind) for net, kind in _NETWORKS)
# IPv6 forms that carry an IPv4 address in their last 32 bits: IPv4-compatible (::/96),
# NAT64 (64:ff9b::/96, 64:ff9b:1::/48). IPv4-mapped and 6to4 have ipaddress properties.
_EMBEDDING = tuple(ipaddress.ip_network(n) for n in ("::/96", "64:ff9b::/96", "64:ff9b:1::/48"))
_UNSPECIFIED_OR_LOOPBACK = (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1"))
# A host written as numbers: the forms inet_aton accepts (1 to 4 parts, decimal, 0x hex, 0 octal).
_NUMERIC = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}$", re.IGNORECASE)


class Refused(Exception):
    """The host is, or resolves to, an internal address; the message names it and why."""

    def __init__(self, address: str, kind: str) -> None:
        super().__init__(f"{address}: {kind}")
        self.address = address
        self.kind = kind


class Unresolvable(Exception):
    """The host name does not resolve (or is not a host at all)."""


def kind_of(ip: IPAddress) -> str | None:
    """Why `ip` is internal (loopback, private, link-local...), or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ipaddress.IPv6Address(int(ip))  # drop a %scope; it changes nothing here
        embedded = ip.ipv4_mapped or ip.sixtofour
        embedding = ip not in _UNSPECIFIED_OR_LOOPBACK and any(ip in net for net in _EMBEDDING)
        if embedded is None and embedding:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            inner = kind_of(embedded)
            return f"{inner}, written as IPv6" if inner else None
        if ip.teredo is not None:
            return "reserved (Teredo tunnel)"
    for net, kind in NETWORKS:
        if ip.version == net.version and ip in net:
            return kind
    if not ip.is_global:
        return "reserved"
    return None


def literal(host: str) -> IPAddress | None:
    """The address a host names by itself, however it is spelt; None for a name to resolve."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if _NUMERIC.match(bare):
        try:
            # inet_aton's reading is the one the C library (and so urllib3's connect) would use.
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            raise Unresolvable(f"{host!r} is not a valid address") from None
    return None


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Unresolvable(str(exc)) from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass
class HostMap:
    """A resolver from a fixed table: what tests (which have no DNS) and the demo use.

    `calls` lists every name looked up, so a test can see that each hop was resolved once.
    """

    names: Mapping[str, Iterable[str]]
    calls: list[str] = field(default_factory=list)

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        found = self.names.get(host)
        if found is None:
            raise Unresolvable(f"{host} is not in the test's host map")
        return list(found)


def private_allowed(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get(ALLOW_PRIVATE_ENV, "").strip().lower() in TRUE_WORDS


def normalise_host(host: str) -> str:
    """`Example.ORG.` and `example.org` are one host."""
    return host.strip().strip("[]").rstrip(".").lower()


@dataclass(frozen=True)
class Guard:
    resolver: Resolver = system_resolver
    # HOOKLINE_ALLOW_PRIVATE_ADDRESSES: the local stack and tests, never a deployment.
    allow_private: bool = False

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for `host`, every one checked; raises Refused or Unresolvable."""
        name = normalise_host(host)
        if not name:
            raise Unresolvable("the URL has no host")
        ip = literal(name)
        if ip is not None:
            found: list[IPAddress] = [ip]
        else:
            try:
                answers = self.resolver(name, port)
            except Unresolvable:
                raise
            except (OSError, UnicodeError) as exc:
                raise Unresolvable(str(exc)) from None
            try:
                found = [ipaddress.ip_address(str(a).split("%", 1)[0]) for a in answers]
            except ValueError as exc:
                raise Unresolvable(f"the resolver gave {exc}") from None
            if not found:
                raise Unresolvable(f"{name} has no address")
        # Every address is checked, not only the first: a name that answers with a public and
        # a private address would otherwise reach inside whenever the connect falls through.
        for each in found:
            kind = kind_of(each)
            if kind is not None and not (self.allow_private and kind in PRIVATE_KINDS):
                shown = str(each) if str(each) == name else f"{name} is {each}"
                raise Refused(shown, kind)
        return [str(each) for each in found]
