"""Errors of the synthetic generators."""

from __future__ import annotations

from config.errors import EcowatchError


class SyntheticError(EcowatchError, ValueError):
    """A synthetic series cannot be generated as asked (e.g. a zone has no room for its clearings)."""
