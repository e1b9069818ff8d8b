"""Who is asking, for the review desk: the logged-in user's name and role, from the accounts work.

Every desk view declares its roles with :func:`web.access.roles_allowed` (the app refuses any
other caller before the view runs, and logs the refusal); planners see the desk
(:data:`DESK_ROLES`), analysts and admins decide (:data:`DECIDE_ROLES`). Forms and scripts send
Flask-WTF's CSRF token (``csrf_token()`` in templates; the ``X-CSRFToken`` header from scripts),
which its CSRFProtect checks on every POST.
"""

from __future__ import annotations

from flask_login import current_user

from layers.redaction import Role
from web.access import current_role as _access_role

DESK_ROLES: tuple[Role, ...] = ("planner", "analyst", "admin")  # see the desk
DECIDE_ROLES: tuple[Role, ...] = ("analyst", "admin")  # record decisions and draw samples


def current_user_name() -> str:
    """The logged-in user's name (the access check has run: there is one)."""
    return str(current_user.username)


def current_role() -> Role:
    """The logged-in user's role."""
    return _access_role()
