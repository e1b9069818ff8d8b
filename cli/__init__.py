"""The `ecowatch` command line and the demo."""
