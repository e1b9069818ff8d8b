import struct

import numpy as np
import pytest
import shapely

from layers import gpkg_blob

GEOMS = np.array(
    [
        shapely.Point(1.5, -2),
        None,
        shapely.Point(),
        shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(5, -3, 6, 9)]),
        shapely.Polygon(),
        shapely.LineString([(179, 0), (-179, 1)]),
        shapely.Point(3, 4, 5),
    ],
    dtype=object,
)


def test_encode_writes_the_header_and_decodes_back():
    blobs = gpkg_blob.encode(GEOMS, 4326)
    assert blobs[1] is None
    for geom, blob in zip(GEOMS, blobs, strict=True):
        if geom is None:
            continue
        assert blob[:2] == b"GP" and struct.unpack_from("<i", blob, 4)[0] == 4326
        if geom.is_empty:
            assert blob[3] == 0x11 and gpkg_blob.header_length(blob) == 8
        else:
            minx, miny, maxx, maxy = geom.bounds
            assert blob[3] == 0x03 and struct.unpack_from("<4d", blob, 8) == (minx, maxx, miny, maxy)
        assert blob[gpkg_blob.header_length(blob):] == shapely.to_wkb(geom, byte_order=1, flavor="iso")
    decoded = gpkg_blob.decode(blobs)
    assert all(a is None and b is None or shapely.equals_exact(a, b, 0) or (a.is_empty and b.is_empty) for a, b in zip(GEOMS, decoded, strict=True))


def test_envelopes_read_every_kind_of_header():
    ours = gpkg_blob.encode(GEOMS, 4326)
    wkb = shapely.to_wkb(shapely.box(2, 3, 4, 5), byte_order=0)
    big_endian = struct.pack(">2sBBi4d", b"GP", 0, 0x02, 4326, 2, 4, 3, 5) + wkb
    no_envelope = struct.pack("<2sBBi", b"GP", 0, 0x01, 4326) + wkb  # as GDAL writes points
    blobs = [*ours, big_endian, no_envelope]
    bounds, indexed = gpkg_blob.envelopes([b if b is None else b[: gpkg_blob.ENVELOPE_END] for b in blobs])
    assert indexed.tolist() == [True, False, False, True, False, True, True, True, True]
    assert bounds[0].tolist() == [1.5, 1.5, -2, -2]
    assert bounds[3].tolist() == [0, 6, -3, 9]
    assert bounds[7].tolist() == [2, 4, 3, 5]
    assert np.isnan(bounds[[1, 2, 4, 8]]).all()
    # without an envelope in the header, the geometry says it; both read as the triggers' ST_Min*/ST_Max*
    assert gpkg_blob.envelope(no_envelope) == gpkg_blob.envelope(big_endian) == (2, 4, 3, 5)
    with pytest.raises(ValueError, match="not a GeoPackage geometry blob"):
        gpkg_blob.envelopes([b"XX" + ours[0][2:]])
    with pytest.raises(ValueError, match="not a GeoPackage geometry blob"):
        gpkg_blob.envelopes([ours[0][:20]])
