"""Readers for every source, validation and rejects, the jobs, and the ``ecowatch`` command line."""
