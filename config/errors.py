"""Errors raised while loading settings."""


class EcowatchError(Exception):
    """Root of every ecowatch error; each package's ``errors`` module derives from it."""


class SettingsError(EcowatchError, ValueError):
    """A setting has a bad value; the message names the key (e.g. ``ECOWATCH_MMU_HA``)."""

    def __init__(self, key: str, value: object, reason: str) -> None:
        self.key = key
        self.value = value
        self.reason = reason
        super().__init__(f"setting {key} = {value!r}: {reason}")
