"""What a viewer may see of a layer: the single gate every map and API output goes through.

For now every user is a planner, and planners see every declared field, sensitive ones
included (see the roles table in ``DESIGN.md``). When ``layers.redaction`` exists, these two
functions delegate to it and nothing else in ``web/`` changes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import pandas as pd

from layers import Field, Layer

logger = logging.getLogger(__name__)

Role = Literal["planner", "analyst", "ngo", "admin"]

DEFAULT_ROLE: Role = "planner"
_SEES_SENSITIVE: frozenset[str] = frozenset({"planner", "analyst", "admin"})


def visible_fields(layer: Layer, names: Sequence[str], role: Role = DEFAULT_ROLE) -> tuple[Field, ...]:
    """The fields among ``names`` (declared by ``layer``) that ``role`` may see, in that order.

    Raises
    ------
    KeyError
        When a name is not a field of ``layer`` (a catalogue mistake, not a user error).
    """
    fields = tuple(layer.field(n) for n in names)
    return tuple(f for f in fields if not f.sensitive or role in _SEES_SENSITIVE)


def redact(layer: Layer, frame: pd.DataFrame, role: Role = DEFAULT_ROLE) -> pd.DataFrame:
    """``frame`` (rows of ``layer``) reduced to what ``role`` may see.

    Columns the role may not see are dropped; geometry and index are kept. Later this is
    where seizures are generalised for the ``ngo`` role.
    """
    declared = [c for c in frame.columns if c in layer.field_names]
    allowed = {f.name for f in visible_fields(layer, declared, role)}
    hidden = [c for c in declared if c not in allowed]
    if hidden:
        logger.debug("layer %s: hiding %s from role %s", layer.name, ", ".join(hidden), role)
        return frame.drop(columns=hidden)
    return frame
