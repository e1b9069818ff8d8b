"""Errors of the store and the layer catalogue."""


from config.errors import EcowatchError


class StoreError(EcowatchError, OSError):
    """The store cannot be opened, read or written; the message names the store and the layer."""


class SchemaError(StoreError):
    """The store's schema does not match the layer catalogue (an older or foreign file)."""


class StoreFullError(StoreError):
    """The disk (or the quota) holding the store is full; the write was undone."""


class StoreBusyError(StoreError):
    """Another process held the store's write lock for longer than the wait allowed."""


class StoreReadOnlyError(StoreError):
    """A write to a store opened read-only, or on a read-only file or file system."""


class LayerError(EcowatchError, KeyError):
    """A layer or field name that the catalogue does not declare."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it as written
        return str(self.args[0]) if self.args else ""


class BBoxError(EcowatchError, ValueError):
    """A bounding box that is not four finite lon/lat numbers with west < east and south < north."""


class FilterError(EcowatchError, ValueError):
    """A filter parameter that cannot be read; ``parameter`` names it, the message says what was expected."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        self.message = message
        super().__init__(f"{parameter}: {message}")


class ReviewError(EcowatchError, ValueError):
    """A review decision that cannot be recorded (unknown clearing, decision or reason)."""


class ReviewConflict(ReviewError):  # noqa: N818 - a conflict, as HTTP names it
    """Another decision was recorded on the clearing since the version the decision was made on.

    ``latest`` holds the newer decision (a dict of the ``reviews`` row, or ``None`` when the
    status changed without one) and ``version`` the clearing's current status version.
    """

    def __init__(self, clearing_id: str, expected: int, version: int, latest: dict[str, object] | None) -> None:
        self.clearing_id, self.expected, self.version, self.latest = clearing_id, expected, version, latest
        super().__init__(
            f"clearing {clearing_id}: decided on status version {expected}, but it is at version {version} "
            "(another decision was recorded in between)"
        )
class AccessError(LayerError, PermissionError):
    """A role asked for a layer (or rows of it) that it may not read."""


class AccountError(EcowatchError, ValueError):
    """A user name, role, password or e-mail that cannot be used, or an account that does not exist."""


class EvidenceError(EcowatchError, LookupError):
    """No such clearing or corridor segment for an evidence report (for this role)."""


class WatchError(EcowatchError, ValueError):
    """A watch area or subscription that cannot be saved; ``field`` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")
