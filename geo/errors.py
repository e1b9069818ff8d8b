"""Errors of the analyses."""

from config.errors import EcowatchError


class GeoError(EcowatchError):
    """An analysis cannot run on what it was given."""


class InputShapeError(GeoError, ValueError):
    """Arrays or frames of the wrong shape, dtype or CRS for an analysis."""
