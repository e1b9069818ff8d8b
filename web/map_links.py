"""Where the map page links to: the evidence reports of the features in its popups, and the other pages.

Only for the roles that the linked route lets in (the route checks again: a link is a convenience,
not a permission). The URLs come from Flask's ``url_for``, so they follow the routes.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import url_for

from layers import Layer
from layers.redaction import Role, visible_fields
from web.evidence import REPORT_ROLES
from web.review_access import DESK_ROLES

logger = logging.getLogger(__name__)

# on-map layer -> (field holding the report's id, endpoint of the report page, its id argument)
REPORTS: dict[str, tuple[str, str, str]] = {
    "clearings": ("clearing_id", "evidence.clearing", "cid"),
    "hotspot_segments": ("segment_id", "evidence.segment", "sid"),
}
REPORT_LABEL = "Evidence report"
_PLACEHOLDER = "ID"


def report_link(layer: Layer, role: Role) -> dict[str, str] | None:
    """``{"field", "url", "label"}`` for the popups of ``layer``: the report page is ``url`` + the
    feature's ``field`` (URL-encoded by the page); ``None`` when the layer has no report, the role
    may not ask for one, or it does not see the field."""
    found = REPORTS.get(layer.name)
    if found is None or role not in REPORT_ROLES:
        return None
    field, endpoint, argument = found
    if not [f for f in visible_fields(layer, [field], role) if f.name == field]:
        return None
    values: dict[str, Any] = {argument: _PLACEHOLDER}
    url = url_for(endpoint, **values)
    assert url.endswith("/" + _PLACEHOLDER), url
    return {"field": field, "url": url[: -len(_PLACEHOLDER)], "label": REPORT_LABEL}


def nav_links(role: Role | None) -> list[dict[str, Any]]:
    """The other pages the map page links to for ``role``, as ``{"label", "url"}``."""
    links = [{"label": "Watch areas", "url": url_for("watch.index")}]
    if role in DESK_ROLES:
        links.append({"label": "Review desk", "url": url_for("review.queue")})
    return links
