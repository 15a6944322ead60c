"""``preceptor`` under cProfile, for a benchmark's server (``BENCH_PROFILE_DIR``, see
bench/processes.py): the profile is written when the node exits on SIGTERM.

    python bench/profiled.py OUT.prof serve --port N
"""

from __future__ import annotations

import cProfile
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.cli import main


def profiled(out: str, argv: list[str]) -> None:
    # uvicorn re-raises the SIGTERM it caught once it has shut down, which would kill the
    # process before the profile is written: here, shutting down is the end.
    signal.raise_signal = lambda _signal: None
    sys.argv = ["preceptor", *argv]
    profile = cProfile.Profile()
    try:
        profile.runcall(main)
    except SystemExit:
        pass
    finally:
        profile.dump_stats(out)


if __name__ == "__main__":
    profiled(sys.argv[1], sys.argv[2:])
