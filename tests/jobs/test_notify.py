"""``ecowatch notify`` against a local SMTP server (aiosmtpd) and a local webhook receiver.

What a digest holds (exactly the new matching clearings, as the owner's role sees them), that a
second run sends nothing, at-least-once delivery through a crash, the webhook's signature, and
RFC 8058 one-click unsubscribe (POST stops the next digest, GET changes nothing).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from shapely.geometry import Point, box

from config import Settings, load_settings
from jobs.digest_webhook import verify_signature
from jobs.notify import deliver_pending, enqueue_due, notify
from layers import open_store
from layers.accounts import HashParams, add_account
from layers.opaque_ids import load_id_key
from layers.store import Store
from layers.watch_areas import (
    WatchFilters,
    add_subscription,
    add_watch_area,
    unsubscribe_token,
    webhook_key,
)
from web import create_app

T0 = dt.datetime(2024, 6, 1, 6, 0)
AREA = box(107.36, 13.58, 107.48, 13.70)
PASSWORD = "correct-horse-battery-staple"


# --- local servers ------------------------------------------------------------------------------------


@dataclass
class Inbox:
    messages: list[email.message.EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 OK"

    def digest_ids(self) -> list[str]:
        return [str(m["X-Ecowatch-Digest-Id"]) for m in self.messages]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (the controller's own start-up check cannot use port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@dataclass
class Hooks:
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    redirect_to: str | None = None


@pytest.fixture
def webhook() -> Iterator[tuple[Hooks, int]]:
    hooks = Hooks()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/redirect" and hooks.redirect_to:
                self.send_response(307)
                self.send_header("Location", hooks.redirect_to)
                self.end_headers()
                return
            hooks.requests.append(({k: v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hooks, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


# --- the store ---------------------------------------------------------------------------------------


def _clearing(cid: str, geom: Any, **values: Any) -> dict[str, Any]:
    base = {"clearing_id": cid, "aoi": "demo", "area_ha": 4.0, "first_detected": dt.date(2024, 5, 1), "confidence": "high",
            "flags": ["protected_area"], "reasons": ["Inside O Yadav."], "risk": 80, "review_status": "new", "geometry": geom}
    return {**base, **values}


def write_clearings(store: Store, rows: list[dict[str, Any]]) -> None:
    store.upsert("clearings", gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326"))


def _small(x: float, y: float) -> Any:
    return box(x, y, x + 0.005, y + 0.005)


@pytest.fixture
def settings(tmp_path: Path, smtp: tuple[Inbox, int], webhook: tuple[Hooks, int]) -> Settings:
    return load_settings({}, data_dir=tmp_path / "data", smtp_host="127.0.0.1", smtp_port=smtp[1], smtp_security="none",
                         webhook_schemes=("http",), webhook_hosts=(f"127.0.0.1:{webhook[1]}",), public_url="http://ecowatch.test",
                         id_secret="notify-test-secret-0123456789abcdef", password_hash_time_cost=1, password_hash_memory_kib=1024,
                         password_hash_parallelism=1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = open_store(tmp_path / "n.gpkg")
    params = HashParams(1, 1024, 1)
    for name, role in (("pat", "planner"), ("nia", "ngo"), ("vic", "viewer")):
        add_account(st, name, role, PASSWORD, params=params, min_length=12, email=f"{name}@example.org")
    write_clearings(st, [
        _clearing("C-in-high", _small(107.40, 13.60), risk=90),
        _clearing("C-in-low-risk", _small(107.41, 13.61), risk=20),                              # below min risk
        _clearing("C-in-dismissed", _small(107.42, 13.62), review_status="dismissed"),          # dismissed
        _clearing("C-in-merged", _small(107.43, 13.63), merged_into="C-in-high"),               # merged away
        _clearing("C-out", _small(107.60, 13.80)),                                              # outside the area
        _clearing("C-edge", box(107.475, 13.65, 107.49, 13.66), risk=60, review_status="confirmed"),  # crosses the edge
        _clearing("C-timber", _small(107.44, 13.64), risk=70, flags=["outside_concessions"], reasons=["Outside every concession."]),
    ])
    st.upsert("seizures", gpd.GeoDataFrame([{"seizure_id": "S-1", "date": dt.date(2024, 5, 20), "commodity_group": "timber",
                                             "case_reference": "CASE-77", "agency": "Customs", "geometry": Point(107.45, 13.65)}],
                                           geometry="geometry", crs="EPSG:4326"))
    st.upsert("links", pd.DataFrame([{"clearing_id": "C-timber", "seizure_id": "S-1", "distance_km": 1.2, "lag_days": 19, "score": 0.9}]))
    st.upsert("links_generalised", pd.DataFrame([{"clearing_id": "C-timber", "seizures": 1, "seizures_timber": 1, "seizures_wildlife": 0}]))
    yield st
    st.close()


def _subscribe(store: Store, owner: str, *, frequency: str = "daily", email_on: bool = True, webhook_url: str = "",
               filters: WatchFilters | None = None) -> str:
    wid = add_watch_area(store, owner, f"{owner}'s forest", AREA, origin="drawn", now=T0)
    return add_subscription(store, owner, wid, filters or WatchFilters(min_risk=50), frequency=frequency, email=email_on,
                            webhook_url=webhook_url, now=T0)


def _by_digest(inbox: Inbox) -> dict[str, list[str]]:
    """For each e-mailed digest: the clearing ids in its text body."""
    out = {}
    for msg in inbox.messages:
        body = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        out[str(msg["X-Ecowatch-Digest-Id"])] = sorted(line.split(":")[0][2:] for line in body.splitlines() if line.startswith("- "))
    return out


# --- tests -------------------------------------------------------------------------------------------


def test_digest_holds_exactly_the_new_matching_clearings(store: Store, settings: Settings, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    _subscribe(store, "pat")
    result = notify(store, settings, now=T0)
    assert result.sent == 1 and result.digests == 1, result
    assert list(_by_digest(inbox).values()) == [["C-edge", "C-in-high", "C-timber"]]
    msg = inbox.messages[0]
    assert msg["To"] == "pat@example.org"
    assert msg["Message-ID"] == f"<{msg['X-Ecowatch-Digest-Id']}@ecowatch>"
    # the same run again, and the next day with nothing new: nothing sent
    assert notify(store, settings, now=T0).sent == 0
    assert notify(store, settings, now=T0 + dt.timedelta(days=1)).sent == 0
    assert len(inbox.messages) == 1
    # a new matching clearing, and one that does not match: the next digest holds the new one only
    write_clearings(store, [_clearing("C-new", _small(107.45, 13.66), risk=99), _clearing("C-new-low", _small(107.46, 13.66), risk=5)])
    assert notify(store, settings, now=T0 + dt.timedelta(days=1, hours=1)).sent == 0  # not due yet (daily, since the last run)
    assert notify(store, settings, now=T0 + dt.timedelta(days=2)).sent == 1
    assert list(_by_digest(inbox).values())[1] == ["C-new"]


def test_digest_follows_the_role(store: Store, settings: Settings, smtp: tuple[Inbox, int], webhook: tuple[Hooks, int]) -> None:
    hooks, port = webhook
    url = f"http://127.0.0.1:{port}/hook"
    for owner in ("pat", "nia", "vic"):
        _subscribe(store, owner, email_on=False, webhook_url=url, filters=WatchFilters())
    notify(store, settings, now=T0)
    payloads = {json.loads(body)["role"]: json.loads(body) for _, body in hooks.requests}
    assert set(payloads) == {"planner", "ngo", "viewer"}
    ids = {role: sorted(c["clearing_id"] for c in p["clearings"]) for role, p in payloads.items()}
    assert ids["planner"] == ids["ngo"] == ["C-edge", "C-in-high", "C-in-low-risk", "C-timber"]
    assert ids["viewer"] == ["C-edge"]  # confirmed only
    timber = {role: next(c for c in p["clearings"] if c["clearing_id"] == "C-timber") for role, p in payloads.items() if role != "viewer"}
    assert timber["planner"]["linked_seizures"] == {"seizures": 1, "timber": 1, "wildlife": 0}
    assert timber["ngo"]["linked_seizures"] == {"seizures": 1, "timber": 1, "wildlife": 0}
    for role, (_, body) in zip(payloads, hooks.requests, strict=True):
        text = body.decode()
        assert "CASE-77" not in text and "Customs" not in text and "S-1" not in text, role
    assert "report_url" not in json.dumps(payloads["viewer"]) and "linked_seizures" not in json.dumps(payloads["viewer"])


def test_commodity_filter(store: Store, settings: Settings, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    _subscribe(store, "nia", filters=WatchFilters(commodity=("timber",)))
    notify(store, settings, now=T0)
    assert list(_by_digest(inbox).values()) == [["C-timber"]]


def test_crash_after_half_then_rerun_delivers_every_digest(store: Store, settings: Settings, smtp: tuple[Inbox, int],
                                                             webhook: tuple[Hooks, int]) -> None:
    inbox, _ = smtp
    hooks, port = webhook
    for i in range(3):
        _subscribe(store, "pat", webhook_url=f"http://127.0.0.1:{port}/hook{i}")  # e-mail and webhook: 6 deliveries
    _subscribe(store, "nia")
    made = enqueue_due(store, settings, now=T0)
    assert made.digests == 4
    outbox = store.read("outbox")
    assert len(outbox) == 7, outbox[["digest_id", "channel", "subscription_id"]].to_string()

    class Crash(BaseException):
        """Stands for the process dying (not an error the job could catch)."""

    sends = 0

    def crash_at_half(digest_id: str, channel: str) -> None:
        nonlocal sends
        sends += 1
        if sends == 4:  # accepted by the server, not yet marked sent
            raise Crash

    with pytest.raises(Crash):
        deliver_pending(store, settings, now=T0, after_send=crash_at_half)
    assert int((store.read("outbox")["status"] == "sent").sum()) == 3
    second = notify(store, settings, now=T0)
    assert second.sent == 4 and second.digests == 0
    delivered = inbox.digest_ids() + [h["X-Ecowatch-Digest-Id"] for h, _ in hooks.requests]
    expected = outbox[["digest_id", "channel"]]
    per_channel = {"email": inbox.digest_ids(), "webhook": [h["X-Ecowatch-Digest-Id"] for h, _ in hooks.requests]}
    for digest_id, channel in expected.itertuples(index=False):
        assert 1 <= per_channel[channel].count(digest_id) <= 2, (digest_id, channel)
    assert sum(per_channel[c].count(d) == 2 for d, c in expected.itertuples(index=False)) == 1  # only the in-flight one twice
    assert len(delivered) == 8
    assert (store.read("outbox")["status"] == "sent").all()
    assert notify(store, settings, now=T0).sent == 0


def test_webhook_signature_verifies_with_the_subscription_key(store: Store, settings: Settings, webhook: tuple[Hooks, int]) -> None:
    hooks, port = webhook
    sid = _subscribe(store, "pat", email_on=False, webhook_url=f"http://127.0.0.1:{port}/hook")
    notify(store, settings, now=T0)
    assert len(hooks.requests) == 1
    headers, body = hooks.requests[0]
    key = webhook_key(load_id_key(settings), sid, 1)
    assert verify_signature(key, headers, body)
    assert not verify_signature(key, headers, body + b" ")
    assert not verify_signature(webhook_key(load_id_key(settings), sid, 2), headers, body)
    assert not verify_signature(key, headers, body, now=int(headers["X-Ecowatch-Timestamp"]) + 3600)


def test_webhook_redirects_follow_the_allow_list(store: Store, settings: Settings, webhook: tuple[Hooks, int]) -> None:
    hooks, port = webhook
    _subscribe(store, "pat", email_on=False, webhook_url=f"http://127.0.0.1:{port}/redirect")
    hooks.redirect_to = "http://169.254.169.254/latest/meta-data"
    first = notify(store, settings, now=T0)
    assert first.sent == 0 and first.pending == 1 and "refused" in first.errors[0] and hooks.requests == []
    hooks.redirect_to = f"http://127.0.0.1:{port}/final"
    assert deliver_pending(store, settings, now=T0).sent == 1
    assert len(hooks.requests) == 1


def test_failing_delivery_gives_up_after_the_attempts(store: Store, settings: Settings) -> None:
    broken = settings.model_copy(update={"smtp_port": 1, "notify_max_attempts": 2})
    _subscribe(store, "pat")
    assert notify(store, broken, now=T0).pending == 1
    again = deliver_pending(store, broken, now=T0)
    assert again.failed == 1
    row = store.read("outbox").iloc[0]
    assert row["status"] == "failed" and row["attempts"] == 2 and "SMTP" in row["last_error"]


def test_one_click_unsubscribe(store: Store, settings: Settings, smtp: tuple[Inbox, int], tmp_path: Path) -> None:
    inbox, _ = smtp
    sid = _subscribe(store, "pat")
    notify(store, settings, now=T0)
    msg = inbox.messages[0]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(msg["List-Unsubscribe"]).strip("<>")
    token = unsubscribe_token(load_id_key(settings), sid)
    assert link == f"http://ecowatch.test/watch/unsubscribe/{sid}/{token}"
    path = link.removeprefix("http://ecowatch.test")
    app = create_app(settings, store_url=store.url)
    try:
        client = app.test_client()
        page = client.get(path)
        assert page.status_code == 200 and b"Unsubscribe" in page.data
        assert store.read("subscriptions")["unsubscribed"].isna().all()  # a GET changes nothing
        assert client.post(path.replace(token, "0" * 40), data={"List-Unsubscribe": "One-Click"}).status_code == 404
        assert store.read("subscriptions")["unsubscribed"].isna().all()
        done = client.post(path, data={"List-Unsubscribe": "One-Click"})  # as a mail client: no session, no CSRF token
        assert done.status_code == 200
        assert store.read("subscriptions")["unsubscribed"].notna().all()
    finally:
        app.extensions["ecowatch"].close()
    write_clearings(store, [_clearing("C-after", _small(107.45, 13.66), risk=99)])
    assert notify(store, settings, now=T0 + dt.timedelta(days=2)).sent == 0
    assert len(inbox.messages) == 1


def test_after_run_subscriptions_wait_for_a_run(store: Store, settings: Settings, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    _subscribe(store, "pat", frequency="after_run")
    assert notify(store, settings, now=T0).sent == 0
    store.upsert("ingest_runs", pd.DataFrame([{"run_id": "r1", "command": "analyse", "started": T0, "finished": T0 + dt.timedelta(minutes=5),
                                               "status": "completed"}]))
    assert notify(store, settings, now=T0 + dt.timedelta(minutes=10)).sent == 1
    assert notify(store, settings, now=T0 + dt.timedelta(minutes=20)).sent == 0
    assert len(inbox.messages) == 1
