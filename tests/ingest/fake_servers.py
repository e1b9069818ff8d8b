"""Local HTTP(S) servers for the imagery tests: werkzeug on 127.0.0.1, a port the OS chooses.

:func:`serve` runs a WSGI app in a thread; :func:`make_ca` makes a throw-away certificate
authority (``trustme``) whose server certificate is valid for 127.0.0.1. Nothing here reaches
beyond this machine.
"""

from __future__ import annotations

import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        pass


@contextmanager
def serve(app: Callable[..., Any], ssl_context: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port) in a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=ssl_context, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"{'https' if ssl_context else 'http'}://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class LocalCA:
    """A test certificate authority: ``bundle`` for clients, ``server_context`` for the server."""

    bundle: Path
    server_context: ssl.SSLContext


def make_ca(folder: Path) -> LocalCA:
    """A fresh CA with a 127.0.0.1 server certificate; its PEM bundle is written into ``folder``."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    bundle = folder / "test-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return LocalCA(bundle, context)


@dataclass
class Hits:
    """Thread-safe request counters (by endpoint) and bytes sent."""

    counts: Counter[str] = field(default_factory=Counter)
    bytes_sent: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, what: str, n_bytes: int = 0) -> None:
        with self.lock:
            self.counts[what] += 1
            self.bytes_sent[what] += n_bytes

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.bytes_sent.clear()
