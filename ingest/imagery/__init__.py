"""ecowatch ingest.imagery package."""
