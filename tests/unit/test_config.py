from __future__ import annotations

from pathlib import Path

import pytest

from server.config import Config, ConfigError


def test_defaults_give_a_single_process_on_sqlite() -> None:
    config = Config.from_env({})
    assert config.database_url == "sqlite+aiosqlite:///data/preceptor.db"
    assert config.redis_url is None
    assert config.public_url == "http://127.0.0.1:8000"
    assert "http://127.0.0.1:8000" in config.allowed_origins
    assert not config.https
    assert config.session_cookie_name == "preceptor_session"
    assert config.session_idle_timeout_s == 30 * 60
    assert config.session_absolute_timeout_s == 12 * 3600


def test_everything_can_be_set() -> None:
    config = Config.from_env(
        {
            "PRECEPTOR_DATA_DIR": "/srv/preceptor",
            "PRECEPTOR_DATABASE_URL": "postgresql+asyncpg://p@db/preceptor",
            "PRECEPTOR_REDIS_URL": "redis://cache:6379/0",
            "PRECEPTOR_PUBLIC_URL": "https://mentor.example.org/",
            "PRECEPTOR_ALLOWED_ORIGINS": "https://mentor.example.org, https://m.example.org",
            "PRECEPTOR_SECRET_KEY": "x" * 32,
            "PRECEPTOR_TURN_URLS": "turns:turn.example.org:443?transport=tcp",
            "PRECEPTOR_TURN_SECRET": "shared",
            "PRECEPTOR_STUN_URLS": "stun:turn.example.org:3478",
            "PRECEPTOR_SESSION_IDLE_S": "600",
        }
    )
    assert config.data_dir == Path("/srv/preceptor")
    assert config.public_url == "https://mentor.example.org"
    assert config.https
    assert config.session_cookie_name == "__Host-preceptor_session"
    assert config.allowed_origins == ("https://mentor.example.org", "https://m.example.org")
    assert config.session_idle_timeout_s == 600
    assert "shared" not in repr(config)
    assert "x" * 32 not in repr(config)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PRECEPTOR_DATABASE_URL": "mysql://x"}, "PRECEPTOR_DATABASE_URL"),
        ({"PRECEPTOR_REDIS_URL": "http://x"}, "PRECEPTOR_REDIS_URL"),
        ({"PRECEPTOR_PUBLIC_URL": "ftp://x"}, "PRECEPTOR_PUBLIC_URL"),
        ({"PRECEPTOR_ALLOWED_ORIGINS": "evil"}, "PRECEPTOR_ALLOWED_ORIGINS"),
        ({"PRECEPTOR_SECRET_KEY": "short"}, "PRECEPTOR_SECRET_KEY"),
        ({"PRECEPTOR_TURN_URLS": "turn:x:3478"}, "PRECEPTOR_TURN_SECRET"),
        ({"PRECEPTOR_TURN_URLS": "http://x", "PRECEPTOR_TURN_SECRET": "s"}, "PRECEPTOR_TURN_URLS"),
        ({"PRECEPTOR_STUN_URLS": "turn:x"}, "PRECEPTOR_STUN_URLS"),
        ({"PRECEPTOR_SESSION_IDLE_S": "soon"}, "PRECEPTOR_SESSION_IDLE_S"),
        ({"PRECEPTOR_SESSION_MAX_S": "-5"}, "PRECEPTOR_SESSION_MAX_S"),
        ({"PRECEPTOR_LOG_LEVEL": "chatty"}, "PRECEPTOR_LOG_LEVEL"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Config.from_env(env)
