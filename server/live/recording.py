"""The recordings of this node's rooms (issue 12): the media driver says when a room's consent
state starts or stops recording; this starts a copy-mux `Recorder` per publishing member, then
finalizes each file into a seekable one off the event loop and keeps its record. At start-up it
finds recordings a crash cut short, makes them playable and marks them `incomplete`; every hour
it deletes those past the retention period. Each step is audited.

Files: ``<data dir>/recordings/<id>.live`` while recording, ``<id>.<webm|mp4>`` once finalized,
both sealed (media/recording/sealed.py). With several nodes, point the data dir's `recordings`
at a shared directory: a room records on its owner node, and any node may serve it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import functools
import hashlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from media import MediaRouter
from media.recording import (
    Finished,
    Keyring,
    Recorder,
    SealedError,
    SealedReader,
    being_written,
    finalize,
)
from server.config import Config
from server.infra.storage import Recording, Store
from signaling import PeerId, RecordingState, SessionId

__all__ = ["Recordings"]

log = logging.getLogger("preceptor.recording")

_PURGE_EVERY_S = 3600.0
_VIEW_AUDIT_WINDOW_S = 600.0  # a player's many Range requests are one view
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


@dataclass
class _Active:
    recorders: dict[str, Recorder] = field(default_factory=dict)  # recording id -> recorder


def load_keyring(config: Config) -> Keyring:
    """The configured keys; without any, a key file made once under the data dir (fine for
    one machine; production sets PRECEPTOR_MEDIA_KEY_FILE outside the data dir)."""
    if config.media_keys:
        return Keyring(config.media_keys)
    path = config.data_dir / "media.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as file:
                file.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    keys = [base64.b64decode(line) for line in path.read_text().split()]
    return Keyring(keys)


class Recordings:
    def __init__(self, store: Store, config: Config) -> None:
        self._store = store
        self._config = config
        self.directory = config.data_dir / "recordings"
        self._keyring: Keyring | None = None
        self._active: dict[SessionId, _Active] = {}
        self._locks: dict[SessionId, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._verified: dict[str, tuple[int, int]] = {}  # id -> (size, mtime_ns) hashed OK
        self._views: dict[tuple[str, str], float] = {}

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            self._keyring = load_keyring(self._config)
        return self._keyring

    async def start(self) -> None:
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)
        self._spawn(self._recover_then_purge())

    async def close(self) -> None:
        for session in list(self._active):
            await self._stop(session)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- the media driver's side ------------------------------------------------------------

    def changed(
        self,
        session: SessionId,
        state: RecordingState,
        router: MediaRouter,
        publishers: set[PeerId],
        tell: Callable[[str], None],
    ) -> None:
        """The room's recording state moved; `tell` reaches the room's members (a full disk)."""
        if state is RecordingState.ACTIVE:
            self._spawn(self._serially(session, self._start(session, router, publishers, tell)))
        else:
            self._spawn(self._serially(session, self._stop(session)))

    async def _serially(self, session: SessionId, step: Coroutine[Any, Any, None]) -> None:
        lock = self._locks.setdefault(session, asyncio.Lock())
        async with lock:
            await step

    async def _start(
        self,
        session: SessionId,
        router: MediaRouter,
        publishers: set[PeerId],
        tell: Callable[[str], None],
    ) -> None:
        if session in self._active or not publishers:
            return  # nothing routed to record (a direct-mode room): the room switches first
        active = self._active[session] = _Active()
        existing = await self._store.recordings.for_session(session)
        segment = max((r.segment for r in existing), default=0) + 1
        codec = router.config.video_codec
        for peer in sorted(publishers):
            recording_id = uuid.uuid4().hex
            await self._store.recordings.begin(
                recording_id=recording_id,
                session_id=session,
                peer=peer,
                segment=segment,
                now=time.time(),
            )
            recorder = Recorder(
                self.directory / f"{recording_id}.live",
                self.keyring,
                video_codec=codec,
                kinds={"audio", "video"},
                on_problem=tell,
                on_start=functools.partial(self._media_started, recording_id),
                on_zero=functools.partial(self._media_started, recording_id),
            )
            tap = router.tap(session, peer, recorder)
            recorder.start(tap)
            active.recorders[recording_id] = recorder
        await self._store.audit.append(
            "recording.started", target=session, detail={"segment": str(segment)}
        )

    def _media_started(self, recording_id: str, at: float) -> None:
        # Stored as soon as it is known: a crash's recording lines up with the marks too.
        self._spawn(self._store.recordings.media_started(recording_id, at=at))

    async def _stop(self, session: SessionId) -> None:
        active = self._active.pop(session, None)
        if active is None:
            return
        for recording_id, recorder in active.recorders.items():
            outcome = await recorder.stop()
            if not outcome.started:
                await self._store.recordings.fail(recording_id, now=time.time())
                await asyncio.to_thread(_remove, recorder.path)
                continue
            told = recorder.started_at
            if outcome.started_at is not None and told is not None and told != outcome.started_at:
                # The zero told at the start, corrected by the frames that came after it.
                await self._store.recordings.media_started(recording_id, at=outcome.started_at)
            await self._finalize(recording_id, "complete")
        await self._store.audit.append("recording.stopped", target=session)

    async def _finalize(self, recording_id: str, state: str) -> Recording | None:
        live = self.directory / f"{recording_id}.live"
        try:
            finished = await asyncio.to_thread(self._finalize_file, recording_id)
        except Exception as error:
            if isinstance(error, OSError) and error.errno in _NO_SPACE:
                # No room for the playable copy (the disk that stopped the recording is
                # full): the live file stays whole and the row unfinished, so the hourly
                # recovery makes it playable once there is space. Nothing written is lost.
                log.warning("a recording waits for disk space to be finalized")
                return None
            # An unreadable file (nothing muxed yet, a foreign key).
            log.warning("a recording could not be finalized: %s", type(error).__name__)
            await self._store.recordings.fail(recording_id, now=time.time())
            return None
        await self._store.recordings.finish(
            recording_id,
            state=state,
            duration_s=finished.duration_s,
            size_bytes=finished.size,
            codecs=finished.codecs,
            container=finished.container,
            sha256=finished.sha256,
        )
        await asyncio.to_thread(_remove, live)
        return await self._store.recordings.get(recording_id)

    def _finalize_file(self, recording_id: str) -> Finished:
        live = self.directory / f"{recording_id}.live"
        # Written under a temporary name, renamed once whole: a crash here leaves the live file.
        partial = self.directory / f"{recording_id}.final-partial"
        _remove(partial)
        try:
            finished = finalize(live, partial, self.keyring)
        except BaseException:
            _remove(partial)  # a full disk: give back what the copy took
            raise
        partial.rename(self.directory / f"{recording_id}.{finished.container}")
        return finished

    # --- start-up and retention -------------------------------------------------------------

    async def _recover_then_purge(self) -> None:
        while True:
            try:
                await self.recover()
                await self.purge()
            except Exception:
                log.exception("recording recovery or retention failed")
            await asyncio.sleep(_PURGE_EVERY_S)

    async def recover(self) -> int:
        """Make every recording a crash cut short playable, marked `incomplete`. A live file
        that a recorder still holds (its lock; on another node sharing the directory) is left
        alone, and looked at again next hour; a killed process holds nothing, so a restart
        recovers its recordings at once."""
        recovered = 0
        for recording in await self._store.recordings.unfinished():
            session = SessionId(recording.session_id)
            # Under the session's lock: a stop of this node finalizing it is not raced.
            async with self._locks.setdefault(session, asyncio.Lock()):
                if session in self._active:
                    continue
                if (await self._store.recordings.get(recording.id)) != recording:
                    continue  # finished meanwhile
                live = self.directory / f"{recording.id}.live"
                if await asyncio.to_thread(being_written, live):
                    continue
                done = await self._finalize(recording.id, "incomplete")
            await self._store.audit.append(
                "recording.recovered",
                target=recording.session_id,
                detail={"recording": recording.id, "state": done.state if done else "failed"},
            )
            recovered += done is not None
        return recovered

    async def purge(self, now: float | None = None) -> int:
        """Delete recordings older than the retention period; each deletion is audited."""
        now = time.time() if now is None else now
        cutoff = now - self._config.recording_retention_days * 86400
        expired = await self._store.recordings.started_before(cutoff)
        for recording in expired:
            await self.delete(recording, actor_id=None, reason="retention")
        return len(expired)

    async def delete(self, recording: Recording, *, actor_id: str | None, reason: str) -> None:
        await asyncio.to_thread(_remove, self.file(recording))
        await asyncio.to_thread(_remove, self.directory / f"{recording.id}.live")
        await self._store.recordings.delete(recording.id)
        await self._store.audit.append(
            "recording.deleted",
            actor_id=actor_id,
            target=recording.session_id,
            detail={"recording": recording.id, "reason": reason},
        )

    # --- playback ---------------------------------------------------------------------------

    def file(self, recording: Recording) -> Path:
        # Built from the row's id (a uuid we made) and container, never from a request's path.
        return self.directory / f"{recording.id}.{recording.container or 'webm'}"

    def open(self, recording: Recording) -> SealedReader:
        """Blocking: call in a worker thread."""
        return SealedReader(self.file(recording), self.keyring)

    async def verify(self, recording: Recording) -> bool:
        """The file is the one finalized: its SHA-256 matches the record (checked once per
        version of the file; every chunk is also authenticated as it is read)."""
        path = self.file(recording)
        try:
            stat = await asyncio.to_thread(path.stat)
        except OSError:
            return False
        version = (stat.st_size, stat.st_mtime_ns)
        if self._verified.get(recording.id) == version:
            return True
        digest = await asyncio.to_thread(self._hash, recording)
        if digest is None or digest != recording.sha256:
            return False
        self._verified[recording.id] = version
        return True

    def _hash(self, recording: Recording) -> str | None:
        digest = hashlib.sha256()
        try:
            with self.open(recording) as reader:
                while block := reader.read(1 << 20):
                    digest.update(block)
        except (OSError, SealedError):
            return None
        return digest.hexdigest()

    def first_view(self, principal_id: str, recording_id: str, now: float) -> bool:
        """Whether this request starts a view (to audit) rather than continue one."""
        for key, at in list(self._views.items()):
            if now - at > _VIEW_AUDIT_WINDOW_S:
                del self._views[key]
        key = (principal_id, recording_id)
        fresh = key not in self._views
        self._views[key] = now
        return fresh

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a recording step failed", exc_info=task.exception())


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
