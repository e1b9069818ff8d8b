"""The layer catalogue, the store and exports."""

from layers.catalog import CATALOG, LAYERS, Field, Layer, get_layer
from layers.store import STORE_CRS, Store, WriteCounts, open_store

__all__ = ["CATALOG", "LAYERS", "STORE_CRS", "Field", "Layer", "Store", "WriteCounts", "get_layer", "open_store"]
