"""Errors of the readers and jobs, shaped like the data: source -> record -> field."""

from __future__ import annotations

from config.errors import EcowatchError


class IngestError(EcowatchError):
    """A job could not run; the store is left as it was."""


class SourceError(IngestError, OSError):
    """A source (file, folder, service) cannot be opened or read as a whole."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


class RecordError(IngestError, ValueError):
    """One record (row or feature) is bad; it is rejected and the run goes on."""

    def __init__(self, source: str, row: int | str, field: str, value: object, reason: str) -> None:
        self.source = source
        self.row = row
        self.field = field
        self.value = value
        self.reason = reason
        where = f"{source} row {row}" + (f", field '{field}'" if field else "")
        shown = "" if value is None or value == "" else f" = {str(value)[:80]!r}"
        super().__init__(f"{where}{shown}: {reason}")


class TooManyRejectsError(IngestError):
    """The share of rejected records passed ``rejects_max_share``; the run failed as a whole."""


class AOIError(IngestError, LookupError):
    """An AOI name that the store does not hold."""
