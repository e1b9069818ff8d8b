"""Running the app: what ``ecowatch serve`` and ``ecowatch demo`` call.

Production: waitress (pure Python, a pool of ``server_threads`` threads) serves the app.
``--debug`` uses werkzeug's development server instead (it says of itself that it is not for
production). Behind a reverse proxy that terminates TLS, set ``trusted_proxies`` (how many
proxies' ``X-Forwarded-*`` headers to believe) and ``secure_cookies``; see the README.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask
from werkzeug.serving import make_server as make_dev_server
from werkzeug.serving import run_simple

from config import Settings
from layers.store import display_url

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


def startup_message(host: str, port: int, *, debug: bool = False, settings: Settings | None = None, accounts: int | None = None) -> str:
    """What ``serve`` prints: the URL, the server, who can reach it, and how to log in."""
    url = map_url(host, port)
    server = "werkzeug development server (--debug): not for production" if debug else "waitress"
    lines = [f"ecowatch map: {url}  ({server})"]
    if is_loopback(host):
        lines.append("Bound to the loopback address: only this machine can open it.")
    elif settings is not None and not settings.secure_cookies:
        lines.append(
            f"WARNING: listening on {host}, reachable from other machines, without secure cookies: "
            "passwords and sessions cross the network in clear unless a TLS proxy is in front "
            "(set ECOWATCH_SECURE_COOKIES=true and ECOWATCH_TRUSTED_PROXIES; see the README)."
        )
    else:
        lines.append(f"Listening on {host}: reachable from other machines; every page asks for a login.")
    if not is_loopback(host):
        lines.append("It answers only the host names it serves: add the names users type to ECOWATCH_TRUSTED_HOSTS.")
    if accounts == 0:
        lines.append("No user accounts yet: add one with `ecowatch users add NAME --role admin`.")
    return "\n".join(lines)


def serve(settings: Settings, host: str | None = None, port: int | None = None, *, store_url: str | None = None, debug: bool = False) -> None:
    """Serve the app until interrupted: waitress with ``settings.server_threads`` threads, or
    werkzeug's development server with ``debug``.

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
    from layers.accounts import list_accounts
    from web import create_app

    host = host or settings.host
    port = settings.port if port is None else port
    bare = host.strip("[]").lower()
    if not is_loopback(host) and bare not in ("0.0.0.0", "::", "") and bare not in settings.trusted_hosts:
        # the address it listens on is a name it serves (the Host check answers only those)
        settings = settings.model_copy(update={"trusted_hosts": (*settings.trusted_hosts, bare if ":" not in bare else f"[{bare}]")})
    app = create_app(settings, store_url=store_url)
    state = app.extensions["ecowatch"]
    store = state.store()  # fail now, with the store's own message, rather than on the first request
    logger.info("serving %s on %s:%d (%s)", display_url(state.store_url), host, port, "debug" if debug else "waitress")
    click.echo(startup_message(host, port, debug=debug, settings=settings, accounts=len(list_accounts(store))))
    try:
        if debug:
            run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
        else:
            production_server(app, host, port, threads=settings.server_threads).run()
    finally:
        state.close()


def production_server(app: Flask, host: str, port: int, *, threads: int) -> Any:
    """A waitress server for ``app`` bound to ``host:port`` (port 0: one from the OS); ``.run()`` serves.

    The server's own identity is kept out of responses (no ``Server: waitress``) and its
    error pages carry no traceback.
    """
    from waitress.server import create_server  # type: ignore[import-untyped]

    return create_server(app, host=host, port=port, threads=threads, ident="", expose_tracebacks=False, clear_untrusted_proxy_headers=True)


@contextmanager
def background_server(app: Flask, *, production: bool = True, threads: int = 4) -> Iterator[str]:
    """``app`` served on 127.0.0.1 (a free port) from a thread; yields the base URL, stops after.

    For tests and benchmarks: the same waitress server ``serve`` runs (or, with
    ``production=False``, werkzeug's threaded development server).
    """
    if production:
        from waitress import wasyncore  # type: ignore[import-untyped]

        server = production_server(app, "127.0.0.1", 0, threads=threads)
        port = server.effective_port
        stop = threading.Event()

        def serve_until_stopped() -> None:
            # waitress's own run() loops until its sockets are closed; closing them from another
            # thread while it sits in select() fails there with EBADF. Poll in short turns
            # instead, and close the sockets here, on the loop's thread, once asked to stop.
            try:
                while not stop.is_set():
                    wasyncore.loop(timeout=0.05, map=server._map, count=1)
            finally:
                server.task_dispatcher.shutdown()
                wasyncore.close_all(server._map)

        thread = threading.Thread(target=serve_until_stopped, name="ecowatch-waitress", daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            stop.set()
            thread.join(timeout=10)
        return
    dev = make_dev_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=dev.serve_forever, name="ecowatch-werkzeug", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{dev.server_port}"
    finally:
        dev.shutdown()
        thread.join(timeout=10)
        dev.server_close()
