"""The Flask map app: ``create_app(settings)`` and ``serve(settings, host, port)``.

One blueprint per feature: :mod:`web.auth` (login, logout), :mod:`web.map` (the page),
:mod:`web.api` (JSON features), and :mod:`web.error_pages` (JSON errors under ``/api``, HTML
elsewhere). Every view declares the roles that may call it (:mod:`web.access`); an undeclared
one is refused. The app reads the store through :mod:`layers` only; it writes no SQL and
computes no analysis.
"""

from __future__ import annotations

import logging
import secrets

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Settings
from web.access import install_access
from web.api import bp as api_bp
from web.app_state import EXTENSION_KEY, AppState
from web.auth import install_auth
from web.bearer import install_bearer
from web.error_pages import bp as error_pages_bp
from web.evidence import bp as evidence_bp
from web.exports import bp as exports_bp
from web.hosts import install_host_check
from web.imagery import bp as imagery_bp
from web.map import bp as map_bp
from web.map_search import bp as map_search_bp
from web.ogcapi import bp as ogcapi_bp
from web.review import bp as review_bp
from web.review_files import bp as review_files_bp
from web.review_sample import bp as review_sample_bp
from web.review_view import with_query
from web.security import install_headers
from web.server import serve
from web.tiles import bp as tiles_bp
from web.watch import bp as watch_bp

logger = logging.getLogger(__name__)


def create_app(settings: Settings, store_url: str | None = None) -> Flask:
    """Build the map app.

    Parameters
    ----------
    settings
        Validated settings (:func:`config.load_settings`).
    store_url
        The store to serve; defaults to ``settings.store_url``. It is opened read-only on the
        first request that needs it (one SQLite connection per request thread).
        Each request reads as its logged-in caller's role; the app writes only its internal
        tables (sessions, login throttle counters, the access log) through a writer.

    Returns
    -------
    flask.Flask
        The app; ``app.extensions["ecowatch"]`` holds its :class:`web.app_state.AppState`.
    """
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        MAX_CONTENT_LENGTH=1 << 20,  # the map takes no uploads
    )
    if settings.trusted_proxies:
        # the client's address (throttling, the access log) and scheme come from the proxies' headers
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    app.extensions[EXTENSION_KEY] = AppState(settings=settings, store_url=store_url or settings.store_url)
    install_host_check(app, settings.trusted_hosts)
    app.register_blueprint(error_pages_bp)
    install_auth(app, settings)
    install_bearer(app)  # after the CSRF check, before the access check
    install_access(app)
    app.register_blueprint(map_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(map_search_bp)
    app.register_blueprint(imagery_bp)
    app.register_blueprint(ogcapi_bp)
    app.register_blueprint(exports_bp)
    app.register_blueprint(tiles_bp)
    for desk in (review_bp, review_files_bp, review_sample_bp):
        app.register_blueprint(desk)
    app.register_blueprint(evidence_bp)
    app.register_blueprint(watch_bp)
    app.add_template_filter(with_query, "with_query")
    install_headers(app)
    logger.debug("created map app for store %s", store_url or settings.store_url)
    return app

__all__ = ["create_app", "serve"]
