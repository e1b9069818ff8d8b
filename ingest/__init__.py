"""Sources: imagery providers, boundary and seizure readers, field mappings, validation and region loading.

The runs that store what is read live in :mod:`jobs`; nothing here writes the store."""
