"""Run bookkeeping: counts, the rejects file and the ``ingest_runs`` row of every job.

A job runs inside :func:`recorded_run`; its writes go inside ``store.transaction()``. When the
job raises, the transaction is rolled back and a ``failed`` row is still recorded.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from ingest.errors import RecordError, TooManyRejectsError
from ingest.text import FORMULA
from layers.store import Store

logger = logging.getLogger(__name__)

REJECT_COLUMNS = ("source", "row", "field", "value", "reason", "record")
MAX_VALUE_CHARS = 1_000


def _cell(value: Any) -> str:
    """A rejected value as the rejects file shows it: cut at 1 000 characters, and a value that a
    spreadsheet would run as a formula prefixed with ``'`` (the ``record`` column keeps it as it was)."""
    if value is None:
        return ""
    text = str(value)
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS] + f"… ({len(text):,} characters)"
    return "'" + text if FORMULA.match(text) else text



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
                "value": _cell(err.value), "reason": err.reason,
                "record": orjson.dumps(record or {}, default=str).decode(),
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
        self.rejects_dir.mkdir(parents=True, exist_ok=True)
        with self.rejects_path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=REJECT_COLUMNS)
            writer.writeheader()
            writer.writerows(sorted(self.rejects, key=_row_order))
        return str(self.rejects_path)

    def summary(self) -> str:
        text = f"read {self.read}, written {self.written}, rejected {self.rejected}, repaired {self.repaired}"
        if self.rejects:
            text += f" (rejects: {self.rejects_path})"
        return text

    def _record(self, status: str, message: str) -> None:
        row = pd.DataFrame(
            [
                {
                    "run_id": self.run_id, "command": self.command, "started": self.started,
                    "finished": dt.datetime.now(dt.UTC), "status": status, "n_read": self.read,
                    "n_written": self.written, "n_rejected": self.rejected, "n_repaired": self.repaired,
                    "rejects_file": self._write_rejects(), "message": message,
                }
            ]
        )
        self.store.upsert("ingest_runs", row)


def _row_order(reject: Mapping[str, Any]) -> tuple[bool, int, str]:
    """Rejects in the order of the file: numbered rows first, by number."""
    row = reject["row"]
    return (not isinstance(row, int), row if isinstance(row, int) else 0, str(row))


def rejects_dir_for(store: Store) -> Path:
    """Rejects files live next to the store, in ``rejects/``."""
    return Path(store.url).resolve().parent / "rejects"


@contextmanager
def recorded_run(store: Store, command: str) -> Iterator[Run]:
    """Run a job and record it in ``ingest_runs``, completed or failed."""
    run = Run(command=command, store=store, rejects_dir=rejects_dir_for(store))
    logger.info("run %s: %s", run.run_id, command)
    try:
        yield run
    except BaseException as err:
        run.written = 0
        run._record("failed", f"{type(err).__name__}: {err}")
        raise
    run._record("completed", run.message or run.summary())
    logger.info("run %s completed: %s", run.run_id, run.summary())
