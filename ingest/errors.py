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
    """One record (row or feature) is bad; it is rejected and the run goes on.

    ``unit`` says what ``row`` counts: ``"row"`` (a line of a CSV file, a row of a sheet) or
    ``"feature"`` (a feature of a vector file).
    """

    def __init__(self, source: str, row: int | str, field: str, value: object, reason: str, *, unit: str = "row") -> None:
        self.source = source
        self.row = row
        self.field = field
        self.value = value
        self.reason = reason
        self.unit = unit
        where = f"{source} {unit} {row}" + (f", field '{field}'" if field else "")
        shown = "" if value is None or value == "" else f" = {str(value)[:80]!r}"
        super().__init__(f"{where}{shown}: {reason}")


class LimitError(SourceError):
    """A file passes one of the configured limits (size, nesting depth); the message names the setting."""


class ArchiveError(SourceError):
    """An archive (zip, KMZ) holds something ecowatch refuses to unpack: absolute or ``..`` paths,
    links, nested archives, or more than the size limit."""


class TextEncodingError(SourceError):
    """A file's text is not UTF-8 and no encoding is declared (``.cpg``, XML declaration, mapping)."""


class TooManyRejectsError(IngestError):
    """The share of rejected records passed ``rejects_max_share``; the run failed as a whole."""


class AOIError(IngestError, LookupError):
    """An AOI name that the store does not hold."""
