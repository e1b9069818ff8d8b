"""The one way ecowatch writes a file: into a temporary part beside it, renamed over it on success.

A reader never sees half a file, a failed write leaves the old file (or none), and the parts
that a killed process left behind are recognised by the process id in their name.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)


def part_path(path: Path, what: str = "") -> Path:
    """A fresh temporary name beside ``path``: ``.<name>.<pid>-<random>[.<what>].part``."""
    suffix = f".{what}" if what else ""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{suffix}.part")


@contextmanager
def atomic_path(path: Path, *, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; on success it replaces ``path``.

    The folder is created. On an error the part is removed and ``path`` is left as it was.
    ``mode`` (e.g. ``0o600`` for files holding sensitive rows) is set on the part before anything
    is written to it, whatever the umask.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = part_path(path)
    if mode is not None:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
        os.chmod(tmp, mode)  # the umask may have narrowed it further
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_parts(path: Path) -> int:
    """Remove the parts beside ``path`` left by processes that no longer run; returns how many."""
    removed = 0
    for part in path.parent.glob(f".{path.name}.*.part"):
        pid_text = part.name[len(path.name) + 2 :].split("-", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_alive(int(pid_text)):
            part.unlink(missing_ok=True)
            removed += 1
            logger.info("removed %s, left by an interrupted run", part.name)
    return removed
