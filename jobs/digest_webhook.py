"""A digest delivered to a webhook: a JSON POST signed with the subscription's key (HMAC-SHA256).

Headers: ``X-Ecowatch-Digest-Id`` (the stable digest id: a receiver drops a digest it already has),
``X-Ecowatch-Timestamp`` (Unix seconds) and ``X-Ecowatch-Signature: sha256=HEX`` where HEX is
``HMAC-SHA256(key, TIMESTAMP + "." + BODY)`` and the key is the hex string shown once when the
subscription was made (its UTF-8 bytes). :func:`verify_signature` is the receiver's check.

Webhook URLs pass the same allow-list as imagery URLs (:func:`ingest.imagery.urls.check_url`,
with the settings ``webhook_schemes`` and ``webhook_hosts``), both when saved and at each
delivery. Redirects are followed as for imagery reads — each target checked before anything is
sent to it, at most :data:`MAX_REDIRECTS` — and only when they keep the method and body
(307, 308); any other redirect fails the delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any
from urllib.parse import urljoin

import requests

from config import Settings
from ingest.imagery.errors import URLNotAllowedError
from ingest.imagery.remote import _parsers_agree
from ingest.imagery.urls import check_url
from jobs.digest_mail import DIGEST_HEADER, DeliveryError
from layers.errors import WatchError

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 3
SIGNATURE_HEADER = "X-Ecowatch-Signature"
TIMESTAMP_HEADER = "X-Ecowatch-Timestamp"


def check_webhook_url(settings: Settings, url: str) -> str:
    """``url`` when the webhook allow-list admits it.

    Raises
    ------
    WatchError
        For the field ``webhook_url``, saying why (the hint names ``ECOWATCH_WEBHOOK_HOSTS``).
    """
    try:
        check_url(url, schemes=settings.webhook_schemes, hosts=settings.webhook_hosts)
    except URLNotAllowedError as err:
        raise WatchError("webhook_url", err.detail.replace("ECOWATCH_STAC_ASSET_HOSTS", "ECOWATCH_WEBHOOK_HOSTS")) from err
    if not _parsers_agree(url):
        raise WatchError("webhook_url", "URL parsers disagree on its scheme, host or port")
    return url


def signature(key: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(key: str, headers: Any, body: bytes, *, max_age_s: float = 300.0, now: float | None = None) -> bool:
    """The receiver's check: the signature matches and the timestamp is recent."""
    stamp = str(headers.get(TIMESTAMP_HEADER, ""))
    given = str(headers.get(SIGNATURE_HEADER, ""))
    if not stamp.isdigit() or abs((now or time.time()) - int(stamp)) > max_age_s:
        return False
    return hmac.compare_digest(signature(key, stamp, body), given)


def post_digest(settings: Settings, url: str, key: str, payload: dict[str, Any], *, session: requests.Session | None = None) -> str:
    """POST the digest; returns a note of the answer.

    Raises
    ------
    DeliveryError
        A refused URL or redirect target, a connection error, too many redirects, or an answer other than 2xx.
    """
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    stamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", DIGEST_HEADER: payload["digest_id"], TIMESTAMP_HEADER: stamp,
               SIGNATURE_HEADER: signature(key, stamp, body), "User-Agent": "ecowatch-notify"}
    http = session or requests.Session()
    target = url
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                check_webhook_url(settings, target)
            except WatchError as err:
                raise DeliveryError(f"webhook {url}: {'redirect to ' + target + ' ' if target != url else ''}refused: {err.message}") from err
            try:
                response = http.post(target, data=body, headers=headers, timeout=settings.webhook_timeout_s, allow_redirects=False)
            except requests.RequestException as err:
                raise DeliveryError(f"webhook {target}: {str(err)[:300]}") from err
            with response:
                if response.status_code in (307, 308) and "Location" in response.headers:
                    target = urljoin(target, response.headers["Location"])
                    continue
                if response.is_redirect:
                    raise DeliveryError(f"webhook {target}: HTTP {response.status_code} redirect would drop the POST; only 307/308 are followed")
                if not 200 <= response.status_code < 300:
                    raise DeliveryError(f"webhook {target}: HTTP {response.status_code} {response.reason}")
                return f"webhook {target}: HTTP {response.status_code}"
        raise DeliveryError(f"webhook {url}: more than {MAX_REDIRECTS} redirects")
    finally:
        if session is None:
            http.close()
