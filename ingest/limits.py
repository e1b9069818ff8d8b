"""Limits on what one input file may hold: size, nesting depth, vertices, field length.

Each limit is a setting (``ingest_max_*``); every message that refuses a file names the setting
to raise. Nesting depth is measured without recursion (a 20 000-deep JSON array must not crash
the reader that tries to parse it), first with a vectorised scan and, only when the limit is
passed, with a token scan that finds where the deep part is (feature and field).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from config import Settings
from ingest.errors import LimitError

logger = logging.getLogger(__name__)

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}:,]', re.DOTALL)


@dataclass(frozen=True)
class Limits:
    """The configured limits, in the units the checks use."""

    max_file_bytes: int = 500_000_000
    max_vertices: int = 50_000
    max_depth: int = 64
    max_field_chars: int = 10_000

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_file_bytes=int(settings.ingest_max_file_mb * 1_000_000),
            max_vertices=settings.ingest_max_vertices,
            max_depth=settings.ingest_max_json_depth,
            max_field_chars=settings.ingest_max_field_chars,
        )


def check_file_size(path: Path, limits: Limits, size: int | None = None, name: str | None = None) -> None:
    """``LimitError`` when ``path`` (or ``size`` bytes, e.g. an unpacked archive) passes the size limit;
    ``name`` is how the message names the file (default: ``path``)."""
    size = Path(path).stat().st_size if size is None else size
    if size > limits.max_file_bytes:
        raise LimitError(
            name or str(path),
            f"{size / 1e6:,.1f} MB, more than the limit of {limits.max_file_bytes / 1e6:,.1f} MB "
            "(setting ingest_max_file_mb); split the file or raise the setting",
        )


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def json_max_depth(data: bytes) -> int:
    """Deepest nesting of arrays and objects in JSON text ``data`` (strings ignored); no recursion."""
    if not data:
        return 0
    stripped = _JSON_STRING.sub(b'""', data)
    arr = np.frombuffer(stripped, dtype=np.uint8)
    opens = (arr == ord("[")) | (arr == ord("{"))
    closes = (arr == ord("]")) | (arr == ord("}"))
    depth = np.cumsum(opens.astype(np.int32) - closes.astype(np.int32))
    return int(depth.max()) if len(depth) else 0


def json_deep_path(data: bytes, limit: int) -> tuple[list[str | int], int]:
    """The path (keys and indexes) to the first place where nesting passes ``limit``, and its byte offset."""
    stack: list[list[str | int | None]] = []  # per container: [kind, current key or index]
    last_string: str | None = None
    for m in _JSON_TOKEN.finditer(data):
        tok = m.group()
        if tok[:1] == b'"':
            last_string = tok[1:-1].decode("utf-8", "replace")
            continue
        if tok == b":" and stack and stack[-1][0] == "{":
            stack[-1][1] = last_string
        elif tok == b"," and stack and stack[-1][0] == "[":
            idx = stack[-1][1]
            stack[-1][1] = (idx if isinstance(idx, int) else 0) + 1
        elif tok in (b"[", b"{"):
            stack.append([tok.decode(), 0 if tok == b"[" else None])
            if len(stack) > limit:
                return [p[1] for p in stack[:-1] if p[1] is not None], m.start()
        elif tok in (b"]", b"}") and stack:
            stack.pop()
    return [], -1


def check_json_depth(path: Path, data: bytes, limits: Limits) -> None:
    """``LimitError`` naming the feature and field (when there is one) of too deep JSON nesting."""
    depth = json_max_depth(data)
    if depth <= limits.max_depth:
        return
    where, offset = json_deep_path(data, limits.max_depth)
    place = f"line {_line_of(data, offset)}" if offset >= 0 else "somewhere"
    if len(where) >= 2 and where[0] == "features" and isinstance(where[1], int):
        place = f"feature {where[1]}"
        if len(where) >= 4 and where[2] == "properties":
            place += f", field '{where[3]}'"
        elif len(where) >= 3:
            place += f", field '{where[2]}'"
    raise LimitError(
        str(path),
        f"{place}: JSON nested {depth:,} levels deep, more than the limit of {limits.max_depth} "
        "(setting ingest_max_json_depth); nothing was read from this file",
    )


def check_xml_depth(path: Path, data: bytes, limits: Limits) -> None:
    """``LimitError`` when XML elements (e.g. KML folders) nest deeper than the depth limit."""
    arr = np.frombuffer(data, dtype=np.uint8)
    if len(arr) < 2:
        return
    lt, nxt = arr[:-1] == ord("<"), arr[1:]
    opens = lt & (nxt != ord("/")) & (nxt != ord("?")) & (nxt != ord("!"))
    closes = (lt & (nxt == ord("/"))) | ((arr[:-1] == ord("/")) & (nxt == ord(">")))
    depth = np.cumsum(opens.astype(np.int32) - closes.astype(np.int32))
    if len(depth) and depth.max() > limits.max_depth:
        offset = int(np.argmax(depth > limits.max_depth))
        raise LimitError(
            str(path),
            f"line {_line_of(data, offset)}: XML elements nested {int(depth.max()):,} levels deep, more than the limit of "
            f"{limits.max_depth} (setting ingest_max_json_depth); nothing was read from this file",
        )
