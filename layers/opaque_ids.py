"""Opaque identifiers: a keyed HMAC of an internal id, for roles that see generalised seizures.

A seizure's id may be a case number. Roles that see generalised seizures get instead
``HMAC-SHA256(key, layer + id)`` (80 bits, hex), where the key is the ``id_secret`` setting (or
the key kept in ``<data_dir>/id_secret``): the same record has the same opaque id in every
export, so a partner can re-ingest idempotently, while without the key nothing about the
internal id — let alone a hidden field — can be confirmed by guessing.

The same key, for another purpose, makes the ids of seizure records that come without one
(:func:`content_id`): a keyed hash of their content, never a plain hash that a guess of a
hidden field could be checked against.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from config import Settings
from layers.errors import LayerError

logger = logging.getLogger(__name__)

KEY_FILE = "id_secret"
OPAQUE_HEX = 20  # 80 bits


def _purpose_key(key: bytes, purpose: str) -> bytes:
    """A key for one purpose, derived from the secret (so that one use cannot answer for another)."""
    return hmac.new(key, b"ecowatch id key\x1f" + purpose.encode(), hashlib.sha256).digest()


def load_id_key(settings: Settings, *, create: bool = True) -> bytes:
    """The secret behind opaque and content ids.

    The ``id_secret`` setting when set; else the key in ``<data_dir>/id_secret``, created (64 hex
    digits, mode 0600) when missing and ``create`` is true.

    Raises
    ------
    LayerError
        When there is no key and it may not or cannot be created (the message names the setting).
    """
    given = settings.id_secret.get_secret_value()
    if given:
        return given.encode("utf-8")
    path = Path(settings.data_dir) / KEY_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        if not create:
            raise LayerError(f"no id key: set ECOWATCH_ID_SECRET or create {path}") from None
        return _create_key(path)
    except (OSError, UnicodeDecodeError) as err:
        raise LayerError(f"{path}: cannot read the id key ({err}); set ECOWATCH_ID_SECRET instead") from err
    if len(text) < 32:
        raise LayerError(f"{path}: the id key is too short ({len(text)} characters, at least 32); set ECOWATCH_ID_SECRET or remove the file")
    return text.encode("ascii")


def _create_key(path: Path) -> bytes:
    text = secrets.token_hex(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip().encode("ascii")  # another process made it first
    except OSError as err:
        raise LayerError(f"{path}: cannot create the id key ({err}); set ECOWATCH_ID_SECRET instead") from err
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(text + "\n")
    logger.info("created the id key %s (keep it: a new key gives every record a new opaque id)", path)
    return text.encode("ascii")


def opaque_ids(key: bytes, layer: str, values: list[object]) -> list[str | None]:
    """Each value's opaque id in ``layer`` (``None`` stays ``None``)."""
    if not key:
        raise LayerError("opaque ids need the id key (setting id_secret)")
    k = _purpose_key(key, "opaque:" + layer)
    out: list[str | None] = []
    for v in values:
        if v is None or (isinstance(v, float) and v != v):
            out.append(None)
            continue
        out.append(hmac.digest(k, str(v).encode("utf-8"), "sha256").hex()[:OPAQUE_HEX])
    return out


def content_id(key: bytes, parts: list[str], prefix: str = "SZ-") -> str:
    """A record's id made from its content, keyed: ``prefix`` + 16 hex digits."""
    k = _purpose_key(key, "content")
    return prefix + hmac.new(k, "\x1f".join(parts).encode("utf-8"), hashlib.sha256).hexdigest()[:16]
