"""Readers: one per family of file formats, each returning records with the numbers users see.

- :mod:`ingest.readers.geojson`: GeoJSON (RFC 7946 and the legacy ``crs`` member), parsed by
  ecowatch itself so that every bad feature is named (duplicate keys, NaN, broken geometry);
- :mod:`ingest.readers.ogr`: Shapefile, GeoPackage, KML and FlatGeobuf through pyogrio;
- :mod:`ingest.readers.vector`: picks one of those for a path, unpacking zip archives and KMZ;
- :mod:`ingest.readers.tables`: CSV and XLSX sheets, parsed strictly.
"""

from ingest.readers.features import FeatureTable, RawReject

__all__ = ["FeatureTable", "RawReject"]
