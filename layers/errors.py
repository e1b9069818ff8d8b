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


class AccessError(LayerError, PermissionError):
    """A role asked for a layer (or rows of it) that it may not read."""


class AccountError(EcowatchError, ValueError):
    """A user name, role, password or e-mail that cannot be used, or an account that does not exist."""
