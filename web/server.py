"""Running the map app: what ``ecowatch serve`` and ``ecowatch demo`` call."""

from __future__ import annotations

import ipaddress
import logging

import click
from werkzeug.serving import run_simple

from config import Settings

logger = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """True when ``host`` is reachable from this machine only (``127.0.0.1``, ``::1``, ``localhost``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def map_url(host: str, port: int) -> str:
    """``http://HOST:PORT/``, with IPv6 addresses in brackets."""
    bare = host.strip("[]")
    shown = f"[{bare}]" if ":" in bare else bare
    return f"http://{shown}:{port}/"


def startup_message(host: str, port: int) -> str:
    """What ``serve`` prints: the URL, and who can open it."""
    url = map_url(host, port)
    if is_loopback(host):
        return (
            f"ecowatch map: {url}\n"
            "Bound to the loopback address: only this machine can open it (user accounts come later)."
        )
    return (
        f"ecowatch map: {url}\n"
        f"WARNING: listening on {host}, reachable from other machines, and the map has no user "
        "accounts yet: anyone who can reach it sees every layer, sensitive seizure fields included.\n"
        "It answers only the host names it serves: add the names users type to ECOWATCH_TRUSTED_HOSTS."
    )


def serve(settings: Settings, host: str | None = None, port: int | None = None, *, store_url: str | None = None) -> None:
    """Serve the map until interrupted (werkzeug, threaded).

    Parameters
    ----------
    settings
        Validated settings; ``host`` and ``port`` default to ``settings.host`` (``127.0.0.1``)
        and ``settings.port``.
    store_url
        The store to serve; defaults to ``settings.store_url``.

    Raises
    ------
    layers.errors.StoreError
        When the store does not exist or cannot be opened (checked before listening).
    OSError
        When the address cannot be bound (e.g. the port is taken).
    """
    from web import create_app

    host = host or settings.host
    port = settings.port if port is None else port
    bare = host.strip("[]").lower()
    if not is_loopback(host) and bare not in ("0.0.0.0", "::", "") and bare not in settings.trusted_hosts:
        # the address it listens on is a name it serves (the Host check answers only those)
        settings = settings.model_copy(update={"trusted_hosts": (*settings.trusted_hosts, bare if ":" not in bare else f"[{bare}]")})
    app = create_app(settings, store_url=store_url)
    state = app.extensions["ecowatch"]
    state.store()  # fail now, with the store's own message, rather than on the first request
    logger.info("serving %s on %s:%d", state.store_url, host, port)
    click.echo(startup_message(host, port))
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        state.close()
