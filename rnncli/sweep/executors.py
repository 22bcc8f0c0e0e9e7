"""Where jobs run: a process pool, or the executor of a Dask cluster, behind one interface.

Both are ``concurrent.futures`` executors; :class:`Executor` adds how many jobs may be in
flight at once (``capacity``), a description for people (``where``) and how to close it.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import signal
from dataclasses import dataclass
from typing import Any

from rnncli.errors import InputError

DASK_HINT = "--dask needs the optional Dask extra: pip install 'rnncli[dask]'"


def _worker_init(blas_threads: int) -> None:
    """Process-pool workers ignore Ctrl-C except inside train, which stops cleanly on it,
    and share the cores: each gets `blas_threads` BLAS (and OpenMP) threads.

    Without the limit, n workers on n cores start n BLAS pools of n threads each, and
    their threads wait on each other at every small matrix product: a 4-job adding sweep
    on 2 cores took 9.2-9.8 s, and 4.0 s with one BLAS thread per worker (same results:
    the products here do not depend on the thread count).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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
    """Why a sweep stopped when its process pool broke, with the likely causes."""
    return (
        f"a worker process died ({exc}); it may have run out of memory, or, when run_sweep is "
        'called from a script, the script lacks an `if __name__ == "__main__":` guard'
    )


@dataclass
class Executor:
    """An open executor: at most ``capacity`` jobs in flight; ``where`` is for people."""

    executor: cf.Executor
    capacity: int
    where: str
    client: Any = None
    abandon: bool = False  # do not wait for running jobs when closing

    def close(self) -> None:
        wait = not self.abandon
        try:
            if isinstance(self.executor, cf.ProcessPoolExecutor):
                self.executor.shutdown(wait=wait, cancel_futures=True)
            else:
                self.executor.shutdown(wait=wait)
        finally:
            if self.client is not None:
                with contextlib.suppress(Exception):
                    self.client.close()


def open_executor(workers: int | None, dask: str | None) -> Executor:
    """A process pool of ``workers`` (default ``os.cpu_count()``) or, with ``dask``, the
    executor of a client of that scheduler. Raises InputError for bad values or no scheduler."""
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers}: expected at least 1")
    if dask is not None:
        Client = import_dask_client()
        try:
            client = Client(dask, timeout=10, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"--dask {dask}: cannot connect to a Dask scheduler ({exc})") from None
        executor = client.get_executor(pure=False)
        threads = sum(client.nthreads().values())
        capacity = workers or max(1, threads)
        return Executor(executor, capacity, f"dask {dask} ({threads} threads)", client)
    cores = os.cpu_count() or 1
    n = workers or cores
    threads = max(1, cores // n)
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    pool = cf.ProcessPoolExecutor(
        max_workers=n, mp_context=ctx, initializer=_worker_init, initargs=(threads,)
    )
    plural = "s" if threads > 1 else ""
    where = f"{n} worker process{'es' if n > 1 else ''}, {threads} BLAS thread{plural} each"
    return Executor(pool, n, where)
