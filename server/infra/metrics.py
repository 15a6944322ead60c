"""Prometheus metrics, one registry per app (no module globals)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

__all__ = ["Metrics"]

# Half a millisecond (an SSD's fsync) to seconds (a disk in trouble).
_DISK_WAIT_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "preceptor_http_requests",
            "HTTP requests served, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "preceptor_http_request_duration_seconds",
            "Time to serve an HTTP request.",
            ["route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        # One observation per batch of the notes' group commit (server/live/notes/group_commit.py),
        # not per update: what a slow disk does to typing shows here first.
        self.notes_commit_seconds = Histogram(
            "preceptor_notes_commit_seconds",
            "Time to store one batch of notes updates durably (one fsync'd transaction).",
            registry=self.registry,
            buckets=_DISK_WAIT_BUCKETS_S,
        )
        self.notes_commit_wait_seconds = Histogram(
            "preceptor_notes_commit_wait_seconds",
            "From the oldest update of a batch being queued to the batch's commit: the longest "
            "any of its updates waited before it could be relayed.",
            registry=self.registry,
            buckets=_DISK_WAIT_BUCKETS_S,
        )
        self.notes_commit_batch_updates = Histogram(
            "preceptor_notes_commit_batch_updates",
            "Updates stored together in one batch of the notes' group commit.",
            registry=self.registry,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 500),
        )
        self.sockets = Gauge(
            "preceptor_websockets_open",
            "WebSocket connections open now, by endpoint.",
            ["endpoint"],
            registry=self.registry,
        )
        self.rooms = Gauge(
            "preceptor_rooms_active",
            "Live session rooms held by this process.",
            registry=self.registry,
        )
        self.logins = Counter(
            "preceptor_logins",
            "Sign-in attempts, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.socket_refusals = Counter(
            "preceptor_websocket_refusals",
            "WebSocket handshakes refused, by endpoint and close code.",
            ["endpoint", "code"],
            registry=self.registry,
        )
        self.shared_limit_fallbacks = Counter(
            "preceptor_shared_limit_fallbacks",
            "Socket opens counted in this node's memory alone because Redis did not answer "
            "(the limits that hold across nodes, issue 13).",
            registry=self.registry,
        )
        self.rooms_moved = Counter(
            "preceptor_rooms_moved",
            "Rooms that moved between nodes, as this node saw it: `owner-silent` (it claimed a "
            "room whose node stopped sending heartbeats) or `claimed-elsewhere` (another node "
            "holds a room it ran). Under a steady load with every node up both stay at 0: "
            "anything else is a false death (issue 13).",
            ["why"],
            registry=self.registry,
        )
        self.asyncio_tasks = Gauge(
            "preceptor_asyncio_tasks",
            "asyncio tasks alive in this process when the metrics were read: flat under a "
            "steady load, so growth is a leak (bench/soak.py watches it).",
            registry=self.registry,
        )
        # process_resident_memory_bytes, process_open_fds, CPU seconds: read from /proc when
        # scraped (on Linux; elsewhere the collector reports nothing).
        ProcessCollector(registry=self.registry)
        for endpoint in ("signaling", "notes"):
            self.sockets.labels(endpoint=endpoint).set(0)
        for why in ("owner-silent", "claimed-elsewhere"):
            self.rooms_moved.labels(why=why)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method=method, route=route, status=str(status)).inc()
        self.request_seconds.labels(route=route).observe(seconds)

    def observe_notes_commit(self, commit_s: float, oldest_wait_s: float, updates: int) -> None:
        self.notes_commit_seconds.observe(commit_s)
        self.notes_commit_wait_seconds.observe(oldest_wait_s)
        self.notes_commit_batch_updates.observe(updates)

    def render(self) -> bytes:
        return generate_latest(self.registry)
