"""Errors of the imagery providers, shaped like the data: service -> acquisition -> asset URL.

Every class is a :class:`~ingest.errors.SourceError` (so also an ``OSError``): the CLI turns it
into exit status 1 with the message, and a job that raises one leaves the store as it was.
Messages name the service or file and say what to change; they never hold a credential.
"""

from __future__ import annotations

from ingest.errors import SourceError


class ProviderError(SourceError):
    """An imagery service or catalogue cannot be searched or read (after its retries)."""


class CredentialsError(ProviderError, PermissionError):
    """Credentials are missing or were refused; the message says which settings to set."""


class URLNotAllowedError(ProviderError, PermissionError):
    """A catalogue pointed at a URL outside the allow-list (a local file, an internal address ...)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.detail = reason  # why, without the "refused: " of ``reason``
        super().__init__(url, f"refused: {reason}")


class RedirectNotAllowedError(URLNotAllowedError):
    """An allowed server redirected a read of ``url`` to ``target``, which the allow-list refuses;
    nothing was requested from ``target``."""

    def __init__(self, url: str, target: str, detail: str) -> None:
        self.target = target
        super().__init__(url, f"the server redirected to {target}: {detail}")


class RemoteReadError(ProviderError):
    """A remote file could not be read: an HTTP error or broken connection after the retries, or a
    server that does not answer range requests."""
