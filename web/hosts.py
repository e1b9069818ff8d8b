"""Answer only the Host names the app serves: a defence against DNS rebinding.

A page on another site can make a visitor's browser resolve its own name to 127.0.0.1 and then
read a loopback-bound app as if it were same-origin; the request then carries the attacker's
name in its ``Host`` header. Every request whose ``Host`` is not one the app serves —
``localhost``, ``127.0.0.1`` and ``[::1]`` on any port, plus the ``trusted_hosts`` setting
(``host`` on any port, or ``host:port``) — is answered 400 before any view runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from flask import Flask, request

from web.errors import BadRequestError

logger = logging.getLogger(__name__)

LOCAL_HOSTS: frozenset[str] = frozenset({"localhost", "127.0.0.1", "::1"})


def split_host(header: str) -> tuple[str, str]:
    """``(host, port)`` of a Host header (lower case, IPv6 brackets removed, port ``""`` when absent)."""
    text = header.strip().lower()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else ""
    host, _, port = text.partition(":")
    return host.rstrip("."), port


def host_allowed(header: str | None, trusted: Iterable[str] = ()) -> bool:
    """True when ``header`` names a host the app serves (see the module docstring)."""
    if not header:
        return False
    host, port = split_host(header)
    if not host or (port and not port.isdigit()):
        return False
    if host in LOCAL_HOSTS:
        return True
    for entry in trusted:
        t_host, t_port = split_host(entry)
        if t_host == host and (not t_port or t_port == port):
            return True
    return False


def install_host_check(app: Flask, trusted: Iterable[str]) -> None:
    """Refuse (400) every request to ``app`` whose Host header it does not serve."""
    allowed = tuple(trusted)

    @app.before_request
    def _check_host() -> None:
        header = request.headers.get("Host")
        if not host_allowed(header, allowed):
            logger.warning("refused a request for host %r: not one this app serves (setting trusted_hosts)", (header or "")[:80])
            raise BadRequestError("This server does not answer for that host name.", parameter="Host")
