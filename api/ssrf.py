"""Webhook URLs may not point into the server's own network: the host is
resolved and every address must be public (not loopback, private, link-local,
multicast, reserved or unspecified) unless staff allowed it. The check is
made when an endpoint is saved and again at each delivery, on the addresses
actually connected to (a name that re-resolves to 127.0.0.1 is refused)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.utils.translation import gettext as _


class UnsafeURL(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise UnsafeURL(_("The host %(host)s could not be found.") % {"host": host}) from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allow_private: bool) -> list[str]:
    """The addresses to connect to, or UnsafeURL with a sentence for the member."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL(_("A webhook URL must start with https:// or http:// and name a host."))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeURL(_("The webhook URL has a bad port.")) from None
    addresses = resolve(parts.hostname, port)
    if not allow_private:
        from django.conf import settings

        if not settings.HEYGEM_WEBHOOK_ALLOW_PRIVATE and not all(is_public(a) for a in addresses):
            raise UnsafeURL(_(
                "%(host)s is a loopback, private or link-local address. Webhooks may only reach public "
                "addresses unless an administrator allows this endpoint."
            ) % {"host": parts.hostname})
    return addresses
