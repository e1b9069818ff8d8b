"""Watch areas and their digest subscriptions: what a user asked to be told about, and how often.

A watch area is a polygon (lon/lat) its owner drew, uploaded or picked; a subscription of it says
which clearings matter (:class:`WatchFilters`), how often a digest is made (``after_run``: after
each completed detect or analyse run; ``daily``; ``weekly``) and where it goes (the owner's
e-mail address, a webhook, or both). Both tables are internal (:mod:`layers.catalog`): no role
reads them through the redaction gate; only their owner sees them, through this module.

Secrets: a webhook's signing key and an unsubscribe token are derived from the server's secret
(:func:`watch_secret`) and the subscription's id, never stored. The key is shown once, when the
subscription is made (a new key: a new ``key_version``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from layers.errors import FilterError, WatchError
from layers.filters import parse_filters
from layers.store import STORE_CRS, Store

logger = logging.getLogger(__name__)

FREQUENCIES = ("after_run", "daily", "weekly")
COMMODITIES = ("timber", "wildlife")
ORIGINS = ("drawn", "uploaded", "protected_area", "concession", "corridor_segment", "border_crossing")
MAX_NAME_CHARS = 120
MAX_AREAS_PER_OWNER = 100
MAX_URL_CHARS = 2000


@dataclass(frozen=True)
class WatchFilters:
    """Which clearings of the area a digest lists (empty: no condition)."""

    min_risk: int | None = None
    confidence: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    commodity: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, value: Any) -> WatchFilters:
        value = value if isinstance(value, dict) else {}
        return cls(min_risk=value.get("min_risk"), confidence=tuple(value.get("confidence") or ()), flags=tuple(value.get("flags") or ()),
                   commodity=tuple(value.get("commodity") or ()))

    def where(self) -> dict[str, Any]:
        """Store conditions on clearings (commodity is judged on the linked seizures, by the digest)."""
        args: dict[str, Any] = {}
        if self.min_risk is not None:
            args["risk"] = str(self.min_risk)
        if self.confidence:
            args["confidence"] = list(self.confidence)
        if self.flags:
            args["flag"] = list(self.flags)
        return parse_filters(args).where()


def parse_watch_filters(form: Mapping[str, Any]) -> WatchFilters:
    """Filters from form values ``min_risk``, ``confidence``, ``flag``, ``commodity`` (lists or comma-separated).

    Raises
    ------
    WatchError
        Naming the field and what was expected.
    """
    def values(name: str) -> list[str]:
        getlist = getattr(form, "getlist", None)
        raw = getlist(name) if getlist is not None else form.get(name, [])
        raw = raw if isinstance(raw, list | tuple) else [raw]
        return [p.strip() for item in raw for p in str(item).split(",") if p.strip()]

    min_risk_text = "".join(values("min_risk"))
    args: dict[str, Any] = {"confidence": values("confidence"), "flag": values("flag")}
    if min_risk_text:
        args["risk"] = min_risk_text
    try:
        flt = parse_filters({k: v for k, v in args.items() if v})
    except FilterError as err:
        field = {"risk": "min_risk", "flag": "flag"}.get(err.parameter, err.parameter)
        raise WatchError(field, err.message) from err
    if flt.risk_max is not None:
        raise WatchError("min_risk", "give a minimum risk 0-100, not a range")
    commodity = values("commodity")
    bad = [c for c in commodity if c not in COMMODITIES]
    if bad:
        raise WatchError("commodity", f"{bad[0][:40]!r} is not one of {', '.join(COMMODITIES)}")
    return WatchFilters(min_risk=flt.risk_min, confidence=flt.confidence, flags=flt.flags, commodity=tuple(dict.fromkeys(commodity)))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def add_watch_area(store: Store, owner: str, name: str, geometry: shapely.Geometry, *, origin: str, origin_ref: str = "",
                   radius_km: float | None = None, now: dt.datetime | None = None) -> str:
    """Save a watch area (``geometry`` a lon/lat polygon or multipolygon); returns its id.

    Raises
    ------
    WatchError
        An empty or over-long name, an unknown origin, a geometry that is not a valid polygon, or
        too many areas for one owner.
    """
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise WatchError("name", f"give a name of 1 to {MAX_NAME_CHARS} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        raise WatchError("name", "the name may not hold line breaks, control or invisible format characters")
    if origin not in ORIGINS:
        raise WatchError("origin", f"{origin[:40]!r} is not one of {', '.join(ORIGINS)}")
    if geometry is None or geometry.is_empty or geometry.geom_type not in ("Polygon", "MultiPolygon") or not geometry.is_valid:
        raise WatchError("geometry", "the area must be a valid polygon")
    if store.count("watch_areas", where={"owner": owner}) >= MAX_AREAS_PER_OWNER:
        raise WatchError("name", f"an account may keep at most {MAX_AREAS_PER_OWNER} watch areas; delete one first")
    watch_id = "WA-" + secrets.token_hex(8)
    frame = gpd.GeoDataFrame([{"watch_id": watch_id, "owner": owner, "name": name, "origin": origin, "origin_ref": origin_ref[:200],
                               "radius_km": radius_km, "created": now or _now()}], geometry=[geometry], crs=STORE_CRS)
    store.upsert("watch_areas", frame)
    logger.info("watch area %s saved for %s (%s)", watch_id, owner, origin)
    return watch_id


def add_subscription(store: Store, owner: str, watch_id: str, filters: WatchFilters, *, frequency: str, email: bool,
                     webhook_url: str = "", now: dt.datetime | None = None) -> str:
    """Subscribe ``owner`` to digests of their watch area ``watch_id``; returns the subscription id.

    The webhook URL must already have passed the allow-list (the caller checks it).

    Raises
    ------
    WatchError
        When the area is not the owner's, the frequency is unknown, or no channel is chosen.
    """
    if area(store, owner, watch_id) is None:
        raise WatchError("watch_id", "no such watch area of yours")
    if frequency not in FREQUENCIES:
        raise WatchError("frequency", f"{frequency[:40]!r} is not one of {', '.join(FREQUENCIES)}")
    if not email and not webhook_url:
        raise WatchError("email", "choose e-mail, a webhook, or both")
    if len(webhook_url) > MAX_URL_CHARS:
        raise WatchError("webhook_url", f"the URL is longer than {MAX_URL_CHARS} characters")
    sid = "SUB-" + secrets.token_hex(8)
    store.upsert("subscriptions", pd.DataFrame([{
        "subscription_id": sid, "watch_id": watch_id, "owner": owner, "filters": filters.as_json(), "frequency": frequency,
        "email": bool(email), "webhook_url": webhook_url or None, "key_version": 1, "created": now or _now(),
        "last_digest": None, "unsubscribed": None,
    }]))
    return sid


def area(store: Store, owner: str, watch_id: str) -> gpd.GeoDataFrame | None:
    """The owner's watch area ``watch_id`` (one row), or ``None``."""
    rows = store.read("watch_areas", where={"watch_id": watch_id, "owner": owner})
    return None if rows.empty else rows


