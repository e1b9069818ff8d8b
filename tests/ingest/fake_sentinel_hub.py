"""A fake Sentinel Hub deployment for the real ``sentinelhub`` client: OAuth token, Catalog, Process API.

Served over HTTPS (a test CA) on 127.0.0.1. The Process API renders each request's bbox and size
from the reference scenes (:mod:`tests.ingest.reference_scenes`), so a tiled request can be
compared with a single one pixel for pixel. Failures are scripted per endpoint (``fail``: HTTP
statuses to answer before serving normally); tokens expire by the server's :class:`Clock`, and a
request with an unknown or expired token gets 401 — so a client that does not refresh fails.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tifffile
from werkzeug.wrappers import Request, Response

from tests.ingest.fake_servers import Hits
from tests.ingest.reference_scenes import RES, TRANSFORM, Reference

CLIENT_ID = "test-client"
CLIENT_SECRET = "s3cret-never-logged"


@dataclass
class Clock:
    """Wall-clock time plus an offset the test (or the server) can advance."""

    offset: float = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def monotonic(self) -> float:
        return time.monotonic()


def _jwt(payload: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}.{secrets.token_hex(8)}"


@dataclass
class FakeSentinelHub:
    """The fake deployment's state; call it as a WSGI app."""

    reference: Reference
    clock: Clock = field(default_factory=Clock)
    token_ttl: float = 3600.0
    advance_after_catalog: float = 0.0  # seconds the clock jumps after each catalogue search
    retry_after_ms: int = 20
    hits: Hits = field(default_factory=Hits)
    fail: dict[str, deque[int]] = field(default_factory=lambda: {"token": deque(), "catalog": deque(), "process": deque()})
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (server clock)
    process_log: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self.route(request)(environ, start_response)

    def route(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path.endswith("/oauth/token"):
            return self._scripted("token") or self.token(request)
        if path == "/api/v1/catalog/1.0.0/search":
            return self._authorised(request) or self._scripted("catalog") or self.catalog(request)
        if path == "/api/v1/process":
            return self._authorised(request) or self._scripted("process") or self.process(request)
        return error_response(404, f"no route {request.path}")

    def _scripted(self, endpoint: str) -> Response | None:
        with self.lock:
            self.hits.add(endpoint)
            status = self.fail[endpoint].popleft() if self.fail[endpoint] else None
        if status is None:
            return None
        headers = {"Retry-After": str(self.retry_after_ms)} if status == 429 else {}
        return error_response(status, f"scripted {status}", headers)

    def _authorised(self, request: Request) -> Response | None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        expiry = self.tokens.get(token)
        if expiry is None or expiry <= self.clock.time():
            self.hits.add("unauthorised")
            return error_response(401, "token expired or unknown")
        return None

    def token(self, request: Request) -> Response:
        form = request.form
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            refused = {"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"}
            return Response(json.dumps(refused), status=401, mimetype="application/json")
        now = self.clock.time()
        token = _jwt({"azp": CLIENT_ID, "exp": int(now + self.token_ttl), "jti": secrets.token_hex(4)})
        self.tokens[token] = now + self.token_ttl
        issued = {"access_token": token, "token_type": "Bearer", "expires_in": int(self.token_ttl)}
        return Response(json.dumps(issued), mimetype="application/json")

    def catalog(self, request: Request) -> Response:
        body = request.get_json()
        start, end = (dt.datetime.fromisoformat(v.replace("Z", "+00:00")).date() for v in body["datetime"].split("/"))
        match = re.search(r"eo:cloud_cover\s*<=\s*([\d.]+)", body.get("filter") or "")
        limit = float(match.group(1)) if match else 100.0
        features = []
        for day in self.reference.dates:
            cover = self.reference.cloud_cover(day)
            if start <= day <= end and cover <= limit:
                features.append({
                    "type": "Feature", "id": f"S2X_MSIL2A_{day:%Y%m%d}T033000_N0510_R018_T48PXB",
                    "properties": {"datetime": f"{day.isoformat()}T03:30:00Z", "eo:cloud_cover": round(cover, 2)},
                })
        self.clock.offset += self.advance_after_catalog
        payload = {"type": "FeatureCollection", "features": features, "context": {"limit": body.get("limit"), "returned": len(features)}}
        return Response(json.dumps(payload), mimetype="application/geo+json")

    def process(self, request: Request) -> Response:
        body = request.get_json()
        data = body["input"]["data"][0]
        if data.get("processing", {}).get("harmonizeValues") is not True or data["type"] != "sentinel-2-l2a":
            return error_response(400, "expected sentinel-2-l2a with harmonizeValues")
        script = body["evalscript"]
        if not all(word in script for word in ("UINT16", "dataMask", "SCL", "B8A", '"DN"')):
            return error_response(400, "evalscript does not ask for UINT16 DN bands, SCL and dataMask")
        day = dt.datetime.fromisoformat(data["dataFilter"]["timeRange"]["from"].replace("Z", "+00:00")).date()
        west, south, east, north = body["input"]["bounds"]["bbox"]
        if not body["input"]["bounds"]["properties"]["crs"].endswith("/32648"):
            return error_response(400, "expected EPSG:32648")
        width, height = body["output"]["width"], body["output"]["height"]
        if max(width, height) > 2500:
            return error_response(400, "larger than 2500 px")
        col, row = (west - TRANSFORM.c) / RES, (TRANSFORM.f - north) / RES
        if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6 or abs((east - west) / RES - width) > 1e-6:
            return error_response(400, f"bbox {west, south, east, north} is not on the 10 m grid at {width} x {height} px")
        out = np.zeros((height, width, 9), dtype=np.uint16)
        scene = self.reference.scenes.get(day)
        if scene is not None:
            c0, r0 = round(col), round(row)
            rs = slice(max(r0, 0), min(r0 + height, scene.shape[1]))
            cs = slice(max(c0, 0), min(c0 + width, scene.shape[2]))
            block = scene[:, rs, cs]
            target = (slice(rs.start - r0, rs.stop - r0), slice(cs.start - c0, cs.stop - c0))
            out[target[0], target[1], :8] = np.moveaxis(block, 0, -1)
            out[target[0], target[1], 8] = 1
        with self.lock:
            self.process_log.append({"day": day, "bbox": (west, south, east, north), "size": (width, height),
                                     "token": request.headers.get("Authorization", "")[7:]})
        buffer = io.BytesIO()
        tifffile.imwrite(buffer, out)
        return Response(buffer.getvalue(), mimetype="image/tiff")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"status": status, "reason": "scripted", "message": message}}
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)
