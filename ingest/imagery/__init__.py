"""Sentinel-2 L2A imagery: Sentinel Hub, STAC and local GeoTIFF providers, the COG cache, reading
windows of local scenes onto one grid."""
