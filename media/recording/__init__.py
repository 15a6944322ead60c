"""Recording by copy-mux: the forwarder's packets into sealed (encrypted) files, never decoded.

See `media/recording/recorder.py` for how a room drives it, `sealed.py` for the file format.
"""

from media.recording.muxer import Finished, LiveFile, finalize
from media.recording.recorder import Outcome, Recorder
from media.recording.sealed import (
    CHUNK_SIZE,
    Keyring,
    SealedError,
    SealedReader,
    SealedWriter,
    being_written,
)

__all__ = [
    "CHUNK_SIZE",
    "Finished",
    "Keyring",
    "LiveFile",
    "Outcome",
    "Recorder",
    "SealedError",
    "SealedReader",
    "SealedWriter",
    "being_written",
    "finalize",
]
