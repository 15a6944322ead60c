"""Configuration read once from the environment (``PRECEPTOR_*``, DESIGN.md §2)."""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["Config", "ConfigError"]


class ConfigError(ValueError):
    """A ``PRECEPTOR_*`` variable is missing or malformed; the message names it."""


_DEFAULT_WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def _csv(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _media_key(name: str, text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ConfigError(f"{name} must hold base64 of 32 random bytes (openssl rand -base64 32)")
    return key


def _media_keys(key: str | None, key_file: str | None) -> tuple[bytes, ...]:
    """PRECEPTOR_MEDIA_KEY, or the key file's lines (the first writes; the rest, older keys
    kept to read recordings made before a rotation)."""
    if key:
        return (_media_key("PRECEPTOR_MEDIA_KEY", key),)
    if not key_file:
        return ()
    try:
        lines = Path(key_file).read_text().split()
    except OSError as exc:
        raise ConfigError(f"PRECEPTOR_MEDIA_KEY_FILE cannot be read: {exc.strerror}") from None
    if not lines:
        raise ConfigError("PRECEPTOR_MEDIA_KEY_FILE is empty")
    return tuple(_media_key("PRECEPTOR_MEDIA_KEY_FILE", line) for line in lines)


def _networks(name: str, raw: str) -> tuple[IpNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(item, strict=False) for item in _csv(raw))
    except ValueError as exc:
        raise ConfigError(f"{name} must list IP addresses or CIDR networks: {exc}") from None


def _url(name: str, raw: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in schemes:
        raise ConfigError(f"{name} must start with one of {', '.join(schemes)}: got {raw!r}")
    return raw


@dataclass(frozen=True)
class Config:
    """Everything the app needs to know about its deployment. Built by :meth:`from_env`."""

    data_dir: Path = Path("./data")
    database_url: str = "sqlite+aiosqlite:///./data/preceptor.db"
    redis_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    allowed_origins: tuple[str, ...] = ("http://127.0.0.1:8000", "http://localhost:8000")
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = field(default=None, repr=False)
    session_idle_timeout_s: int = 30 * 60
    session_absolute_timeout_s: int = 12 * 60 * 60
    max_body_bytes: int = 1 << 20
    login_attempts_per_account: int = 5
    login_attempts_per_ip: int = 20
    login_window_s: int = 15 * 60
    invite_requests_per_minute: int = 30
    """Invite-link look-ups and redemptions per client address per minute."""
    trusted_proxies: tuple[IpNetwork, ...] = ()
    """Reverse proxies whose ``X-Forwarded-For`` names the real client (none by default)."""
    metrics_token: str | None = field(default=None, repr=False)
    """Bearer token for ``/metrics``; unset = loopback clients only."""
    log_level: str = "INFO"
    resume_grace_s: int = 30
    socket_opens_per_minute: int = 30
    """Signaling or notes sockets one account may open per minute: across all nodes with Redis
    (counted there), per node without it (issue 13)."""
    socket_opens_per_minute_per_address: int = 600
    messages_per_second: int = 40
    """Signaling messages per second across all of one account's sockets on one node."""
    web_dir: Path = _DEFAULT_WEB_DIR
    media_keys: tuple[bytes, ...] = field(default=(), repr=False)
    """Recording keys (AES-256), the current one first; never stored in the database. Empty:
    a key file is made under the data dir on first use (see `server.live.recording`)."""
    recording_retention_days: int = 365
    media_max_streams: int = 150
    """Forwarded streams (a member's audio or video to one other member) this node's media
    peer carries at most; a member who would take it past this is refused with an error, so
    the calls it carries keep theirs. By the router's own time per packet one core forwards
    ~270-350; the media peer shares its event loop with the node's sockets (bench/README.md)."""

    @property
    def https(self) -> bool:
        """Served over HTTPS: cookies get the ``__Host-`` prefix and HSTS is sent."""
        return self.public_url.startswith("https://")

    @property
    def session_cookie_name(self) -> str:
        return "__Host-preceptor_session" if self.https else "preceptor_session"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        get = env.get
        data_dir = Path(get("PRECEPTOR_DATA_DIR") or "./data")
        database_url = (
            get("PRECEPTOR_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir}/preceptor.db"
        )
        _url(
            "PRECEPTOR_DATABASE_URL",
            database_url,
            ("sqlite+aiosqlite", "postgresql+asyncpg"),
        )
        redis_url = get("PRECEPTOR_REDIS_URL") or None
        if redis_url is not None:
            _url("PRECEPTOR_REDIS_URL", redis_url, ("redis", "rediss", "unix"))
        public_url = (get("PRECEPTOR_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/")
        _url("PRECEPTOR_PUBLIC_URL", public_url, ("http", "https"))
        origins = _csv(get("PRECEPTOR_ALLOWED_ORIGINS") or "")
        if not origins:
            origins = (public_url,)
            if public_url == "http://127.0.0.1:8000":
                origins += ("http://localhost:8000",)
        for origin in origins:
            _url("PRECEPTOR_ALLOWED_ORIGINS", origin, ("http", "https"))
        secret_key = get("PRECEPTOR_SECRET_KEY") or secrets.token_urlsafe(32)
        if len(secret_key) < 16:
            raise ConfigError("PRECEPTOR_SECRET_KEY must be at least 16 characters")
        turn_urls = _csv(get("PRECEPTOR_TURN_URLS") or "")
        turn_secret = get("PRECEPTOR_TURN_SECRET") or None
        if turn_urls and not turn_secret:
            raise ConfigError("PRECEPTOR_TURN_SECRET is required when PRECEPTOR_TURN_URLS is set")
        for url in turn_urls:
            _url("PRECEPTOR_TURN_URLS", url, ("turn", "turns"))
        stun_urls = _csv(get("PRECEPTOR_STUN_URLS") or "")
        for url in stun_urls:
            _url("PRECEPTOR_STUN_URLS", url, ("stun", "stuns"))
        log_level = (get("PRECEPTOR_LOG_LEVEL") or "INFO").upper()
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError(
                f"PRECEPTOR_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR: {log_level!r}"
            )
        metrics_token = get("PRECEPTOR_METRICS_TOKEN") or None
        if metrics_token is not None and len(metrics_token) < 16:
            raise ConfigError("PRECEPTOR_METRICS_TOKEN must be at least 16 characters")
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            redis_url=redis_url,
            public_url=public_url,
            allowed_origins=origins,
            secret_key=secret_key,
            stun_urls=stun_urls,
            turn_urls=turn_urls,
            turn_secret=turn_secret,
            session_idle_timeout_s=_positive_int(env, "PRECEPTOR_SESSION_IDLE_S", 30 * 60),
            session_absolute_timeout_s=_positive_int(env, "PRECEPTOR_SESSION_MAX_S", 12 * 60 * 60),
            max_body_bytes=_positive_int(env, "PRECEPTOR_MAX_BODY_BYTES", 1 << 20),
            invite_requests_per_minute=_positive_int(env, "PRECEPTOR_INVITE_REQUESTS_PER_MIN", 30),
            trusted_proxies=_networks(
                "PRECEPTOR_TRUSTED_PROXIES", get("PRECEPTOR_TRUSTED_PROXIES") or ""
            ),
            metrics_token=metrics_token,
            log_level=log_level,
            resume_grace_s=_positive_int(env, "PRECEPTOR_RESUME_GRACE_S", 30),
            socket_opens_per_minute=_positive_int(env, "PRECEPTOR_SOCKET_OPENS_PER_MIN", 30),
            socket_opens_per_minute_per_address=_positive_int(
                env, "PRECEPTOR_SOCKET_OPENS_PER_MIN_PER_ADDRESS", 600
            ),
            messages_per_second=_positive_int(env, "PRECEPTOR_MESSAGES_PER_S", 40),
            web_dir=Path(get("PRECEPTOR_WEB_DIR") or _DEFAULT_WEB_DIR),
            media_keys=_media_keys(get("PRECEPTOR_MEDIA_KEY"), get("PRECEPTOR_MEDIA_KEY_FILE")),
            recording_retention_days=_positive_int(env, "PRECEPTOR_RECORDING_RETENTION_DAYS", 365),
            media_max_streams=_positive_int(env, "PRECEPTOR_MEDIA_MAX_STREAMS", 150),
        )
