"""The vocabularies of seizure fields and how a cell is read into each: groups, units, quantities,
transport modes, booleans.

Each ``parse_*`` function takes one cell (text or a number as a sheet typed it) and returns the
stored value, or raises ``ValueError`` with the reason a person can act on.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

logger = logging.getLogger(__name__)

GROUPS = ("timber", "wildlife")
UNITS = ("kg", "t", "m3", "pieces", "logs")
TRANSPORT_MODES = ("road", "river", "sea", "air", "rail")
UNIT_ALIASES = {
    "kg": ("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms", "kilogramme", "kilogrammes"),
    "t": ("t", "ton", "tons", "tonne", "tonnes", "mt", "metric ton", "metric tons", "metric tonne", "metric tonnes"),
    "m3": ("m3", "m³", "m^3", "cbm", "cu m", "cubic metre", "cubic metres", "cubic meter", "cubic meters"),
    "pieces": ("pieces", "piece", "pcs", "pc", "items", "item", "specimens", "specimen", "individuals", "heads", "head", "number", "no", "animals"),
    "logs": ("logs", "log"),
}
TRANSPORT_ALIASES = {
    "road": ("road", "truck", "lorry", "car", "van", "vehicle", "motorbike", "motorcycle", "bus", "land"),
    "river": ("river", "boat", "riverboat", "river boat", "inland waterway", "ferry"),
    "sea": ("sea", "ship", "vessel", "container", "maritime", "marine", "port", "sea freight"),
    "air": ("air", "plane", "aircraft", "flight", "airport", "air cargo", "air freight", "passenger luggage"),
    "rail": ("rail", "train", "railway"),
}
TRUE = ("1", "true", "yes", "y", "t")
FALSE = ("0", "false", "no", "n", "f")
_UNIT_OF = {alias: unit for unit, aliases in UNIT_ALIASES.items() for alias in aliases}
_MODE_OF = {alias: mode for mode, aliases in TRANSPORT_ALIASES.items() for alias in aliases}
_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")
_WITH_UNIT = re.compile(r"^([\d.,]*\d)\s*([A-Za-z][\w³^ .]*)$")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", str(text).strip().lower().rstrip("."))


def parse_group(raw: Any) -> str:
    text = _norm(raw)
    if text not in GROUPS:
        raise ValueError(f"must be one of {', '.join(GROUPS)}")
    return text


def parse_unit(raw: Any) -> str:
    text = _norm(raw).replace("³", "3")
    unit = _UNIT_OF.get(text) or _UNIT_OF.get(_norm(raw))
    if unit is None:
        raise ValueError(f"must be one of {', '.join(UNITS)} (or a common spelling of one); convert other units first")
    return unit


def parse_mode(raw: Any) -> str:
    mode = _MODE_OF.get(_norm(raw))
    if mode is None:
        raise ValueError(f"must be one of {', '.join(TRANSPORT_MODES)} (or a common word for one, e.g. truck, ship)")
    return mode


def parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = _norm(raw)
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError("not a yes/no value (true/false, yes/no, 1/0)")


def parse_quantity(raw: Any) -> tuple[float, str | None]:
    """A finite quantity >= 0 and the unit written with it (``"1,200 kg"``), if any."""
    if isinstance(raw, bool):
        raise ValueError("not a number")
    if isinstance(raw, int | float):
        value, unit = float(raw), None
    else:
        text = str(raw).strip()
        unit = None
        m = _WITH_UNIT.match(text)
        if m and not re.fullmatch(r"(?i)nan|inf(inity)?", text):
            text, unit = m.group(1), parse_unit(m.group(2))
        if _THOUSANDS.match(text):
            text = text.replace(",", "")
        elif "," in text:
            raise ValueError("a comma in a number: a decimal comma or a thousands separator? write 1200 or 1.5")
        try:
            value = float(text)
        except ValueError:
            raise ValueError("not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError("must be a finite number >= 0")
    return value, unit
