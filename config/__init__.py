"""Settings and region seed data for ecowatch.

This package imports nothing else of ecowatch's. Settings are loaded once, at start,
by whoever starts the program (the CLI, a test) and passed down as an argument.
"""

from config.errors import EcowatchError, SettingsError
from config.settings import Settings, load_settings, region_dir

__all__ = ["EcowatchError", "Settings", "SettingsError", "load_settings", "region_dir"]
