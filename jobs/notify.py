"""``ecowatch notify``: make the due watch-area digests and deliver what the outbox holds.

Two steps, each safe to interrupt:

1. **Enqueue.** For each active subscription that is due (``after_run``: a detect or analyse run
   completed since its last digest; ``daily``/``weekly``: a day/week since it), the new matching
   clearings (:mod:`layers.digests`) become one digest with a fresh id, written to the
   ``outbox`` — one row per channel — in the same transaction that moves the subscription's
   ``last_digest``. A due subscription with nothing new moves ``last_digest`` and makes no digest.
2. **Deliver.** Every pending outbox row is sent (SMTP or webhook); only after the server accepted
   it is the row marked sent and the delivery appended to ``digests_sent``.

So delivery is at least once: a crash between a send and its mark sends that one digest again
on the next run (same id: ``Message-ID`` / ``X-Ecowatch-Digest-Id``), and nothing made is lost.
A digest whose delivery fails stays pending until ``notify_max_attempts`` runs have tried it,
then is marked failed. Digests of an unsubscribed subscription are not delivered.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from config import Settings
from jobs.digest_mail import DeliveryError, compose, send_mail
from jobs.digest_webhook import post_digest
from layers.accounts import get_account
from layers.digests import digest_payload, new_clearings, sent_clearings
from layers.opaque_ids import load_id_key
from layers.redaction import Access
from layers.store import Store
from layers.watch_areas import WatchFilters, unsubscribe_token, webhook_key

logger = logging.getLogger(__name__)

PERIODS = {"daily": dt.timedelta(days=1), "weekly": dt.timedelta(days=7)}
SLACK = dt.timedelta(minutes=10)  # a daily job started a little early still finds yesterday's subscriptions due
RUN_COMMANDS = ("detect", "analyse")


@dataclass
class NotifyResult:
    """What a run did."""

    due: int = 0
    digests: int = 0
    sent: int = 0
    failed: int = 0
    pending: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.due} subscription(s) due, {self.digests} digest(s) made; {self.sent} delivered, {self.pending} still pending, "
                f"{self.failed} failed for good")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts, missing values ``None`` (a missing text is NaN in pandas, and NaN is true)."""
    return [{k: (None if not isinstance(v, list | dict) and pd.isna(v) else v) for k, v in rec.items()} for rec in frame.to_dict("records")]


def _ts(value: Any) -> dt.datetime | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime().replace(tzinfo=None)


def last_run_finished(store: Store) -> dt.datetime | None:
    """When the latest completed detect or analyse run finished."""
    runs = store.read("ingest_runs", where={"status": "completed"}, columns=["command", "finished"], geometry=False)
    runs = runs[runs["command"].astype(str).str.split().str[0].isin(RUN_COMMANDS)]
    return _ts(runs["finished"].max()) if len(runs) else None


def is_due(sub: dict[str, Any], now: dt.datetime, last_run: dt.datetime | None) -> bool:
    last = _ts(sub.get("last_digest"))
    if sub.get("frequency") == "after_run":
        return last_run is not None and (last is None or last_run > last)
    period = PERIODS.get(str(sub.get("frequency")))
    return period is not None and (last is None or now - last >= period - SLACK)


def unsubscribe_url(settings: Settings, secret: bytes, subscription_id: str) -> str:
    return f"{settings.public_url.rstrip('/')}/watch/unsubscribe/{subscription_id}/{unsubscribe_token(secret, subscription_id)}"


