"""A host map for the demo process only: names that resolve to loopback here, and nowhere else.

The demo serves its sample site under a real-looking name (`news.example.org`) rather than
`127.0.0.1`, because X counts only a link with a known top-level domain as a link (23
characters, whatever its length); an IP-address link is counted character by character,
and the review page's count would then disagree with everything the README says. The name
is answered here, in this process's resolver, so nothing outside the demo changes (no
/etc/hosts edit) and every other name resolves as before. hookline.poll.netguard's system
resolver asks socket.getaddrinfo too, so guarded fetches see the map, and the demo's
HOOKLINE_ALLOW_PRIVATE_ADDRESSES=true lets the loopback answer through.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from typing import Any

SAMPLE_HOST = "news.example.org"

_real_getaddrinfo: Callable[..., Any] = socket.getaddrinfo
_mapped: dict[str, str] = {}


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if isinstance(name, str) and name.lower().rstrip(".") in _mapped:
        host = _mapped[name.lower().rstrip(".")]
    return _real_getaddrinfo(host, *args, **kwargs)


def map_hosts(mapping: Mapping[str, str]) -> None:
    """Resolve each name to its address (a loopback IP) in this process from now on."""
    _mapped.update({name.lower(): address for name, address in mapping.items()})
    socket.getaddrinfo = _getaddrinfo


def unmap_hosts() -> None:
    _mapped.clear()
    socket.getaddrinfo = _real_getaddrinfo
