"""Analyses on in-memory arrays and GeoDataFrames: masks, indices, change, objects, flags, matching.

Nothing here opens files, talks HTTP or knows Flask.
"""
