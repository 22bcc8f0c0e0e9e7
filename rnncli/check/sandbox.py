"""The learner's code runs in a child process; this is rnncli's side of it.

`Sandbox` starts ``python -m rnncli.check.child`` in a fresh interpreter, in its own
session (so Ctrl-C reaches rnncli, which then kills it) and an empty temporary working
directory, with BLAS on one thread, its address space capped at `memory_mib`, and a
CPU-time backstop should rnncli itself die. Each request has a deadline (the time limit
per function; loading the file gets at least `LOAD_TIMEOUT`): a function that does not
answer in time gets ``timeout``, a child that dies gets ``crashed``; either way the child
is killed, and the next function gets a fresh one that loads the file again.

rnncli takes nothing from the child but JSON lines, read with a deadline and validated
(`FunctionResult.from_json`), so the learner's code cannot reach rnncli's own state; the
run folder is written by rnncli alone. (The learner's code still runs with the user's
rights: this isolates mistakes, it is not a security sandbox.)
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rnncli.check.load import Source
from rnncli.check.results import FunctionResult
from rnncli.check.spec import FUNCTIONS

MAX_MESSAGE = 16 * 2**20  # bytes; a longer "line" is not rnncli's child talking
LOAD_TIMEOUT = 30.0  # s, at least: starting Python and NumPy on a busy machine is not a hang


class ChildGone(Exception):
    """The child did not answer: it timed out, or died (the message says how)."""

    def __init__(self, verdict: str, message: str) -> None:
        super().__init__(message)
        self.verdict = verdict  # "timeout" | "crashed"
        self.message = message


@dataclass
class Loaded:
    """What loading the learner's file found."""

    present: list[str]
    notes: list[str] = field(default_factory=list)


class Sandbox:
    """One learner file in a child process, restarted after a timeout or crash."""

    def __init__(self, source: Source, text: str, timeout: float, memory_mib: int) -> None:
        self.source, self.text = source, text
        self.timeout, self.memory_mib = timeout, memory_mib
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._workdir = tempfile.TemporaryDirectory(prefix="rnncli-check-")
        self._stderr: IO[bytes] | None = None
        # functions that hung or killed the child: a backward is not fed their cache
        self.unusable: dict[str, str] = {}

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._kill()
        self._workdir.cleanup()

    # ---------------------------------------------------------------- the process

    def _start(self) -> None:
        env = dict(os.environ)
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = "1"  # small matrices; and a learner's process is not to fan out
        env.pop("PYTHONSTARTUP", None)
        cpu = int(self.timeout * (len(FUNCTIONS) + 2)) + 30  # only if rnncli dies first
        self._stderr = tempfile.TemporaryFile(dir=self._workdir.name)  # noqa: SIM115 - closed in _kill
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "rnncli.check.child", "--memory", str(self.memory_mib),
             "--cpu", str(cpu)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            cwd=self._workdir.name, env=env, start_new_session=True,
        )  # fmt: skip
        self._buffer = b""

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the child and anything it started
            except (ProcessLookupError, PermissionError):
                proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout, self._stderr):
            if stream is not None:
                stream.close()
        self._stderr = None

    def _died(self) -> ChildGone:
        """Why the child is gone: its exit status and the last line it wrote to stderr."""
        assert self._proc is not None
        try:
            code = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        tail = ""
        if self._stderr is not None:
            self._stderr.seek(0, os.SEEK_END)
            self._stderr.seek(max(0, self._stderr.tell() - 4096))
            lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
            tail = lines[-1].strip()[:160] if lines else ""
        if code is not None and code < 0:
            how = f"killed by signal {-code} ({signal.Signals(-code).name})"
        elif code is not None:
            how = f"the process exited with code {code}"
        else:
            how = "the process stopped answering"
        return ChildGone("crashed", how + (f": {tail}" if tail else ""))

    def _send(self, msg: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        if self._stderr is not None:  # keep only what this request makes it write
            self._stderr.seek(0)
            self._stderr.truncate()
        try:
            self._proc.stdin.write(json.dumps(msg).encode() + b"\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died() from None

    def _receive(self, timeout: float) -> dict[str, Any]:
        """The child's next JSON line, within `timeout` seconds."""
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + timeout
        fd = self._proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise ChildGone("timeout", f"no answer within {timeout:g} s")
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise self._died()
                self._buffer += chunk
                if len(self._buffer) > MAX_MESSAGE:
                    raise ChildGone("crashed", "the process wrote an oversized message")
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            msg = json.loads(line)
        except ValueError:
            raise ChildGone("crashed", "the process wrote something that is not JSON") from None
        if not isinstance(msg, dict):
            raise ChildGone("crashed", "the process wrote an unexpected message")
        return msg

    def _request(self, msg: dict[str, Any], op: str, timeout: float) -> dict[str, Any]:
        try:
            self._send(msg)
            reply = self._receive(timeout)
        except ChildGone:
            self._kill()
            raise
        if reply.get("op") != op:
            self._kill()
            raise ChildGone("crashed", f"unexpected answer {str(reply.get('op'))[:40]!r}")
        return reply

    # ---------------------------------------------------------------- requests

    def load(self) -> Loaded:
        """Start a child and run the file's definitions; ChildGone if that fails."""
        self._kill()
        self._start()
        directory = str(Path(self.source.path).resolve().parent)
        msg = {"op": "load", "path": self.source.path, "kind": self.source.kind,
               "text": self.text, "dir": directory}  # fmt: skip
        reply = self._request(msg, "loaded", max(self.timeout, LOAD_TIMEOUT))
        present, notes = reply.get("present"), reply.get("notes", [])
        if not isinstance(present, list) or not isinstance(notes, list):
            self._kill()
            raise ChildGone("crashed", "the process answered the load with a malformed message")
        return Loaded([n for n in present if n in FUNCTIONS], [str(n)[:300] for n in notes])

    def check(self, name: str, seed: int) -> FunctionResult:
        """Every check of one function; a timeout or crash becomes its verdict."""
        start = time.monotonic()
        try:
            if self._proc is None:
                self.load()
            msg = {"op": "check", "name": name, "seed": seed, "unusable": self.unusable}
            reply = self._request(msg, "result", self.timeout)
            result = FunctionResult.from_json(reply.get("result"))
            if result.name != name:
                raise ValueError("a result for another function")
        except ChildGone as gone:
            result = FunctionResult(name, gone.verdict, gone.message)
            self.unusable[name] = "timed out" if gone.verdict == "timeout" else "crashed"
        except (ValueError, TypeError) as exc:
            self._kill()
            result = FunctionResult(name, "crashed", f"malformed result from the process: {exc}")
        result.seconds = round(time.monotonic() - start, 3)
        return result
