"""How a long job reports progress: a callable the command line turns into a bar on a terminal.

A job calls ``progress(done, total, what)`` as work completes (``what`` names the last piece
done); without one it logs. The job decides what a unit is (an acquisition, a window, a stage).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]


def logged(job: str) -> Progress:
    """A :data:`Progress` that logs each step at INFO (what a job does when no bar was asked for)."""

    def report(done: int, total: int, what: str) -> None:
        logger.info("%s: %d of %d %s", job, done, total, what)

    return report


class Stages:
    """Progress over a job's named stages, in order: ``stages.done("matching")``."""

    def __init__(self, progress: Progress | None, job: str, names: Sequence[str]) -> None:
        self._progress = progress or logged(job)
        self._names = list(names)

    def done(self, name: str) -> None:
        """Stage ``name`` (one of the names given) is done."""
        self._progress(self._names.index(name) + 1, len(self._names), name)
