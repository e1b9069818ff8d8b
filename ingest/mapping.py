"""Field mappings: how a source's columns become a layer's fields.

A mapping file (TOML) has an optional ``source`` name, an optional ``encoding`` (of a file
whose text is not UTF-8 and does not say so itself), a ``[fields]`` table and an optional
``[coverage]`` table::

    source = "Open Development Cambodia ELC 2014"
    encoding = "cp1252"                                # only for undeclared non-UTF-8 text
    [fields]
    holder = "name"                                    # copy a column
    country = { value = "Cambodia" }                   # a constant
    valid_from = { column = "Contract", format = "%d/%m/%Y" }
    valid_to = { column = "Contract", format = "%d/%m/%Y", add_years = "Duration" }
    cancelled = { column = "Cancelled", present = true }   # true when the cell is not empty
    status = { column = "Status", values = { "A" = "active", "C" = "cancelled" } }
    source_id = { columns = ["Name", "Status"] }       # several columns joined with " / "
    purpose_category = { column = "Purpose", keywords = { rubber = ["rubber"], mining = ["mine", "mining"] }, default = "other" }
    valid_from = { column = "Contract", format = "%d/%m/%Y", on_error = "null" }  # bad value -> empty, with a warning
    [coverage]
    countries = ["Cambodia"]                           # where the source is complete

A layer field that the mapping leaves out is copied from a column of the same name, if any
(ignoring case when only that matches, e.g. KML's ``Name``).
Dates without a declared ``format`` are read in the common formats of :mod:`ingest.dates`
(ambiguous day/month values are rejected). Every text value passes :mod:`ingest.text`'s checks.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ingest.dates import parse_date
from ingest.errors import RecordError, SourceError
from ingest.text import MARKUP_NOTE, check_text
from layers.catalog import Layer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FieldRule:
    """How one layer field is filled from a source record."""

    target: str
    column: str | None = None
    value: Any = None
    format: str | None = None
    add_years: str | None = None
    present: bool = False
    values: Mapping[str, Any] | None = None
    columns: tuple[str, ...] = ()
    on_error: str = "reject"
    keywords: Mapping[str, tuple[str, ...]] | None = None
    default: Any = None

    def __post_init__(self) -> None:
        if self.on_error not in ("reject", "null"):
            raise ValueError(f"field {self.target!r}: on_error must be 'reject' or 'null', not {self.on_error!r}")
        if self.columns and self.column is None:
            object.__setattr__(self, "column", self.columns[0])


@dataclass(frozen=True)
class FieldMapping:
    """A source-to-layer mapping (see the module docstring for the file format)."""

    rules: dict[str, FieldRule] = field(default_factory=dict)
    source: str | None = None
    coverage_countries: tuple[str, ...] = ()
    encoding: str | None = None

    @classmethod
    def from_file(cls, path: Path) -> FieldMapping:
        """Read a mapping file; ``SourceError`` names the file and the bad entry."""
        try:
            doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise SourceError(str(path), f"cannot read the mapping: {err}") from err
        unknown_top = set(doc) - {"source", "encoding", "fields", "coverage"}
        if unknown_top:
            raise SourceError(str(path), f"unknown key(s) {sorted(unknown_top)}; a mapping has source, encoding, [fields] and [coverage]")
        rules: dict[str, FieldRule] = {}
        for target, spec in doc.get("fields", {}).items():
            if isinstance(spec, str):
                rules[target] = FieldRule(target, column=spec)
            elif isinstance(spec, dict):
                unknown = set(spec) - {"column", "columns", "value", "format", "add_years", "present", "values", "on_error", "keywords", "default"}
                if unknown:
                    raise SourceError(str(path), f"field {target!r}: unknown key(s) {sorted(unknown)}")
                try:
                    if "keywords" in spec:
                        spec = {**spec, "keywords": {k: tuple(str(w).lower() for w in v) for k, v in spec["keywords"].items()}}
                    rules[target] = FieldRule(target, **{**spec, "columns": tuple(spec.get("columns", ()))})
                except ValueError as err:
                    raise SourceError(str(path), str(err)) from err
            else:
                raise SourceError(str(path), f"field {target!r}: expected a column name or a table, got {spec!r}")
        coverage = doc.get("coverage", {})
        encoding = doc.get("encoding")
        if encoding is not None and not isinstance(encoding, str):
            raise SourceError(str(path), f"encoding must be a name such as 'cp1252', not {encoding!r}")
        return cls(rules, doc.get("source"), tuple(coverage.get("countries", ())), encoding)

    def with_overrides(self, pairs: Iterable[str]) -> FieldMapping:
        """This mapping with ``FIELD=COLUMN`` pairs (from ``--map``) taking precedence."""
        rules = dict(self.rules)
        for pair in pairs:
            target, sep, column = pair.partition("=")
            if not sep or not target.strip() or not column.strip():
                raise ValueError(f"--map {pair!r}: expected FIELD=COLUMN")
            old = rules.get(target.strip())
            rules[target.strip()] = replace(old, column=column.strip(), value=None) if old else FieldRule(target.strip(), column=column.strip())
        return replace(self, rules=rules)

    def check(self, layer: Layer, columns: Iterable[str], source: str) -> None:
        """Fail before reading rows when a rule names a field or column that does not exist."""
        cols = set(columns)
        for rule in self.rules.values():
            if rule.target not in layer.field_names:
                raise SourceError(source, f"mapping names field {rule.target!r}, which layer {layer.name!r} does not have; fields: {', '.join(layer.field_names)}")
            for col in (rule.column, rule.add_years, *rule.columns):
                if col is not None and col not in cols:
                    raise SourceError(source, f"mapping for {rule.target!r} names column {col!r}, which the file does not have; columns: {', '.join(sorted(cols))}")

    def apply(self, frame: pd.DataFrame, layer: Layer, source: str) -> tuple[pd.DataFrame, list[RecordError]]:
        """Map every row of ``frame`` to the layer's fields.

        Returns the mapped rows (index kept) and one :class:`RecordError` per rejected row.
        """
        mapped = self.apply_checked(frame, layer, source)
        return mapped.frame, mapped.errors

    def apply_checked(self, frame: pd.DataFrame, layer: Layer, source: str, *, max_chars: int = 10_000, unit: str = "row") -> Mapped:
        """:meth:`apply`, also checking each text value (:mod:`ingest.text`) and keeping the notes
        (repairs and warnings) on the rows that landed."""
        self.check(layer, frame.columns, source)
        rules = dict(self.rules)
        by_lower = {str(c).lower(): str(c) for c in frame.columns}
        for name in layer.field_names:
            if name not in rules and name in frame.columns:
                rules[name] = FieldRule(name, column=name)
            elif name not in rules and name in by_lower:  # e.g. KML's "Name" for the field name
                rules[name] = FieldRule(name, column=by_lower[name])
        out: dict[str, list[Any]] = {name: [] for name in rules}
        keep: list[Any] = []
        errors: list[RecordError] = []
        notes: list[RecordError] = []
        records = frame.drop(columns=[c for c in ("geometry",) if c in frame.columns]).to_dict("records")
        for idx, rec in zip(frame.index, records, strict=True):
            row: dict[str, Any] = {}
            row_notes: list[RecordError] = []
            try:
                for name, rule in rules.items():
                    value = _apply_rule(rule, rec, layer.field(name).type, source, idx, unit)
                    if isinstance(value, str):
                        value = _checked_text(value, rule, source, idx, unit, max_chars, row_notes)
                    row[name] = value
            except RecordError as err:
                errors.append(err)
                continue
            keep.append(idx)
            notes += row_notes
            for name in rules:
                out[name].append(row[name])
        return Mapped(pd.DataFrame(out, index=pd.Index(keep, name=frame.index.name)), errors, notes)


@dataclass(frozen=True)
class Mapped:
    """Rows mapped to a layer's fields; the rejected ones; notes (repairs, warnings) on the kept ones.

    A note's ``reason`` starts with ``repaired:`` when the value was changed.
    """

    frame: pd.DataFrame
    errors: list[RecordError]
    notes: list[RecordError]


def _checked_text(value: str, rule: FieldRule, source: str, row: Any, unit: str, max_chars: int, notes: list[RecordError]) -> str:
    checked = check_text(value, max_chars)
    column = rule.column or rule.target
    if checked.reject:
        raise RecordError(source, row, column, value, checked.reject, unit=unit)
    if checked.repaired:
        notes.append(RecordError(source, row, column, value, "repaired: " + checked.repaired, unit=unit))
    if checked.markup:
        notes.append(RecordError(source, row, column, value, MARKUP_NOTE, unit=unit))
    return checked.value or ""


def _blank(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and not value.strip()
    )


def _apply_rule(rule: FieldRule, rec: Mapping[str, Any], ftype: str, source: str, row: Any, unit: str = "row") -> Any:
    if rule.column is None:
        return rule.value
    if rule.columns:
        parts = [str(rec.get(c)).strip() for c in rule.columns if not _blank(rec.get(c))]
        return " / ".join(parts) or None
    raw = rec.get(rule.column)
    if rule.present:
        return not _blank(raw)
    if rule.keywords is not None:
        return categorise(raw, rule.keywords, rule.default)
    if _blank(raw):
        return rule.default
    if rule.values is not None:
        key = str(raw).strip()
        if key not in rule.values:
            raise RecordError(source, row, rule.column, raw, f"not one of the mapped values {sorted(rule.values)}", unit=unit)
        raw = rule.values[key]
    try:
        value = convert_value(raw, ftype, rule.format)
    except (TypeError, ValueError, OverflowError) as err:
        if rule.on_error == "null":
            logger.warning("%s row %s, field %r = %r: %s; left empty (on_error = null)", source, row, rule.column, raw, err)
            return None
        raise RecordError(source, row, rule.column, raw, str(err), unit=unit) from err
    if rule.add_years is not None:
        years: Any = rec.get(rule.add_years)
        if _blank(years):
            return None
        try:
            n = float(years)
            if not n.is_integer() or not 0 <= n <= 200:
                raise ValueError
            value = _add_years(value, int(n))
        except (TypeError, ValueError, OverflowError) as err:
            raise RecordError(source, row, rule.add_years, years, "not a whole number of years between 0 and 200", unit=unit) from err
    return value


def convert_value(raw: Any, ftype: str, fmt: str | None) -> Any:
    """``raw`` as a value of a field of type ``ftype``; ``ValueError`` (or ``TypeError``) says why not."""
    if ftype == "date":
        return parse_date(raw, fmt)
    if ftype == "real":
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return value
    if ftype == "integer":
        value = float(raw)
        if not value.is_integer():
            raise ValueError("not a whole number")
        return int(value)
    if ftype == "boolean":
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "y", "t"):
            return True
        if text in ("0", "false", "no", "n", "f"):
            return False
        raise ValueError("not a yes/no value")
    return str(raw).strip()


def categorise(raw: Any, keywords: Mapping[str, tuple[str, ...]], default: Any) -> Any:
    """The first category (in declaration order) one of whose keywords occurs in ``raw``, else ``default``.

    Matching ignores case and runs of spaces, hyphens and punctuation, so "Agro-Industial",
    "agro industrial" and "Agro-industrial crops," all contain "agro".
    """
    if _blank(raw):
        return default
    text = " " + re.sub(r"[^a-z0-9]+", " ", str(raw).lower()) + " "
    for category, words in keywords.items():
        for word in words:
            if " " + re.sub(r"[^a-z0-9]+", " ", word).strip() in text:
                return category
    return default


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a common year
        return day.replace(year=day.year + years, day=28)
