"""Deployment settings: one pydantic-settings class, every field described.

Read from the environment with the ``TONGBAN_`` prefix (and from a ``.env``
file in the working directory when present). ``docs/configuration.md`` is
generated from this class by ``tongban docs-config``; a test keeps the two equal.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TONGBAN_", env_file=".env", extra="ignore", validate_default=True
    )

    # --- storage -----------------------------------------------------------
    data_dir: Path = Field(
        Path("data"),
        description="Local data folder: the embedded SQLite database, the file store and generated keys.",
    )
    database_url: str = Field(
        "",
        description=(
            "SQLAlchemy URL. Empty means the embedded SQLite database "
            "`<data_dir>/tongban.db` (WAL mode). PostgreSQL: "
            "`postgresql://user:pass@host:5432/db` (driven through asyncpg)."
        ),
    )
    database_pool_size: int = Field(
        10,
        ge=1,
        le=200,
        description=(
            "Connections kept per process. SQLite keeps at least 40 (cheap in-process"
            " connections; up to 40 more for bursts). On PostgreSQL a process keeps up to"
            " this number plus 10 once opened: no overflow connections opened and closed"
            " under load (each new backend cost PostgreSQL ~14 ms of CPU)."
        ),
    )
    database_echo: bool = Field(False, description="Log every SQL statement (development only).")
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        "NORMAL",
        description=(
            "SQLite `synchronous` pragma. NORMAL in WAL mode never corrupts the database; a power "
            "loss may roll back the last transactions. FULL fsyncs every commit."
        ),
    )
    sqlite_checkpoint_seconds: float = Field(
        1.0, ge=0, le=60,
        description=(
            "SQLite: the web process copies the write-ahead log into the database (a WAL checkpoint) "
            "in a thread of its own every this many seconds, instead of inside whichever request's "
            "commit crosses 1,000 pages (which stalls every request meanwhile). 0: SQLite's own "
            "automatic checkpoints."
        ),
    )  # fmt: skip

    # --- web ----------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `tongban serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `tongban serve` listens on.")
    web_workers: int = Field(
        1,
        ge=1,
        le=64,
        description=(
            "Server processes started by `tongban serve`; with more than one, the parent"
            " accepts and hands each connection to the process with the fewest open"
            " (`web.balancer`)."
        ),
    )
    web_worker_timeout: float = Field(
        30.0,
        ge=1,
        le=3600,
        description=(
            "With several server processes: the parent pings each started process when it has"
            " been silent for a few seconds; one that does not answer within this many seconds"
            " (its event loop blocked, the process stopped) is killed and started again."
        ),
    )
    base_url: str = Field(
        "",
        description="Public address of the platform, used in printed links and QR codes; empty derives it from host and port.",
    )
    secret_key: str = Field(
        "",
        description=(
            "Deployment secret for signing and key encryption. Empty generates one into "
            "`<data_dir>/secret_key` on first start (fine for one machine; set it explicitly "
            "when several servers share a database)."
        ),
    )
    cookie_secure: bool = Field(
        False, description="Send session cookies only over HTTPS (set true behind TLS)."
    )
    session_hours: int = Field(
        8, ge=1, le=720, description="Idle lifetime of a signed-in session, in hours."
    )
    login_max_failures: int = Field(
        5, ge=1, le=100, description="Failed sign-ins in a row before the account is locked."
    )
    login_lock_minutes: int = Field(
        15, ge=1, le=1440, description="How long a locked account stays locked."
    )
    sms_channel: Literal["log", "none"] = Field(
        "log",
        description="Where one-time SMS codes go. `log` writes them to the server log (development); production plugs in a gateway.",
    )
    sms_code_minutes: int = Field(
        5, ge=1, le=60, description="Validity of an SMS one-time code, in minutes."
    )
    timezone: str = Field(
        "Asia/Shanghai", description="Zone for display and working-day arithmetic; storage is UTC."
    )

    # --- work after the request ----------------------------------------------
    embedded_worker: bool = Field(
        True,
        description="Run the event-outbox worker and scheduled jobs inside the web process. Set false when `tongban worker` runs separately.",
    )
    outbox_max_attempts: int = Field(
        8, ge=1, le=100, description="Delivery attempts before an event is parked as failed."
    )
    outbox_backoff_seconds: float = Field(
        2.0, gt=0, description="First retry delay; doubles each attempt (capped at one hour)."
    )
    outbox_batch_size: int = Field(50, ge=1, le=1000, description="Events claimed per worker poll.")
    outbox_poll_seconds: float = Field(1.0, gt=0, description="Worker poll interval when idle.")
    outbox_retention_days: int = Field(
        30, ge=0, le=3650,
        description="Delivered outbox deliveries older than this many days are deleted by the daily job `core.outbox_purge` (the events themselves are kept); 0 keeps them forever. Failed and pending deliveries are never deleted.",
    )  # fmt: skip
    leader_lease_seconds: int = Field(
        30,
        ge=5,
        le=3600,
        description="Lease of the scheduler leader; another worker takes over after it lapses.",
    )

    # --- operations --------------------------------------------------------
    catalogue_base_code_scheme: Literal["gbt39046", "free"] = Field(
        "gbt39046",
        description="How 基本编码 are validated: `gbt39046` (12 characters: scope, type, main item, sub-item) or `free` (any 4–40 letters, digits and dashes, for provincial codes that differ).",
    )
    catalogue_impl_code_scheme: Literal["auto", "gbt39046", "sichuan"] = Field(
        "auto",
        description="How 实施编码 are parsed: `gbt39046` (credit code + level + base code), `sichuan` (dash-separated, as sczwfw.gov.cn), or `auto` (either).",
    )
    catalogue_block_inconsistent_publish: bool = Field(
        False,
        description="Refuse to publish an implementation entry that differs from its base item where the standard requires sameness (同标同源); when false the differences are reported only.",
    )
    supervision_yellow_days: int = Field(
        1,
        ge=0,
        le=30,
        description="电子监察: a case due within this many working days gets a yellow card (local rule, STANDARDS §3 [S]).",
    )
    licence_algorithm: Literal["sm2", "ed25519"] = Field(
        "sm2",
        description=(
            "电子证照: signature algorithm of new electronic seals and of the platform's seal maker key — "
            "`sm2` (SM2 with SM3, the national algorithm) or `ed25519`. A department admin may choose the "
            "other one when rotating a department's seal; seals already made keep their algorithm."
        ),
    )
    licence_key_encryption_key: str = Field(
        "",
        description=(
            "电子证照: deployment key that encrypts seal private keys at rest (AES-256-GCM): base64 of 32 "
            "random bytes (`openssl rand -base64 32`). Empty derives it from `secret_key` (HKDF-SHA256), "
            "so changing that secret would make the stored seal keys unreadable: set this in production "
            "and keep it out of the database backups. Never logged."
        ),
    )
    licence_seal_years: int = Field(
        5, ge=1, le=30, description="电子证照: validity of a new electronic seal, in years."
    )
    licence_verify_log_batch_ms: int = Field(
        200,
        ge=0,
        le=5000,
        description=(
            "电子证照: verification log rows (核验记录) are written in batches at most this many milliseconds "
            "apart (0 writes each in its own request). A crash loses at most this window of log rows, never a "
            "licence change."
        ),
    )
    search_provider_modules: str = Field(
        "",
        description="Extra modules (comma-separated) that register search providers, besides every package's `search_provider.py` (a deployment's own, e.g. a departmental system's documents).",
    )
    media_max_mb: int = Field(
        20,
        ge=1,
        le=500,
        description="Largest uploaded file (blank forms, samples, case materials), in MB.",
    )
    log_level: str = Field("INFO", description="Log level (DEBUG, INFO, WARNING, ERROR).")
    log_json: bool = Field(True, description="Write logs as one JSON object per line.")
    propagate_errors: bool = Field(
        False,
        description="Raise an unexpected error again after answering it 500 (the test suite: a test sees the real exception). Off in production: the error is logged once, with the request id the 500 shows.",
    )
    demo_mode: bool = Field(
        False, description="Show the demo banner and the demo accounts on the sign-in page."
    )

    @field_validator("log_level")
    @classmethod
    def _upper(cls, v: str) -> str:
        v = v.upper()
        if v not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return v

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tongban.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def resolved_secret_key(self) -> str:
        """The configured secret, or one generated once into the data folder."""
        if self.secret_key:
            return self.secret_key
        import secrets

        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    get_settings.cache_clear()
