"""Where a webhook may point: public http(s) hosts, checked when saved and again when sent.

A user's webhook URL is a request the worker makes on their behalf, so it must not reach this
machine, the private network or a cloud metadata service (SSRF). A host passes when every
address it resolves to is public, or when FLEETMON_WEBHOOK_ALLOWED_HOSTS names it (host names,
IP addresses or networks of on-premise receivers). The sender then connects to the very
addresses checked, so a name that resolves elsewhere a second later (DNS rebinding) gains
nothing; and each redirect is checked the same way before it is followed.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

SCHEMES = {"http": 80, "https": 443}
# IPv6 prefixes that carry an IPv4 address a gateway would forward to (RFC 6052 NAT64).
NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeWebhookURL(ValueError):
    """The URL may not receive webhooks; the message says why, in words."""


@dataclass(frozen=True)
class WebhookTarget:
    """A checked URL and the addresses to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, by the system resolver."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def address_problem(address: IPAddress) -> str | None:
    """Why an address may not receive webhooks (None: a public address)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and address.teredo:
            embedded = address.teredo[1]
        if embedded is not None:
            return address_problem(embedded)
    if address.is_loopback:
        return "a loopback address (this machine)"
    if address.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    if address.is_unspecified:
        return "an unspecified address (this machine)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private network address"
    if not address.is_global:
        return "a reserved address"
    return None


def _allowed() -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    names, networks = set(), []
    for entry in getattr(settings, "FLEETMON_WEBHOOK_ALLOWED_HOSTS", []):
        entry = entry.strip().lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.add(entry)
    return names, networks


def webhook_target(url: str, *, trusted: bool = False) -> WebhookTarget:
    """Check `url` and resolve its host; raise UnsafeWebhookURL when it may not be used.

    `trusted` skips the address policy (the team webhook an admin set in the environment),
    never the parsing.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeWebhookURL(f"not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UnsafeWebhookURL("use an http:// or https:// URL")
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeWebhookURL("the URL names no host")
    port = port or SCHEMES[scheme]
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise UnsafeWebhookURL(f"the host {host} cannot be resolved") from exc
    if not addresses:
        raise UnsafeWebhookURL(f"the host {host} cannot be resolved")
    names, networks = _allowed()
    if not trusted and host not in names:
        for text in addresses:
            address = ipaddress.ip_address(text.split("%")[0])  # drop an IPv6 zone
            if any(address in network for network in networks):
                continue
            problem = address_problem(address)
            if problem:
                # The address itself is not named: users could map the private network
                # by the names it resolves.
                raise UnsafeWebhookURL(
                    f"{host} resolves to {problem}: webhooks go to public hosts "
                    "only (an admin can allow on-premise receivers)"
                )
    return WebhookTarget(url=url, scheme=scheme, host=host, port=port, addresses=tuple(addresses))
