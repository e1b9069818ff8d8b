"""Seizure records: fields, species, locations and row validation."""