def owner_areas(store: Store, owner: str) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The owner's watch areas (by creation) and subscriptions."""
    areas = store.read("watch_areas", where={"owner": owner}, order_by=["created"])
    subs = store.read("subscriptions", where={"owner": owner}, order_by=["created"])
    return areas, subs


def delete_watch_area(store: Store, owner: str, watch_id: str) -> bool:
    """Delete the owner's area and its subscriptions (their outbox stays, for the record); ``False`` when there is none."""
    if area(store, owner, watch_id) is None:
        return False
    with store.transaction():
        store.delete("subscriptions", where={"watch_id": watch_id, "owner": owner})
        store.delete("watch_areas", where={"watch_id": watch_id, "owner": owner})
    return True


def subscription(store: Store, subscription_id: str) -> dict[str, Any] | None:
    rows = store.read("subscriptions", where={"subscription_id": subscription_id})
    if rows.empty:
        return None
    return {k: (None if not isinstance(v, list | dict) and pd.isna(v) else v) for k, v in rows.iloc[0].items()}


def unsubscribe(store: Store, subscription_id: str, now: dt.datetime | None = None) -> bool:
    """Stop a subscription; ``True`` when it was active (a second call changes nothing)."""
    sub = subscription(store, subscription_id)
    if sub is None or sub["unsubscribed"] is not None:
        return False
    store.upsert("subscriptions", pd.DataFrame([{"subscription_id": subscription_id, "unsubscribed": now or _now()}]))
    logger.info("subscription %s stopped", subscription_id)
    return True


# --- keys and tokens derived from the server's secret -----------------------------------------------


def _derive(secret: bytes, purpose: str, *parts: str) -> bytes:
    key = hmac.new(secret, b"ecowatch watch key\x1f" + purpose.encode(), hashlib.sha256).digest()
    return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).digest()


def webhook_key(secret: bytes, subscription_id: str, key_version: int) -> str:
    """The subscription's webhook signing key (hex): HMAC-SHA256 of the body is sent with each delivery."""
    return _derive(secret, "webhook", subscription_id, str(int(key_version))).hex()


def unsubscribe_token(secret: bytes, subscription_id: str) -> str:
    """The token of the subscription's one-click unsubscribe link."""
    return _derive(secret, "unsubscribe", subscription_id).hex()[:40]


def check_unsubscribe_token(secret: bytes, subscription_id: str, token: str) -> bool:
    return hmac.compare_digest(unsubscribe_token(secret, subscription_id), token)
