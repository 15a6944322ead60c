"""Health, readiness, metrics, the OpenAPI document and the pages."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from pathlib import Path

import pytest
from starlette.routing import Route

from server.config import Config
from server.http.pages import PAGES
from tests.support import RunningServer, free_port, private_redis, running_server, wait_for


async def test_health_and_readiness(server: RunningServer) -> None:
    async with server.client() as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "store": True, "bus": True, "draining": False}


async def test_a_draining_node_is_not_ready(server: RunningServer) -> None:
    """A load balancer that reads /readyz stops sending new people to a node going away."""
    await server.services.rooms.drain(1012, "restarting")
    async with server.client() as client:
        ready = await client.get("/readyz")
        alive = await client.get("/healthz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "draining", "store": True, "bus": True, "draining": True}
    assert alive.status_code == 200


async def test_readiness_degrades_when_the_bus_is_unreachable(config: Config) -> None:
    # Nothing listens on port 1: the Redis bus cannot connect, and /readyz says so.
    unreachable = replace(config, redis_url="redis://127.0.0.1:1/0")
    async with running_server(unreachable) as server, server.client() as client:
        ready = await client.get("/readyz")
        alive = await client.get("/healthz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "degraded", "store": True, "bus": False, "draining": False}
    assert alive.status_code == 200


@pytest.mark.redis
async def test_losing_redis_degrades_readiness_until_it_returns(
    config: Config, tmp_path: Path
) -> None:
    port = free_port()
    with private_redis(port, tmp_path):
        redis_config = replace(config, redis_url=f"redis://127.0.0.1:{port}/0")
        async with running_server(redis_config) as server, server.client() as client:

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await wait_for(ready)
            await asyncio.to_thread(_stop_redis, port)

            async def degraded() -> bool:
                return (await client.get("/readyz")).status_code == 503

            await wait_for(degraded)
            assert (await client.get("/healthz")).status_code == 200
            with private_redis(port, tmp_path):
                await wait_for(ready, timeout=10)


def _stop_redis(port: int) -> None:
    import redis

    with contextlib.suppress(redis.ConnectionError):
        redis.Redis(port=port).shutdown(nosave=True)


async def test_metrics_count_requests_by_route_template(server: RunningServer) -> None:
    async with server.client() as client:
        await client.get("/healthz")
        await client.get("/join/some-secret-invite-token")
        text = (await client.get("/metrics")).text
    assert 'preceptor_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "preceptor_websockets_open" in text
    assert "preceptor_rooms_active" in text
    assert "some-secret-invite-token" not in text


async def test_openapi_covers_every_route(server: RunningServer) -> None:
    async with server.client() as client:
        document = (await client.get("/api/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    from server.app import ENDPOINTS

    declared = {(e.method.lower(), e.path) for e in ENDPOINTS}
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
    assert declared == documented
    pages = {*PAGES, "/sw.js"}  # the service worker script is served like a page
    served = {
        (m.lower(), r.path)
        for r in server.app.routes
        if isinstance(r, Route) and r.path not in pages
        for m in (r.methods or ())
        if m != "HEAD"
    }
    assert served == documented
    login = document["paths"]["/api/auth/login"]["post"]
    schema_ref = login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = schema_ref.rsplit("/", 1)[1]
    assert set(document["components"]["schemas"][name]["required"]) == {"email", "password"}


async def test_sign_in_page_is_served(server: RunningServer) -> None:
    async with server.client() as client:
        page = await client.get("/")
        script = await client.get("/static/home.js")
    assert page.status_code == 200
    assert "Sign in" in page.text
    assert script.headers["content-type"].startswith("text/javascript")


async def test_static_assets_are_compressed_and_api_answers_are_not(server: RunningServer) -> None:
    async with server.client() as client:
        script = await client.get("/static/home.js", headers={"Accept-Encoding": "gzip"})
        me = await client.get("/api/me", headers={"Accept-Encoding": "gzip"})
    assert script.headers.get("content-encoding") == "gzip"
    assert "content-encoding" not in me.headers
