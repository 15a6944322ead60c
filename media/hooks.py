"""Every private aiortc / aioice attribute the forwarder relies on, in one place (DESIGN.md §3).

aiortc keeps ICE, DTLS and RTCP parsing; the forwarder takes over at four points:
- `aioice.Connection.data_received` (per instance): SRTP datagrams are unprotected and forwarded
  as they arrive, never queued for aiortc's receive loop (DTLS and STUN still go to aiortc);
- `RTCDtlsTransport._handle_rtcp_data` (per instance): every RTCP packet of a member's connection
  comes to the forwarder instead of aiortc's RTP router;
- `RTCRtpReceiver.receive` / `RTCRtpSender.send` (per instance): the negotiated parameters come to
  the forwarder, and aiortc's decoder thread, jitter buffer, encoder and RTP/RTCP tasks never start;
- the SRTP sessions (`_rx_srtp`, `_tx_srtp`) and the nominated candidate pair's UDP transport, to
  protect and send synchronously.

`check_hook_points()` fails loudly (at router start and in tests/media/test_hooks.py) when a
version of aiortc or aioice moves any of them. aiortc and aioice are pinned in pyproject.toml.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from importlib import metadata
from typing import Any, Protocol

import aioice.ice
import aiortc.rtcpeerconnection
from aiortc import RTCDtlsTransport, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.rtcicetransport import RTCIceTransport

PINNED = {"aiortc": "1.16.", "aioice": "0.13."}


class HookPointMovedError(RuntimeError):
    """An aiortc/aioice upgrade moved something the forwarder patches: re-read the hooks."""


class SrtpSession(Protocol):
    def protect(self, packet: bytes) -> bytes: ...
    def protect_rtcp(self, packet: bytes) -> bytes: ...
    def unprotect(self, packet: bytes) -> bytes: ...
    def unprotect_rtcp(self, packet: bytes) -> bytes: ...


# (what, whose, which function: "__x" names a private, name-mangled one, the source text that
# must be in it for the hook to work). Looked up at check time, so a patched class is seen.
_SOURCE_FACTS: tuple[tuple[str, object, str, str], ...] = (
    (
        "datagrams reach Connection.data_received",
        aioice.ice.StunProtocol,
        "datagram_received",
        "self.receiver.data_received(data",
    ),
    ("data_received only queues", aioice.ice.Connection, "data_received", "self._queue.put_nowait"),
    (
        "nominated pairs live in Connection._nominated",
        aioice.ice.Connection,
        "__init__",
        "self._nominated",
    ),
    (
        "a pair sends with its protocol's transport",
        aioice.ice.StunProtocol,
        "send_data",
        "self.transport.sendto",
    ),
    ("CandidatePair keeps protocol", aioice.ice.CandidatePair, "__init__", "self.protocol"),
    (
        "RTCIceTransport wraps Connection as _connection",
        RTCIceTransport,
        "__init__",
        "self._connection = gatherer._connection",
    ),
    ("DTLS keeps the SRTP sessions", RTCDtlsTransport, "_setup_srtp", "self._rx_srtp = Session"),
    ("DTLS keeps the SRTP sessions", RTCDtlsTransport, "_setup_srtp", "self._tx_srtp = Session"),
    (
        "RTCP goes through _handle_rtcp_data",
        RTCDtlsTransport,
        "_recv_next",
        "await self._handle_rtcp_data(data)",
    ),
    (
        "RTCP is unprotected before _handle_rtcp_data",
        RTCDtlsTransport,
        "_recv_next",
        "self._rx_srtp.unprotect_rtcp(data)",
    ),
    (
        "the peer connection starts senders with send()",
        RTCPeerConnection,
        "__connect",
        "await transceiver.sender.send(",
    ),
    (
        "the peer connection starts receivers with receive()",
        RTCPeerConnection,
        "__connect",
        "await transceiver.receiver.receive(",
    ),
    (
        "the receiver's RTCP SSRC is its sender's",
        RTCPeerConnection,
        "__createTransceiver",
        "transceiver.receiver._set_rtcp_ssrc(transceiver.sender._ssrc)",
    ),
    ("senders own an SSRC", RTCRtpSender, "__init__", "self._ssrc = random32()"),
    (
        "an m-line's msid is its sender's _stream_id",
        aiortc.rtcpeerconnection,
        "create_media_description_for_transceiver",
        'media.msid = f"{transceiver.sender._stream_id} ',
    ),
    (
        "receive() starts the decoder thread",
        RTCRtpReceiver,
        "receive",
        "self.__decoder_thread.start()",
    ),
)


def check_hook_points() -> None:
    """Raise `HookPointMovedError` naming every hook point that no longer holds."""
    moved: list[str] = []
    for package, prefix in PINNED.items():
        version = metadata.version(package)
        if not version.startswith(prefix):
            moved.append(f"{package} {version} is installed; the hooks were written for {prefix}x")
    for what, owner, name, text in _SOURCE_FACTS:
        owner_name = getattr(owner, "__name__", "?")
        attribute = f"_{owner_name}{name}" if name.startswith("__") and name != "__init__" else name
        where = f"{owner_name}.{name}"
        try:
            source = inspect.getsource(getattr(owner, attribute))
        except (AttributeError, OSError, TypeError):
            moved.append(f"{what}: {where} is gone or unreadable")
            continue
        if text not in source:
            moved.append(f"{what}: {where} no longer contains {text!r}")
    for cls, name in (
        (RTCDtlsTransport, "_handle_rtcp_data"),
        (RTCRtpSender, "send"),
        (RTCRtpReceiver, "receive"),
    ):
        if not inspect.iscoroutinefunction(getattr(cls, name, None)):
            moved.append(f"{cls.__name__}.{name} is no longer a coroutine function")
    if moved:
        raise HookPointMovedError("media hook points moved:\n- " + "\n- ".join(moved))


# --- the hooks themselves -------------------------------------------------------------------


def ice_connection(dtls: RTCDtlsTransport) -> aioice.ice.Connection:
    return dtls.transport._connection


def intercept_datagrams(dtls: RTCDtlsTransport, handler: Callable[[bytes], bool]) -> None:
    """`handler` sees each non-STUN datagram first; what it does not take goes to aiortc."""
    connection = ice_connection(dtls)
    if "data_received" in vars(connection):
        return
    original = connection.data_received

    def data_received(data: bytes, component: int) -> None:
        if not handler(data):
            original(data, component)

    vars(connection)["data_received"] = data_received


def intercept_rtcp(dtls: RTCDtlsTransport, handler: Callable[[bytes], None]) -> None:
    """`handler` gets every unprotected RTCP compound packet instead of aiortc's RTP router."""

    async def handle_rtcp_data(data: bytes) -> None:
        handler(data)

    vars(dtls)["_handle_rtcp_data"] = handle_rtcp_data