def enqueue_due(store: Store, settings: Settings, *, now: dt.datetime | None = None, result: NotifyResult | None = None) -> NotifyResult:
    """Step 1: a digest in the outbox for every due subscription with something new."""
    now = now or _now()
    result = result or NotifyResult()
    id_key = load_id_key(settings)
    last_run = last_run_finished(store)
    due = [sub for sub in _records(store.read("subscriptions", where={"unsubscribed": None})) if is_due(sub, now, last_run)]
    if not due:
        return result
    areas = store.read("watch_areas", where={"watch_id": sorted({str(s["watch_id"]) for s in due})})
    area_of = {str(w): (str(name), geom) for w, name, geom in zip(areas["watch_id"], areas["name"], areas.geometry, strict=True)}
    accounts = {owner: get_account(store, owner) for owner in {str(s["owner"]) for s in due}}
    for sub in due:
        account, found = accounts[str(sub["owner"])], area_of.get(str(sub["watch_id"]))
        if account is None or account.disabled or found is None:
            logger.info("subscription %s skipped: %s", sub["subscription_id"], "no watch area" if found is None else "account gone or disabled")
            continue
        result.due += 1
        area_name, geom = found
        access = Access(account.role, id_key)
        frame = new_clearings(store, access, geom, WatchFilters.from_json(sub.get("filters")), sent_clearings(store, str(sub["subscription_id"])))
        channels = (["email"] if sub.get("email") else []) + (["webhook"] if sub.get("webhook_url") else [])
        with store.transaction():
            if len(frame) and channels:
                digest_id = f"DG-{now:%Y%m%d}-{secrets.token_hex(8)}"
                payload = digest_payload(frame, digest_id=digest_id, subscription=sub, area_name=area_name, role=account.role,
                                         created=now, public_url=settings.public_url, limit=settings.digest_max_clearings)
                ids = [str(c) for c in frame["clearing_id"]]
                store.upsert("outbox", pd.DataFrame([
                    {"digest_id": digest_id, "channel": ch, "subscription_id": sub["subscription_id"], "created": now, "clearing_ids": ids,
                     "payload": payload, "status": "pending", "attempts": 0} for ch in channels]))
                result.digests += 1
                logger.info("digest %s: %d clearing(s) for subscription %s", digest_id, len(ids), sub["subscription_id"])
            store.upsert("subscriptions", pd.DataFrame([{"subscription_id": sub["subscription_id"], "last_digest": now}]))
    return result


def _deliver_one(store: Store, settings: Settings, secret: bytes, row: dict[str, Any], sub: dict[str, Any]) -> str:
    payload = row["payload"]
    if row["channel"] == "email":
        account = get_account(store, str(sub["owner"]))
        if account is None or not account.email:
            raise DeliveryError(f"account {sub['owner']!r} has no e-mail address")
        msg = compose(payload, to=account.email, sender=settings.smtp_from, unsubscribe_url=unsubscribe_url(settings, secret, str(sub["subscription_id"])))
        return send_mail(settings, msg)
    key = webhook_key(secret, str(sub["subscription_id"]), int(sub.get("key_version") or 1))
    return post_digest(settings, str(sub["webhook_url"]), key, payload)


def deliver_pending(store: Store, settings: Settings, *, now: dt.datetime | None = None, result: NotifyResult | None = None,
                    after_send: Callable[[str, str], None] | None = None) -> NotifyResult:
    """Step 2: send every pending outbox row, oldest first; ``after_send(digest_id, channel)`` runs
    after each accepted send, before it is marked (the tests crash there)."""
    now = now or _now()
    result = result or NotifyResult()
    secret = load_id_key(settings)
    pending = store.read("outbox", where={"status": "pending"}, order_by=["created", "digest_id", "channel"])
    subs = {s["subscription_id"]: s for s in _records(store.read("subscriptions"))}
    for row in _records(pending):
        key = {"digest_id": row["digest_id"], "channel": row["channel"]}
        sub = subs.get(row["subscription_id"])
        if sub is None or _ts(sub.get("unsubscribed")) is not None:
            store.upsert("outbox", pd.DataFrame([{**key, "status": "failed", "last_error": "unsubscribed before delivery"}]))
            continue
        attempts = int(row.get("attempts") or 0) + 1
        try:
            detail = _deliver_one(store, settings, secret, row, sub)
        except DeliveryError as err:
            failed = attempts >= settings.notify_max_attempts
            store.upsert("outbox", pd.DataFrame([{**key, "attempts": attempts, "last_error": str(err)[:500],
                                                  "status": "failed" if failed else "pending"}]))
            result.failed += failed
            result.pending += not failed
            result.errors.append(str(err))
            logger.warning("digest %s by %s: %s%s", row["digest_id"], row["channel"], err, " (gave up)" if failed else "")
            continue
        if after_send is not None:
            after_send(str(row["digest_id"]), str(row["channel"]))
        with store.transaction():
            store.upsert("outbox", pd.DataFrame([{**key, "attempts": attempts, "status": "sent", "sent": now, "last_error": None}]))
            store.upsert("digests_sent", pd.DataFrame([{"delivery_id": "DL-" + secrets.token_hex(8), "digest_id": row["digest_id"],
                                                        "channel": row["channel"], "subscription_id": row["subscription_id"], "sent": now,
                                                        "detail": detail[:300]}]))
        result.sent += 1
    return result


def notify(store: Store, settings: Settings, *, now: dt.datetime | None = None,
           after_send: Callable[[str, str], None] | None = None) -> NotifyResult:
    """Both steps: enqueue the due digests, then deliver everything pending (earlier runs' too)."""
    result = enqueue_due(store, settings, now=now)
    return deliver_pending(store, settings, now=now, result=result, after_send=after_send)
