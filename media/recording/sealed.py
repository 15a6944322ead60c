"""Recording files encrypted as they are written: AES-256-GCM in fixed-size chunks.

    header   b"PRCSEAL1" | chunk size (u32) | key id (8 bytes) | file nonce (12 bytes)   = 32 bytes
    chunk i  at 32 + i * (chunk size + 28): nonce (12) | ciphertext | tag (16)

Each chunk has its own random nonce and is bound to its file and its place (the header and the
chunk's index are its associated data), so chunks cannot be swapped between files or reordered.
A Range read decrypts only the chunks it covers. The last chunk may be short; it is rewritten in
place (with a new nonce) on each `flush` as it fills, so a crash leaves every chunk written
before it readable, and what was flushed into the last one.
A random 96-bit nonce per chunk keeps well under NIST SP 800-38D's 2^32 messages per key.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import struct
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "CHUNK_SIZE",
    "Keyring",
    "SealedError",
    "SealedReader",
    "SealedWriter",
    "being_written",
    "plain_size",
]

MAGIC = b"PRCSEAL1"
CHUNK_SIZE = 64 * 1024
_HEADER = struct.Struct("!8sI8s12s")
_NONCE, _TAG = 12, 16
_INDEX = struct.Struct("!Q")


class SealedError(Exception):
    """The file is not a sealed recording, its key is unknown, or a chunk is not authentic."""


class Keyring:
    """The current key (writes) and earlier ones (reads of files written before a rotation)."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys or any(len(key) != 32 for key in keys):
            raise ValueError("recording keys must be 32 bytes (AES-256)")
        self._keys = {self.key_id(key): AESGCM(key) for key in keys}
        self.current = self.key_id(keys[0])

    @staticmethod
    def key_id(key: bytes) -> bytes:
        return hashlib.sha256(b"preceptor-media-key\0" + key).digest()[:8]

    def cipher(self, key_id: bytes) -> AESGCM:
        try:
            return self._keys[key_id]
        except KeyError:
            raise SealedError(
                "the recording was sealed with a key this server does not have"
            ) from None


def _slot(chunk_size: int) -> int:
    return _NONCE + chunk_size + _TAG


