"""Where jobs run: a process pool, or the executor of a Dask cluster, behind one interface.

Both are ``concurrent.futures`` executors; :class:`Executor` adds how many jobs may be in
flight at once (``capacity``), a description for people (``where``), how to start a
fresh pool after a worker died (`restart`), whether a Dask scheduler is still there
(`lost`), and how to close it.

Process-pool workers end with the sweep: each watches the sweep's process and sends
itself SIGTERM when it is gone (within about half a second), so killing a sweep, even
with kill -9, leaves no workers behind; a worker stopped so checkpoints its job first.
(The forkserver the workers are forked from lives as long as they do, so the kernel's
parent-death signal cannot do this.)
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnncli.errors import InputError

DASK_HINT = "--dask needs the optional Dask extra: pip install 'rnncli[dask]'"
#: host:port, with a scheme or without (a bare name is refused here: Dask would try it
#: for its whole timeout, and then again while the process exits)
_ADDRESS = re.compile(r"^(?:(tcp|tls|ws|wss|ucx|inproc)://)?[^\s/:]+:\d{1,5}/?$")


def _gone(pid: int) -> bool:
    """Whether process `pid` has ended (a zombie, not yet reaped by its parent, has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return True
    except OSError:  # no /proc: ask the kernel whether the pid exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] in (["Z"], ["X"])


def _end_with(pid: int, every: float = 0.5) -> None:
    """SIGTERM this process once process `pid` (the sweep) is gone (a daemon thread)."""

    def watch() -> None:
        while not _gone(pid):
            time.sleep(every)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="rnncli-sweep-watch", daemon=True).start()


def _worker_init(blas_threads: int, sweep_pid: int) -> None:
    """Process-pool workers ignore Ctrl-C except inside train, which stops cleanly on it,
    end when the sweep ends (`_end_with`), and share the cores: each gets
    `blas_threads` BLAS (and OpenMP) threads.

    Without the limit, n workers on n cores start n BLAS pools of n threads each, and
    their threads wait on each other at every small matrix product: a 4-job adding sweep
    on 2 cores took 9.2-9.8 s, and 4.0 s with one BLAS thread per worker (same results:
    the products here do not depend on the thread count).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with(sweep_pid)
    from threadpoolctl import threadpool_limits

    threadpool_limits(blas_threads)  # called, not entered: the limit stays for the process


def blas_threads() -> int | None:
    """How many threads this process's BLAS uses (None if none is loaded)."""
    from threadpoolctl import threadpool_info

    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    return int(pools[0]["num_threads"]) if pools else None


def import_dask_client() -> Any:
    """``distributed.Client``, or an InputError with the install hint."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError(DASK_HINT) from None
    return Client


def broken_text(exc: BaseException | None) -> str:
    """Why a job ended when its process pool broke, with the likely causes."""
    return (
        f"its worker process died ({exc or 'killed'}); it may have run out of memory, or, "
        'when run_sweep is called from a script, the script lacks an `if __name__ == "__main__":` '
        "guard"
    )


@dataclass
class Executor:
    """An open executor: at most ``capacity`` jobs in flight; ``where`` is for people."""

    executor: cf.Executor
    capacity: int
    where: str
    client: Any = None
    abandon: bool = False  # do not wait for running jobs when closing
    make: Callable[[], cf.Executor] | None = None  # a fresh process pool
    timeout: float = 10.0
    address: str = ""
    _unhealthy_since: float | None = field(default=None, repr=False)

    def restart(self) -> bool:
        """Replace a broken process pool with a fresh one (False for Dask)."""
        if self.make is None:
            return False
        with contextlib.suppress(Exception):
            self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = self.make()
        return True

    def lost(self) -> bool:
        """Dask: the scheduler has not answered for longer than the timeout."""
        if self.client is None:
            return False
        if getattr(self.client, "status", "running") == "running":
            self._unhealthy_since = None
            return False
        now = time.monotonic()
        if self._unhealthy_since is None:
            self._unhealthy_since = now
        return now - self._unhealthy_since > self.timeout

    def close(self) -> None:
        wait = not self.abandon
        try:
            if isinstance(self.executor, cf.ProcessPoolExecutor):
                self.executor.shutdown(wait=wait, cancel_futures=True)
            elif self.client is not None and self.abandon:
                pass  # a lost scheduler: shutting its executor down would wait for it
            else:
                self.executor.shutdown(wait=wait)
        finally:
            if self.client is not None:
                _bounded(lambda: self.client.close(timeout=self.timeout), self.timeout + 2)


def _bounded(fn: Callable[[], Any], seconds: float) -> tuple[bool, Any, BaseException | None]:
    """Run fn in a daemon thread for at most `seconds`: (finished, result, error)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # reported to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive(), box.get("result"), box.get("error")


def connect_dask(address: str, timeout: float) -> Any:
    """A Client of the scheduler at `address`, or one line saying why not, within about
    `timeout` seconds (a port that is not a scheduler's, such as its dashboard's, must
    not hang the sweep or crash it)."""
    if not _ADDRESS.match(address):
        raise InputError(
            f"--dask {address}: not a scheduler address; expected e.g. tcp://127.0.0.1:8786"
        )
    Client = import_dask_client()
    # distributed logs its reconnection attempts at length: the sweep says it in one line
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    done, client, error = _bounded(
        lambda: Client(address, timeout=timeout, set_as_default=False), timeout + 5
    )
    if not done:
        raise InputError(
            f"--dask {address}: no Dask scheduler answered within {timeout:g} s "
            "(is it the scheduler's address, not its dashboard's?)"
        )
    if error is not None:
        text = " ".join(str(error).split())[:160] or type(error).__name__
        raise InputError(f"--dask {address}: cannot connect to a Dask scheduler ({text})")
    return client


def open_executor(workers: int | None, dask: str | None, timeout: float = 10.0) -> Executor:
    """A process pool of ``workers`` (default ``os.cpu_count()``) or, with ``dask``, the
    executor of a client of that scheduler. Raises InputError for bad values or no scheduler."""
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers}: expected at least 1")
    if dask is not None:
        client = connect_dask(dask, timeout)
        executor = client.get_executor(pure=False)
        threads = sum(client.nthreads().values())
        capacity = workers or max(1, threads)
        where = f"dask {dask} ({threads} threads)"
        return Executor(executor, capacity, where, client, timeout=timeout, address=dask)
    cores = os.cpu_count() or 1
    n = workers or cores
    threads = max(1, cores // n)
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")

    def make() -> cf.Executor:
        return cf.ProcessPoolExecutor(
            max_workers=n, mp_context=ctx, initializer=_worker_init,
            initargs=(threads, os.getpid()),
        )  # fmt: skip

    plural = "s" if threads > 1 else ""
    where = f"{n} worker process{'es' if n > 1 else ''}, {threads} BLAS thread{plural} each"
    return Executor(make(), n, where, make=make, timeout=timeout)
