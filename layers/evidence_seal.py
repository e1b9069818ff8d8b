"""The seal of an evidence report: a SHA-256 over the canonical JSON of everything it states.

The canonical form is the report's data (:mod:`layers.evidence`) as JSON with keys sorted, no
insignificant whitespace, UTF-8, no floating-point NaN or infinity. The file stored beside a
report (``REPORT.json``) holds ``{"sha256": digest, "algorithm": ..., "report": data}``;
:func:`verify_file` recomputes the digest of ``report`` and compares it with the one recorded
there (and, when given, with the one a reader copied from the printed report).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layers.files import atomic_path

logger = logging.getLogger(__name__)

ALGORITHM = "SHA-256 over canonical JSON (keys sorted, separators ',' and ':', UTF-8)"


class SealError(ValueError):
    """A report file that cannot be read as a sealed report (the message names the file and why)."""


def canonical_bytes(data: Any) -> bytes:
    """``data`` as canonical JSON bytes (raises ``ValueError`` on NaN or infinity)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def digest(data: Any) -> str:
    """The report's SHA-256, hex."""
    return hashlib.sha256(canonical_bytes(data)).hexdigest()


def sealed(data: dict[str, Any]) -> dict[str, Any]:
    """The document stored beside a report."""
    return {"algorithm": ALGORITHM, "sha256": digest(data), "report": data}


def write_sealed(path: Path, data: dict[str, Any]) -> str:
    """Write the sealed JSON of ``data`` to ``path`` (atomically, owner-only: it may hold law-enforcement detail); return the digest."""
    doc = sealed(data)
    with atomic_path(path, mode=0o600) as tmp:
        tmp.write_text(json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    return str(doc["sha256"])


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify_file` found: whether the recorded digest matches the report's content."""

    ok: bool
    recorded: str
    computed: str
    message: str


def verify_file(path: Path, expected: str | None = None) -> Verdict:
    """Recompute the digest of the report in ``path`` and compare it with the recorded one (and ``expected``).

    Raises
    ------
    SealError
        When the file cannot be read, is not JSON, or lacks the ``report`` or ``sha256`` member.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise SealError(f"{path}: cannot read ({err.strerror or err})") from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SealError(f"{path}: not a JSON report file ({err})") from err
    if not isinstance(doc, dict) or "report" not in doc or not isinstance(doc.get("sha256"), str):
        raise SealError(f"{path}: not a sealed report (needs the members 'report' and 'sha256')")
    recorded = doc["sha256"].strip().lower()
    try:
        computed = digest(doc["report"])
    except ValueError as err:
        raise SealError(f"{path}: the report holds a value JSON cannot state canonically ({err})") from err
    if not hmac.compare_digest(recorded, computed):
        return Verdict(False, recorded, computed, f"{path}: content changed: recorded {recorded}, computed {computed}")
    if expected is not None and not hmac.compare_digest(expected.strip().lower(), computed):
        return Verdict(False, recorded, computed, f"{path}: digest {computed} is not the expected {expected.strip().lower()}")
    return Verdict(True, recorded, computed, f"{path}: verified, SHA-256 {computed}")
