"""A Dask worker plugin that kills its worker process at a chosen task: a worker lost mid-job,
deterministically (no sleeps, no signals from outside).

Registered on every worker of a cluster, the first worker to *start executing* its ``n``-th task
of the function ``prefix`` claims ``marker`` (an exclusive create, so only one worker in the whole
cluster ever does) and ends its process at once with ``os._exit``: no clean-up, no goodbye to the
scheduler, as when a machine is switched off. The nanny starts a fresh worker; the plugin, which
the scheduler gives to new workers too, finds the marker taken and lets it live.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin


class ExitAtTask(WorkerPlugin):
    """Exit the worker process when it starts its ``n``-th task whose key starts with ``prefix``."""

    name = "ecowatch-exit-at-task"

    def __init__(self, n: int, prefix: str, marker: Path) -> None:
        self.n, self.prefix, self.marker = n, prefix, str(marker)
        self.started = 0

    def setup(self, worker: Any) -> None:
        self.started = 0

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        name = key[0] if isinstance(key, tuple) else key
        if finish != "executing" or not str(name).startswith(self.prefix):
            return
        self.started += 1
        if self.started != self.n:
            return
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:  # another worker (or this one before a restart) died already
            return
        os.write(fd, f"{os.getpid()} {name}\n".encode())
        os.close(fd)
        os._exit(17)
