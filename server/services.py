"""What a request handler can reach: the app's long-lived services, built once per app."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from media import MediaConfig
from server.config import Config
from server.http.principal_cache import PrincipalCache
from server.infra.accounts import Accounts
from server.infra.bus import Bus, RedisBus
from server.infra.metrics import Metrics
from server.infra.passwords import Passwords
from server.infra.rate_limit import Sampler
from server.infra.storage import Store
from server.infra.storage.engine import for_writing
from server.infra.storage.speaking import SpeakingStore
from server.infra.throttle import MemoryThrottle, RedisThrottle, Throttle
from server.live.media import MediaDriver
from server.live.notes.hub import NotesHub
from server.live.recording import Recordings
from server.live.rooms import MemoryDirectory, RedisDirectory, RoomDirectory, RoomHub, RoomRecords
from server.sockets.admission import WINDOW_S, Admission
from session_notes import NotesStore, SqlNotesStore
from session_notes.instruments import FeedbackStore, TemplateStore
from session_notes.instruments.registry import Instruments
from signaling import IceServer

__all__ = ["Services", "services"]


@dataclass(frozen=True)
class Services:
    config: Config
    store: Store
    bus: Bus
    passwords: Passwords
    metrics: Metrics
    accounts: Accounts
    login_failures_by_account: Throttle
    login_failures_by_ip: Throttle
    invite_requests_by_ip: Throttle
    records: RoomRecords
    anonymous_refusals: Sampler
    throttled_logins: Sampler
    admission: Admission
    rooms: RoomHub
    notes_store: NotesStore
    notes: NotesHub
    instruments: Instruments
    feedback: FeedbackStore
    principals: PrincipalCache
    recordings: Recordings
    speaking: SpeakingStore

    @classmethod
    def build(cls, config: Config, store: Store, bus: Bus, passwords: Passwords) -> Services:
        node_id = uuid.uuid4().hex[:12]
        directory: RoomDirectory = (
            RedisDirectory(config.redis_url, node_id)
            if config.redis_url and isinstance(bus, RedisBus)
            else MemoryDirectory(node_id)
        )
        metrics = Metrics()
        records = RoomRecords(store)
        writer = for_writing(store.engine)
        notes_store = SqlNotesStore(store.engine, writer)
        template_store = TemplateStore(store.engine, writer)
        principals = PrincipalCache()
        recordings = Recordings(store, config)
        speaking = SpeakingStore(store.engine)
        store.login_sessions.listener = store.users.listener = principals
        return cls(
            config=config,
            store=store,
            bus=bus,
            passwords=passwords,
            metrics=metrics,
            accounts=Accounts(store, passwords),
            login_failures_by_account=_throttle(
                config, config.login_attempts_per_account, "account"
            ),
            login_failures_by_ip=_throttle(config, config.login_attempts_per_ip, "ip"),
            invite_requests_by_ip=_throttle(
                config, config.invite_requests_per_minute, "invite-ip", window_s=60
            ),
            records=records,
            anonymous_refusals=Sampler(60.0),
            throttled_logins=Sampler(60.0),
            admission=_admission(config, metrics),
            rooms=RoomHub(
                node_id=node_id,
                bus=bus,
                directory=directory,
                records=records,
                metrics=metrics,
                grace_s=config.resume_grace_s,
                ended_logins=lambda logins: store.login_sessions.ended_among(
                    logins, now=time.time()
                ),
                media=MediaDriver(_media_config(config), recordings=recordings, speaking=speaking),
            ),
            notes_store=notes_store,
            notes=NotesHub(
                store=notes_store,
                bus=bus,
                node_id=node_id,
                multi_node=isinstance(bus, RedisBus),
                ended_sessions=store.sessions.ended_among,
                observe_commits=metrics.observe_notes_commit,
            ),
            instruments=Instruments(template_store),
            feedback=FeedbackStore(store.engine, writer),
            principals=principals,
            recordings=recordings,
            speaking=speaking,
        )


def _media_config(config: Config) -> MediaConfig:
    # The server's own address is found through STUN only: TURN credentials are per member.
    stun = (IceServer(urls=config.stun_urls),) if config.stun_urls else ()
    return MediaConfig(ice_servers=stun, max_streams=config.media_max_streams)


def _admission(config: Config, metrics: Metrics) -> Admission:
    by_account = config.socket_opens_per_minute
    by_address = config.socket_opens_per_minute_per_address
    shared: tuple[Throttle | None, Throttle | None] = (None, None)
    if config.redis_url:
        # Counted across nodes: N nodes must not allow N times as many opens (issue 13).
        fallback = metrics.shared_limit_fallbacks.inc
        shared = (
            RedisThrottle(
                config.redis_url, by_account, WINDOW_S, name="opens-account", on_fallback=fallback
            ),
            RedisThrottle(
                config.redis_url, by_address, WINDOW_S, name="opens-address", on_fallback=fallback
            ),
        )
    return Admission(
        opens_per_minute_per_account=by_account,
        opens_per_minute_per_address=by_address,
        messages_per_s_per_account=config.messages_per_second,
        message_burst_per_account=config.messages_per_second * 6,
        opens_by_account=shared[0],
        opens_by_address=shared[1],
    )


def _throttle(config: Config, limit: int, name: str, *, window_s: float | None = None) -> Throttle:
    window = config.login_window_s if window_s is None else window_s
    if config.redis_url:
        return RedisThrottle(config.redis_url, limit, window, name=name)
    return MemoryThrottle(limit, window)


def services(connection: HTTPConnection) -> Services:
    found: Services = connection.app.state.services
    return found
