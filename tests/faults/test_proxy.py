"""The fault proxy itself: it forwards, and it breaks the network in the three ways it promises."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.faults.proxy import FaultProxy


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[FaultProxy]:
    upstream = await asyncio.start_server(_echo, "127.0.0.1", 0)
    async with FaultProxy(upstream.sockets[0].getsockname()[1]) as proxy:
        yield proxy
    upstream.close()


async def _connect(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", proxy.port)


async def test_forwards_both_ways(proxy: FaultProxy) -> None:
    reader, writer = await _connect(proxy)
    writer.write(b"hello")
    assert await asyncio.wait_for(reader.readexactly(5), 2) == b"hello"
    assert proxy.open_connections == 1
    writer.close()


async def test_pause_holds_bytes_without_closing_and_resume_delivers_them(
    proxy: FaultProxy,
) -> None:
    reader, writer = await _connect(proxy)
    writer.write(b"a")
    assert await asyncio.wait_for(reader.readexactly(1), 2) == b"a"
    proxy.pause()
    writer.write(b"held")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readexactly(4), 0.2)
    assert not reader.at_eof()
    proxy.resume()
    assert await asyncio.wait_for(reader.readexactly(4), 2) == b"held"
    writer.close()


async def test_cut_resets_every_connection(proxy: FaultProxy) -> None:
    reader, writer = await _connect(proxy)
    writer.write(b"x")
    await asyncio.wait_for(reader.readexactly(1), 2)
    proxy.cut()
    with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
        await asyncio.wait_for(reader.readexactly(1), 2)
    assert proxy.open_connections == 0


async def test_refuse_resets_new_connections_until_lifted(proxy: FaultProxy) -> None:
    proxy.refuse = True
    reader, writer = await _connect(proxy)
    with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
        await asyncio.wait_for(reader.readexactly(1), 2)
    proxy.refuse = False
    reader, writer = await _connect(proxy)
    writer.write(b"back")
    assert await asyncio.wait_for(reader.readexactly(4), 2) == b"back"
    writer.close()
