"""Stopping on signals: Ctrl-C (SIGINT), SIGTERM (what SLURM, `timeout` and systemd
send) and SIGHUP (a closed terminal) all ask a run to stop cleanly.

`catch_stops()` turns them into a flag that the training loop polls between updates
(`Stop.requested`), so that a run ends with a checkpoint and status ``interrupted`` and
the process exits with 128 + the signal's number (130, 143, 129). The handlers stay in
place until the run's last write is done: a second Ctrl-C cannot cut the final save
short. Outside the main thread (a Dask worker) signals are not touched.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

SIGNALS = tuple(
    s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s is not None
)


@dataclass
class Stop:
    """What signals arrived: the first one, and how many."""

    signum: int | None = None
    count: int = 0
    _event: threading.Event = field(default_factory=threading.Event)

    def requested(self) -> bool:
        return self._event.is_set()

    def request(self, signum: int | None = None) -> None:
        if self.signum is None:
            self.signum = signum
        self.count += 1
        self._event.set()

    @property
    def exit_code(self) -> int:
        """128 + the first signal's number (130 for Ctrl-C)."""
        return 128 + (self.signum if self.signum is not None else signal.SIGINT)

    @property
    def name(self) -> str:
        if self.signum is None or self.signum == signal.SIGINT:
            return "interrupted"
        return f"stopped by {signal.Signals(self.signum).name}"


@contextmanager
def catch_stops(until_exit: bool = False) -> Iterator[Stop]:
    """Within the block, SIGINT/SIGTERM/SIGHUP set the returned `Stop` instead of killing
    the process (main thread only; elsewhere the Stop only stops when asked).
    `until_exit`: a process that is stopping keeps the handlers after the block, so that
    a second Ctrl-C while it prints and exits cannot kill it (and lose its exit code)."""
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: Any) -> None:
        stop.request(signum)

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield stop
    finally:
        if not (until_exit and stop.requested()):
            for s, old in previous.items():
                signal.signal(s, old)
