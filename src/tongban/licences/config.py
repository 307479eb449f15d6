"""The licences package's view of the deployment: its settings and key store.

``configure(settings)`` is called by the app factory (and by the worker path
through ``settings()`` falling back to ``get_settings()``), so services,
handlers and the verification log all read the same settings the process was
started with — in tests, the test's own settings and deployment key.
"""

from __future__ import annotations

from tongban.core.settings import Settings, get_settings
from tongban.licences import crypto

_settings: Settings | None = None


def configure(settings: Settings | None = None, *, keystore: crypto.KeyStore | None = None) -> None:
    """Use ``settings`` (and ``keystore``, else the software store under its deployment key)."""
    global _settings
    _settings = settings
    crypto.configure_keystore(keystore, settings=settings)


def settings() -> Settings:
    return _settings if _settings is not None else get_settings()
