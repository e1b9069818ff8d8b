"""What a viewer may see of a layer: the web side of the one gate, :mod:`layers.redaction`.

Until accounts exist every user of one app reads as the role it was created with
(``create_app(settings, role=...)``, a planner by default); exports choose a role.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from layers import Field, Layer
from layers.redaction import Access, Role
from layers.redaction import redact as redact_for
from layers.redaction import visible_fields as fields_for

logger = logging.getLogger(__name__)



def visible_fields(layer: Layer, names: Sequence[str], role: Role | Access) -> tuple[Field, ...]:
    """The fields among ``names`` that ``role`` may see (see :func:`layers.redaction.visible_fields`)."""
    return fields_for(layer, names, role)


def redact(layer: Layer, frame: pd.DataFrame, role: Role | Access) -> pd.DataFrame:
    """``frame`` reduced to what ``role`` may see (see :func:`layers.redaction.redact`)."""
    return redact_for(layer, frame, role)


def request_access() -> Access:
    """Who the current request reads as: the logged-in caller's role (:func:`web.access.current_role`),
    with the id key when it needs one."""
    from web.access import current_role
    from web.app_state import app_state

    return app_state().access(current_role())
