"""docs/deploy.md and its example files (issue 13) say what Preceptor reads: the env file parses
with Preceptor's own loader, every setting is documented, and the proxy, systemd, coturn and
Redis files agree with the env file (ports, names, secrets, addresses)."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from server.config import Config

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
DEPLOY = DOCS / "deploy"


def _read_settings() -> set[str]:
    """Every PRECEPTOR_* variable server/config.py reads."""
    return set(re.findall(r'"(PRECEPTOR_[A-Z_]+)"', (ROOT / "server" / "config.py").read_text()))


def _key_values(path: Path, separator: str = "=") -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and separator in line:
            key, value = line.split(separator, 1)
            values[key.strip()] = value.strip()
    return values


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return _key_values(DEPLOY / "preceptor.env")


@pytest.fixture(scope="module")
def config(env: dict[str, str]) -> Config:
    return Config.from_env(env)


def test_the_env_file_sets_only_what_preceptor_reads_and_parses(
    env: dict[str, str], config: Config
) -> None:
    unknown = set(env) - _read_settings()
    assert not unknown, f"settings Preceptor does not read: {sorted(unknown)}"
    assert config.https
    assert config.database_url.startswith("postgresql+asyncpg://")
    assert config.redis_url is not None
    assert config.trusted_proxies
    assert all(not n.is_global and n.num_addresses == 1 for n in config.trusted_proxies)
    assert config.turn_secret
    assert any(url.startswith("turns:") for url in config.turn_urls)


def test_every_setting_is_documented_and_every_example_file_described() -> None:
    text = (DOCS / "deploy.md").read_text()
    missing = {name for name in _read_settings() if f"| `{name}` |" not in text}
    assert not missing, f"settings missing from docs/deploy.md: {sorted(missing)}"
    for path in DEPLOY.iterdir():
        assert f"(deploy/{path.name})" in text, f"docs/deploy.md does not describe {path.name}"


def _unit() -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((DEPLOY / "preceptor.service").read_text())
    return unit


def _serve_address(unit: configparser.ConfigParser) -> tuple[str, int]:
    argv = shlex.split(unit["Service"]["ExecStart"])
    assert argv[0].endswith("/preceptor")
    assert argv[1] == "serve"
    return argv[argv.index("--host") + 1], int(argv[argv.index("--port") + 1])


def test_the_systemd_unit_drains_and_writes_only_the_data_dir(config: Config) -> None:
    service = _unit()["Service"]
    assert service["EnvironmentFile"] == "/etc/preceptor/preceptor.env"
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) >= 10  # time to drain before SIGKILL
    assert service["ReadWritePaths"] == str(config.data_dir)
    assert service["User"] != "root"


def test_nginx_serves_the_public_name_upgrades_sockets_and_reaches_the_nodes(
    config: Config,
) -> None:
    text = (DEPLOY / "nginx.conf").read_text()
    public = urlsplit(config.public_url)
    assert re.search(rf"server_name {re.escape(public.hostname or '')};", text)
    assert "listen 443 ssl;" in text
    upstream = re.findall(r"^\s*server (\S+?):(\d+)", text, flags=re.M)
    host, port = _serve_address(_unit())
    assert (host, str(port)) in upstream
    assert len(upstream) >= 2, "two nodes or more"
    assert all(p == str(port) for _, p in upstream)
    [sockets] = re.findall(r"location /ws/ \{(.*?)\n    \}", text, flags=re.S)
    assert "proxy_set_header Upgrade $http_upgrade;" in sockets
    assert "proxy_set_header Connection $connection_upgrade;" in sockets
    read_timeout = int(re.findall(r"proxy_read_timeout (\d+)s;", sockets)[0])
    assert read_timeout > 30  # longer than any client's ping interval
    # The client address Preceptor believes only from PRECEPTOR_TRUSTED_PROXIES.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in text


def test_coturn_shares_the_secret_and_serves_tls_on_443(config: Config) -> None:
    turn = _key_values(DEPLOY / "turnserver.conf")
    flags = {
        line.strip()
        for line in (DEPLOY / "turnserver.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#") and "=" not in line
    }
    assert "use-auth-secret" in flags
    assert turn["static-auth-secret"] == config.turn_secret
    assert turn["tls-listening-port"] == "443"
    assert turn["cert"]
    assert turn["pkey"]
    for url in config.turn_urls:
        host, port = url.split(":", 1)[1].split("?")[0].split(":")
        assert host == turn["realm"]
        tls = url.startswith("turns:")
        assert port == turn["tls-listening-port" if tls else "listening-port"], url
    for url in config.stun_urls:
        assert url.split(":")[-1] == turn["listening-port"]


def test_redis_keeps_no_persistence_and_matches_the_url(config: Config) -> None:
    redis = _key_values(DEPLOY / "redis.conf", separator=" ")
    assert config.redis_url is not None
    url = urlsplit(config.redis_url)
    assert redis["requirepass"] == url.password
    assert redis["bind"] == url.hostname
    assert int(redis["port"]) == (url.port or 6379)
    assert redis["save"] == '""'
    assert redis["appendonly"] == "no"
    assert redis["maxmemory-policy"] == "noeviction"
