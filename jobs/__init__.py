"""Runs that record themselves in `ingest_runs`: boundary, seizure and imagery ingest, detect
(windows, SCL blocks, Dask), quicklooks and analyse, with the run bookkeeping and AOI resolution."""
