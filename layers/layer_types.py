"""What a layer declaration is made of: :class:`Field` and :class:`Layer` (the catalogue,
:mod:`layers.catalog`, declares every layer with them; see there for the redaction rules)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FieldType = Literal["text", "integer", "real", "boolean", "date", "datetime", "json"]
GeneralisedRule = Literal["show", "drop", "opaque", "cell"]
GeometryType = Literal["MULTIPOLYGON", "MULTILINESTRING", "POINT"]


@dataclass(frozen=True)
class Field:
    """One attribute of a layer.

    ``sensitive`` fields are law-enforcement detail that only planners, analysts and admins see.
    ``generalised`` is what a role that sees generalised seizures gets of the field (``drop``
    for a sensitive one, whatever is written), and ``why`` says why, for people.
    """

    name: str
    type: FieldType
    description: str
    sensitive: bool = False
    generalised: GeneralisedRule = "show"
    why: str = ""

    @property
    def generalised_rule(self) -> GeneralisedRule:
        """The rule that applies for a role seeing generalised seizures (sensitive fields are dropped)."""
        return "drop" if self.sensitive else self.generalised


@dataclass(frozen=True)
class Layer:
    """A layer: its table, geometry type (``None`` for a table without geometry), fields and key.

    ``key`` names the fields that identify a record across runs (a natural key or content hash):
    writing a record whose key exists updates it instead of adding a row.
    """

    name: str
    title: str
    geometry_type: GeometryType | None
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    description: str = ""
    popup: tuple[str, ...] = ()
    style: dict[str, object] = field(default_factory=dict, hash=False, compare=False)
    on_map: bool = True
    # only these rows are drawn on the map (e.g. the latest period of a time series)
    map_where: dict[str, object] = field(default_factory=dict, hash=False, compare=False)
    # roles without access to exact locations see points snapped to a grid of this size (degrees)
    generalise_deg: float | None = None
    # the map draws (and fetches) the layer only from this zoom level on: at region scale
    # thousands of small features hide the layers made to be read there (hotspots)
    min_zoom: int | None = None
    # roles that see generalised seizures read this layer's rows from this table instead, which
    # `analyse` computes over the seizures as they see them (a layer with other fields is fine:
    # links become counts per clearing)
    generalised_from: str | None = None
    # when not empty: roles that see generalised seizures cannot read the layer, for this reason
    refused_generalised: str = ""
    # extra (non-unique) indexes, each a tuple of field names; a name "-risk" sorts descending
    indexes: tuple[tuple[str, ...], ...] = ()
    # fields mostly empty: indexed only where they hold a value (so "IS NULL" never picks the index)
    sparse_indexes: tuple[str, ...] = ()
    # rows are only ever added: the store refuses to update or delete them (an audit trail)
    append_only: bool = False
    # the viewer role (the public map) sees this layer, and of it only the rows matching public_where
    public: bool = False
    public_where: dict[str, object] = field(default_factory=dict, hash=False, compare=False)
    # an internal table (accounts, sessions, logs): no role reads it through redaction, the map,
    # the API or an export; only the module that owns it does
    internal: bool = False

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"layer {self.name!r} has no field {name!r}")

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def plain_field(name: str, type_: FieldType, description: str, sensitive: bool = False) -> Field:
    """A field with the default rule for generalised roles (shown as it is)."""
    return Field(name, type_, description, sensitive)
