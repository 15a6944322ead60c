"""Who may read ``/metrics``: a bearer of PRECEPTOR_METRICS_TOKEN, or (without one) this machine."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from server.config import Config
from tests.support import running_server

TOKEN = "metrics-token-0123456789abcdef"
OUTSIDE = {"X-Forwarded-For": "203.0.113.5"}


async def test_without_a_token_only_loopback_clients_read_metrics(config: Config) -> None:
    # The test client is on 127.0.0.1; through a trusted proxy it can also speak for the outside.
    proxied = replace(config, trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),))
    async with running_server(proxied) as server, server.client() as client:
        local = await client.get("/metrics")
        assert local.status_code == 200
        assert "preceptor_" in local.text
        outside = await client.get("/metrics", headers=OUTSIDE)
        assert outside.status_code == 403
        assert outside.json()["error"] == "forbidden"
        assert "PRECEPTOR_METRICS_TOKEN" in outside.json()["message"]
        assert "preceptor_" not in outside.text


async def test_with_a_token_metrics_need_it_even_from_loopback(config: Config) -> None:
    proxied = replace(
        config,
        metrics_token=TOKEN,
        trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),),
    )
    async with running_server(proxied) as server, server.client() as client:
        missing = await client.get("/metrics")
        assert missing.status_code == 401
        assert missing.json()["error"] == "not-authenticated"
        assert missing.headers["www-authenticate"].startswith("Bearer")
        for wrong in (f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer", TOKEN):
            refused = await client.get("/metrics", headers={"Authorization": wrong})
            assert refused.status_code == 401, wrong
            assert "preceptor_" not in refused.text
        granted = await client.get(
            "/metrics", headers={**OUTSIDE, "Authorization": f"Bearer {TOKEN}"}
        )
        assert granted.status_code == 200
        assert "preceptor_" in granted.text


def test_the_settings_are_read_from_the_environment() -> None:
    config = Config.from_env(
        {
            "PRECEPTOR_METRICS_TOKEN": TOKEN,
            "PRECEPTOR_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16,::1",
        }
    )
    assert config.metrics_token == TOKEN
    assert TOKEN not in repr(config)
    assert [str(n) for n in config.trusted_proxies] == ["10.0.0.1/32", "192.168.0.0/16", "::1/128"]
    assert Config.from_env({}).trusted_proxies == ()
    assert Config.from_env({}).metrics_token is None