def being_written(path: Path) -> bool:
    """Whether a live `SealedWriter` (of any process on this machine, or on any node of a shared
    directory whose filesystem has locks, as NFSv4 does) still holds the file."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing lets go of the lock, if we took it
    return False


def plain_size(path: Path) -> int:
    """The plaintext length of a sealed file, from its size alone (every chunk is whole)."""
    with path.open("rb") as file:
        header = file.read(_HEADER.size)
        size = os.fstat(file.fileno()).st_size
    if len(header) < _HEADER.size or header[:8] != MAGIC:
        raise SealedError("not a sealed recording")
    chunk_size: int = _HEADER.unpack(header)[1]
    full, rest = divmod(size - _HEADER.size, _slot(chunk_size))
    return full * chunk_size + max(rest - _NONCE - _TAG, 0)


class SealedWriter:
    """A write-only (and, for a muxer's final header patch, seekable) file-like object.

    Blocking: use it from a worker thread. A chunk is sealed and written once it is full (or
    left for another); the short last one on `flush` and `close`: flushed, what a muxer has handed
    over survives the process being killed. (Sealing the last chunk on every `write` re-encrypted
    it for each of the muxer's buffer-sized writes, ~5 for every cluster.)
    """

    def __init__(self, path: Path, keyring: Keyring, chunk_size: int = CHUNK_SIZE) -> None:
        self._keyring = keyring
        self._cipher = keyring.cipher(keyring.current)
        self._chunk_size = chunk_size
        self._header = _HEADER.pack(MAGIC, chunk_size, keyring.current, os.urandom(_NONCE))
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        # Held until closed, and let go by the kernel if the process dies: a file nobody holds
        # is no longer being written (start-up recovery asks `being_written`).
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.pwrite(self._fd, self._header, 0)
        self._index = 0
        self._chunk = bytearray()
        self._dirty = False
        self._position = 0
        self.size = 0
        self.closed = False

    # --- the file-like interface PyAV uses ------------------------------------------------

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            index, offset = divmod(self._position, self._chunk_size)
            self._load(index)
            take = min(len(view), self._chunk_size - offset)
            if offset > len(self._chunk):
                raise SealedError("writes must not leave a hole")
            self._chunk[offset : offset + take] = view[:take]
            self._dirty = True
            view = view[take:]
            self._position += take
            self.size = max(self.size, self._position)
        return len(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_CUR:
            offset += self._position
        elif whence == os.SEEK_END:
            offset += self.size
        if not 0 <= offset <= self.size:
            raise SealedError("seek out of the written range")
        self._position = offset
        return offset

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        self._store()

    def close(self) -> None:
        if not self.closed:
            self._store()
            os.fsync(self._fd)
            os.close(self._fd)
            self.closed = True

    # --- chunks ---------------------------------------------------------------------------

    def _load(self, index: int) -> None:
        if index == self._index:
            return
        self._store()
        self._index = index
        # Going back (a muxer patching its header at the end) reads the chunk that is there.
        written = index * self._chunk_size < self.size
        self._chunk = bytearray(self._read_chunk(index) if written else b"")

    def _read_chunk(self, index: int) -> bytes:
        slot = _slot(self._chunk_size)
        blob = os.pread(self._fd, slot, _HEADER.size + index * slot)
        return _open_chunk(self._cipher, self._header, index, blob)

    def _store(self) -> None:
        if not self._dirty:
            return
        nonce = os.urandom(_NONCE)
        sealed = self._cipher.encrypt(nonce, bytes(self._chunk), self._aad(self._index))
        slot = _slot(self._chunk_size)
        os.pwrite(self._fd, nonce + sealed, _HEADER.size + self._index * slot)
        self._dirty = False

    def _aad(self, index: int) -> bytes:
        return self._header + _INDEX.pack(index)


def _open_chunk(cipher: AESGCM, header: bytes, index: int, blob: bytes) -> bytes:
    if len(blob) < _NONCE + _TAG:
        raise SealedError(f"chunk {index} is cut short")
    try:
        return cipher.decrypt(blob[:_NONCE], blob[_NONCE:], header + _INDEX.pack(index))
    except InvalidTag:
        raise SealedError(f"chunk {index} is not authentic") from None


class SealedReader:
    """Random-access plaintext of a sealed file; decrypts only the chunks a read covers.

    `tolerate_torn_tail`: a last chunk that fails to authenticate (torn by a power cut) ends the
    file there instead of failing the read (crash recovery). Blocking: use from a worker thread.
    """

    def __init__(self, path: Path, keyring: Keyring, *, tolerate_torn_tail: bool = False) -> None:
        self._file = path.open("rb")
        header = self._file.read(_HEADER.size)
        if len(header) < _HEADER.size or header[:8] != MAGIC:
            self._file.close()
            raise SealedError("not a sealed recording")
        _, self._chunk_size, key_id, _ = _HEADER.unpack(header)
        self._header = header
        self._cipher = keyring.cipher(key_id)
        slot = _slot(self._chunk_size)
        total = os.fstat(self._file.fileno()).st_size - _HEADER.size
        self._chunks = -(-total // slot)
        self.size = plain_size(path)
        self._cache: tuple[int, bytes] | None = None
        self._position = 0
        if tolerate_torn_tail and self._chunks:
            try:
                self._chunk(self._chunks - 1)
            except SealedError:
                self._chunks -= 1
                self.size = self._chunks * self._chunk_size

    def _chunk(self, index: int) -> bytes:
        if self._cache is not None and self._cache[0] == index:
            return self._cache[1]
        slot = _slot(self._chunk_size)
        self._file.seek(_HEADER.size + index * slot)
        plain = _open_chunk(self._cipher, self._header, index, self._file.read(slot))
        self._cache = (index, plain)
        return plain

    def read_range(self, start: int, end: int) -> bytes:
        """Plaintext bytes [start, end) (clipped to the file)."""
        end = min(end, self.size)
        parts: list[bytes] = []
        position = start
        while position < end:
            index, offset = divmod(position, self._chunk_size)
            chunk = self._chunk(index)
            part = chunk[offset : offset + end - position]
            if not part:
                break
            parts.append(part)
            position += len(part)
        return b"".join(parts)

    # --- the file-like interface PyAV uses ------------------------------------------------

    def read(self, size: int = -1) -> bytes:
        end = self.size if size < 0 else self._position + size
        data = self.read_range(self._position, end)
        self._position += len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_CUR:
            offset += self._position
        elif whence == os.SEEK_END:
            offset += self.size
        self._position = max(0, min(offset, self.size))
        return self._position

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SealedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
