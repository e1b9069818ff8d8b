"""Run bookkeeping: counts, the rejects file and the ``ingest_runs`` row of every job.

A job runs inside :func:`recorded_run`; its writes go inside ``store.transaction()``. Its row is
written ``running`` (with the process id and host) before the job starts, and ends ``completed``
or ``failed`` (with the error, e.g. a full disk). A run whose process is gone while its row still
says ``running`` (killed, or its machine stopped) is marked ``interrupted`` by the next run on the
same host. Rejects files go to ``<data_dir>/rejects/``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import os
import secrets
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from config import EcowatchError
from ingest.errors import IngestError, RecordError, TooManyRejectsError
from layers.files import atomic_path
from layers.store import Store
from layers.text_safety import spreadsheet_cell

logger = logging.getLogger(__name__)

REJECT_COLUMNS = ("source", "row", "field", "value", "reason", "record")
MAX_VALUE_CHARS = 1_000


def _cut(value: Any) -> Any:
    """A rejected value as the rejects file shows it: cut at 1 000 characters (the ``record`` column keeps it whole)."""
    if value is None or isinstance(value, int | float):
        return value
    text = str(value)
    return text[:MAX_VALUE_CHARS] + f"… ({len(text):,} characters)" if len(text) > MAX_VALUE_CHARS else text


def _record_json(record: Mapping[str, Any]) -> str:
    """The whole record as JSON with every non-ASCII character escaped: exact, and inert in a spreadsheet."""
    return json.dumps(dict(record), ensure_ascii=True, default=str)


@dataclass
class Run:
    """Counts and rejects of one job run."""

    command: str
    store: Store
    rejects_dir: Path
    run_id: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3))
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    read: int = 0
    written: int = 0
    rejected: int = 0
    repaired: int = 0
    message: str = ""
    rejects: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, err: RecordError, record: dict[str, Any] | None = None) -> None:
        """Keep a bad record, unchanged, with where and why."""
        self.rejected += 1
        logger.warning("rejected: %s", err)
        self.rejects.append(
            {
                "source": err.source, "row": err.row, "field": err.field,
                "value": _cut(err.value), "reason": err.reason,
                "record": _record_json(record or {}),
            }
        )

    def check_rejects(self, max_share: float) -> None:
        """Fail the run when more than ``max_share`` of the records read were rejected."""
        if self.read and self.rejected / self.read > max_share:
            raise TooManyRejectsError(
                f"{self.rejected} of {self.read} records rejected (more than {max_share:.0%}); nothing was written. "
                f"See {self.rejects_path}"
            )

    @property
    def rejects_path(self) -> Path:
        return self.rejects_dir / f"{self.run_id}_{self.command.split()[0]}-rejects.csv"

    def _write_rejects(self) -> str:
        if not self.rejects:
            return ""
        # whole rejected rows, sensitive fields included: for the owner only (0600), and every cell
        # spreadsheet-safe (layers.text_safety), since a rejects file is made to be opened in one
        try:
            with atomic_path(self.rejects_path, mode=0o600) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(REJECT_COLUMNS)
                for reject in sorted(self.rejects, key=_row_order):
                    writer.writerow([spreadsheet_cell(reject[c]) for c in REJECT_COLUMNS])
        except OSError as err:
            raise IngestError(f"cannot write the rejects file {self.rejects_path}: {err}") from err
        return str(self.rejects_path)

    def summary(self) -> str:
        text = f"read {self.read}, written {self.written}, rejected {self.rejected}, repaired {self.repaired}"
        if self.rejects:
            text += f" (rejects: {self.rejects_path})"
        return text

    def _record(self, status: str, message: str, rejects_file: str = "") -> None:
        row = pd.DataFrame(
            [
                {
                    "run_id": self.run_id, "command": self.command, "started": self.started,
                    "finished": None if status == RUNNING else dt.datetime.now(dt.UTC), "status": status,
                    "n_read": self.read, "n_written": self.written, "n_rejected": self.rejected, "n_repaired": self.repaired,
                    "rejects_file": rejects_file, "message": message, "pid": os.getpid(), "host": socket.gethostname(),
                }
            ]
        )
        self.store.upsert("ingest_runs", row)


RUNNING, COMPLETED, FAILED, INTERRUPTED = "running", "completed", "failed", "interrupted"


def _row_order(reject: Mapping[str, Any]) -> tuple[bool, int, str]:
    """Rejects in the order of the file: numbered rows first, by number."""
    row = reject["row"]
    return (not isinstance(row, int), row if isinstance(row, int) else 0, str(row))


def rejects_dir_for(data_dir: Path) -> Path:
    """Rejects files live in the data folder (the ``data_dir`` setting), in ``rejects/``."""
    return Path(data_dir).resolve() / "rejects"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a zombie, killed and not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def mark_interrupted(store: Store) -> int:
    """Mark ``interrupted`` the runs of this host still ``running`` whose process is gone; returns how many."""
    host = socket.gethostname()
    running = store.read("ingest_runs", where={"status": RUNNING, "host": host}, columns=["run_id", "pid", "message"])
    gone = running[[not pd.isna(pid) and not process_alive(int(pid)) for pid in running["pid"]]]
    if gone.empty:
        return 0
    now = dt.datetime.now(dt.UTC)
    marked = pd.DataFrame(
        {
            "run_id": gone["run_id"].tolist(),
            "status": INTERRUPTED,
            "finished": now,
            "message": [f"interrupted: process {int(pid)} on {host} ended without finishing (killed, or its machine stopped); "
                        "nothing it wrote was kept" for pid in gone["pid"]],
        }
    )
    store.upsert("ingest_runs", marked)
    for run_id in marked["run_id"]:
        logger.warning("run %s was interrupted: its process is gone", run_id)
    return len(marked)


@contextmanager
def recorded_run(store: Store, command: str, *, data_dir: Path) -> Iterator[Run]:
    """Run a job and record it in ``ingest_runs``: ``running`` at once, then ``completed`` or ``failed``.

    Runs of this host left ``running`` by a process that is gone are marked ``interrupted`` first.
    When the job fails and even its ``failed`` row cannot be written (the disk is still full), the
    job's own error is raised and the row stays ``running`` until the next run marks it.
    """
    mark_interrupted(store)
    run = Run(command=command, store=store, rejects_dir=rejects_dir_for(data_dir))
    run._record(RUNNING, "")
    logger.info("run %s: %s", run.run_id, command)
    try:
        yield run
    except BaseException as err:
        run.written = 0
        try:
            rejects = run._write_rejects()
        except IngestError as also:
            logger.error("run %s: %s", run.run_id, also)
            rejects = ""
        try:
            run._record(FAILED, f"{type(err).__name__}: {err}", rejects)
        except EcowatchError as also:
            logger.error("run %s: could not record its failure: %s", run.run_id, also)
        raise
    run._record(COMPLETED, run.message or run.summary(), run._write_rejects())
    logger.info("run %s completed: %s", run.run_id, run.summary())
