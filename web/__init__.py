"""The Flask map app: ``create_app(settings)`` and ``serve(settings, host, port)``.

One blueprint per feature: :mod:`web.map` (the page), :mod:`web.api` (JSON features), and
:mod:`web.error_pages` (JSON errors under ``/api``, HTML elsewhere), and the review desk
(:mod:`web.review`, :mod:`web.review_files`, :mod:`web.review_sample`). The app reads the store
through :mod:`layers` only; it writes no SQL and computes no analysis.
"""

from __future__ import annotations

import logging
import secrets

from flask import Flask

from config import Settings
from layers.redaction import Role, check_role
from web.api import bp as api_bp
from web.app_state import EXTENSION_KEY, AppState
from web.error_pages import bp as error_pages_bp
from web.hosts import install_host_check
from web.map import bp as map_bp
from web.review import bp as review_bp
from web.review_files import bp as review_files_bp
from web.review_sample import bp as review_sample_bp
from web.review_view import with_query
from web.security import install_headers
from web.server import serve

logger = logging.getLogger(__name__)


def create_app(settings: Settings, store_url: str | None = None, *, role: Role = "planner") -> Flask:
    """Build the map app.

    Parameters
    ----------
    settings
        Validated settings (:func:`config.load_settings`).
    store_url
        The store to serve; defaults to ``settings.store_url``. It is opened read-only on the
        first request that needs it (one SQLite connection per request thread).
    role
        Whose view every request gets until accounts exist (a planner's by default; ``ngo``
        serves the generalised view, with opaque ids keyed by ``settings.id_secret``).

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
    app.extensions[EXTENSION_KEY] = AppState(settings=settings, store_url=store_url or settings.store_url, role=check_role(role))
    install_host_check(app, settings.trusted_hosts)
    app.register_blueprint(error_pages_bp)
    app.register_blueprint(map_bp)
    app.register_blueprint(api_bp)
    for desk in (review_bp, review_files_bp, review_sample_bp):
        app.register_blueprint(desk)
    app.add_template_filter(with_query, "with_query")
    install_headers(app)
    logger.debug("created map app for store %s", store_url or settings.store_url)
    return app

__all__ = ["create_app", "serve"]
