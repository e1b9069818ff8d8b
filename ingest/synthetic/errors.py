"""Errors of the synthetic generators."""

from __future__ import annotations

from ingest.errors import IngestError


class SyntheticError(IngestError, ValueError):
    """A synthetic series cannot be generated as asked (e.g. a zone has no room for its clearings)."""
