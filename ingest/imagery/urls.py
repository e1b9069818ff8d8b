"""The allow-list that every URL a catalogue hands us passes before anything reads it.

A STAC catalogue names the files we then read; without a check, a hostile or broken one could
make us read local files (``file:///etc/passwd``, ``/vsi...`` paths), other services on this
machine (``http://127.0.0.1:5432/``) or a cloud metadata service (``169.254.169.254``). So a
URL is read only when its scheme and its host (and port) are in the settings'
``stac_asset_schemes`` and ``stac_asset_hosts``; link-local addresses are refused even if listed.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from urllib.parse import urlsplit

from ingest.imagery.errors import URLNotAllowedError

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # IPv4 addresses translated for IPv6-only networks (RFC 6052)


def _host_port(entry: str) -> tuple[str, int | None]:
    """``"host"`` / ``"host:port"`` / ``"[v6]:port"`` of an allow-list entry -> (host, port or None)."""
    entry = entry.strip().lower()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    host, sep, port = entry.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, int(port)
    return entry, None


def _host_matches(host: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def check_url(url: str, *, schemes: Iterable[str], hosts: Iterable[str]) -> str:
    """Return ``url`` when the allow-list admits it; raise otherwise.

    Parameters
    ----------
    url
        An absolute ``http(s)://`` URL from a catalogue.
    schemes
        Allowed schemes, e.g. ``("https",)``; only ``http`` and ``https`` can ever be read.
    hosts
        Allowed hosts: ``"host"`` (its scheme's default port), ``"host:port"``, or
        ``"*.example.org"`` for any sub-domain.

    Raises
    ------
    URLNotAllowedError
        Naming the URL and why it was refused.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as err:
        raise URLNotAllowedError(url, f"not a valid URL ({err})") from err
    scheme = parts.scheme.lower()
    allowed_schemes = sorted({s.lower() for s in schemes} & set(DEFAULT_PORTS))
    if scheme not in allowed_schemes:
        raise URLNotAllowedError(url, f"scheme {scheme or '(none)'!r} is not allowed; allowed: {', '.join(allowed_schemes) or 'none'}")
    host = (parts.hostname or "").lower()
    if not host:
        raise URLNotAllowedError(url, "the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise URLNotAllowedError(url, "URLs with user names or passwords are not read")
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if isinstance(ip, ipaddress.IPv6Address):  # ::ffff:169.254.169.254 and 64:ff9b::/96 reach IPv4 addresses
        ip = ip.ipv4_mapped or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else ip)
    if ip is not None and (ip.is_link_local or ip.is_unspecified or ip.is_multicast):
        raise URLNotAllowedError(url, f"{host} is a link-local, unspecified or multicast address (e.g. a cloud metadata service)")
    port = port or DEFAULT_PORTS[scheme]
    entries = [_host_port(h) for h in hosts if h.strip()]
    for pattern, entry_port in entries:
        if _host_matches(host, pattern) and (entry_port or DEFAULT_PORTS[scheme]) == port:
            return url
    listed = ", ".join(sorted(h for h in hosts if h.strip())) or "none"
    raise URLNotAllowedError(url, f"host {host}:{port} is not in the allowed hosts ({listed}); set ECOWATCH_STAC_ASSET_HOSTS to read it")
