"""One member's outgoing path: protect with the member's SRTP session and send, never awaiting.

A viewer that cannot take packets (its socket buffer is full) gets a bounded backlog per forwarded
track that drops its oldest packets; the publisher and the other viewers never wait for it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Protocol

import pylibsrtp
from aiortc import RTCDtlsTransport

from media import hooks

FLUSH_RETRY_S = 0.005


class PacketSink(Protocol):
    """Where protected datagrams go (a seam: tests put a stalled sink here)."""

    def writable(self) -> bool: ...
    def send(self, datagram: bytes) -> None: ...


class UdpSink:
    """The UDP socket and address aioice nominated for this member."""

    def __init__(self, dtls: RTCDtlsTransport) -> None:
        self._dtls = dtls
        self._route: tuple[asyncio.DatagramTransport, tuple[str, int]] | None = None

    def _current(self) -> tuple[asyncio.DatagramTransport, tuple[str, int]] | None:
        if self._route is None or self._route[0].is_closing():
            self._route = hooks.selected_route(self._dtls)
        return self._route

    def writable(self) -> bool:
        route = self._current()
        # asyncio buffers datagrams the kernel refused; anything buffered means "stalled".
        if route is None:
            return False
        buffered: Callable[[], int] = getattr(route[0], "get_write_buffer_size", lambda: 0)
        return buffered() == 0

    def send(self, datagram: bytes) -> None:
        route = self._current()
        if route is not None:
            route[0].sendto(datagram, route[1])


class Backlog:
    """The packets of one forwarded track waiting for a stalled viewer; oldest dropped first."""

    __slots__ = ("dropped", "packets")

    def __init__(self, bound: int) -> None:
        self.packets: deque[bytes] = deque(maxlen=bound)
        self.dropped = 0

    def push(self, packet: bytes) -> None:
        if len(self.packets) == self.packets.maxlen:
            self.dropped += 1
        self.packets.append(packet)


class Link:
    def __init__(self, dtls: RTCDtlsTransport) -> None:
        self.dtls = dtls
        self.sink: PacketSink = UdpSink(dtls)
        self._waiting: list[Backlog] = []
        self._flush: asyncio.TimerHandle | None = None
        self.closed = False

    def _protect(self, plain: bytes, rtcp: bool) -> bytes | None:
        sessions = hooks.srtp_sessions(self.dtls)
        if sessions is None:
            return None
        try:
            return sessions[1].protect_rtcp(plain) if rtcp else sessions[1].protect(plain)
        except pylibsrtp.Error:
            return None

    def send_rtp(self, plain: bytes, backlog: Backlog) -> bool:
        """Send now if the way is clear, else queue behind the track's earlier packets."""
        if self.closed:
            return False
        if not backlog.packets and self.sink.writable():
            protected = self._protect(plain, rtcp=False)
            if protected is not None:
                self.sink.send(protected)
            return protected is not None
        backlog.push(plain)
        if backlog not in self._waiting:
            self._waiting.append(backlog)
        self._schedule_flush()
        return True

    def send_rtcp(self, plain: bytes) -> None:
        # RTCP is small and rare: sent when possible, dropped when the viewer is stalled.
        if not self.closed and self.sink.writable():
            protected = self._protect(plain, rtcp=True)
            if protected is not None:
                self.sink.send(protected)

    def _schedule_flush(self) -> None:
        if self._flush is None and not self.closed:
            loop = asyncio.get_running_loop()
            self._flush = loop.call_later(FLUSH_RETRY_S, self._drain)

    def _drain(self) -> None:
        self._flush = None
        while self._waiting and self.sink.writable():
            for backlog in list(self._waiting):
                if backlog.packets:
                    protected = self._protect(backlog.packets.popleft(), rtcp=False)
                    if protected is not None:
                        self.sink.send(protected)
                if not backlog.packets:
                    self._waiting.remove(backlog)
                if not self.sink.writable():
                    break
        if self._waiting:
            self._schedule_flush()

    def close(self) -> None:
        self.closed = True
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        self._waiting.clear()