def take_over_sender(sender: RTCRtpSender, on_send: Callable[[Any], Awaitable[None]]) -> None:
    """aiortc's `send(parameters)` would start its encoder pipeline; pass the parameters on."""
    vars(sender)["send"] = on_send


def take_over_receiver(
    receiver: RTCRtpReceiver, on_receive: Callable[[Any], Awaitable[None]]
) -> None:
    """aiortc's `receive(parameters)` would start a decoder thread; pass the parameters on."""
    vars(receiver)["receive"] = on_receive


def name_stream(sender: RTCRtpSender, stream_id: str) -> None:
    """The msid stream id (RFC 8830) of the sender's m-line in our next offer."""
    sender._stream_id = stream_id


def local_ssrc(sender: RTCRtpSender) -> int:
    return int(sender._ssrc)


def srtp_sessions(dtls: RTCDtlsTransport) -> tuple[SrtpSession, SrtpSession] | None:
    """The inbound and outbound SRTP sessions, once the DTLS handshake has made them."""
    rx, tx = dtls._rx_srtp, dtls._tx_srtp
    if rx is None or tx is None:
        return None
    return rx, tx


def selected_route(
    dtls: RTCDtlsTransport,
) -> tuple[asyncio.DatagramTransport, tuple[str, int]] | None:
    """The UDP transport and remote address of the nominated candidate pair (component 1)."""
    pair = ice_connection(dtls)._nominated.get(1)
    if pair is None or pair.protocol.transport is None:
        return None
    return pair.protocol.transport, pair.remote_addr
