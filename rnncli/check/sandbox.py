"""The learner's code runs in a child process; this is rnncli's side of it.

`Sandbox` starts ``python -m rnncli.check.child`` in a fresh interpreter, contained by
`rnncli.check.contain` (bubblewrap where it works: own PID namespace, no network, a
read-only file system; else its own session and rlimits, as nobody when rnncli is root),
in an empty temporary working directory, with BLAS on one thread, its address space
capped at `memory_mib`, and a CPU-time backstop. SIGTERM and SIGHUP to rnncli kill the
child's whole tree before rnncli goes (Ctrl-C does, through the ``with``), and the child
dies with rnncli (``--die-with-parent``, PR_SET_PDEATHSIG).

The child only runs the learner's functions on inputs rnncli sends (`RemoteLearner`) and
sends back plain numbers (`rnncli.check.wire`): the checks, reference computations,
finite differences and verdicts (`rnncli.check.checks`) run here, in rnncli's process,
which never imports the learner's code. Each request carries a fresh id (a sequence
number and a random nonce); a reply must carry it, and a reply or byte rnncli did not
ask for is a protocol violation, reported against the function being checked. The pipes
are passed to the child only (not its stdin/stdout, which the learner's ``print`` and
``input`` would use) and moved to random fd numbers there. This defends against a
learner's code writing a forged line where output goes, or a stale answer; it cannot
stop code that searches its own process for the pipe, but what that code could send is
only the numbers its own function returns, which rnncli compares itself.

Each function has the time limit per function for the child's answers (loading the file
gets at least `LOAD_TIMEOUT`): a function that does not answer in time gets ``timeout``,
a child that dies gets ``crashed``; either way the child is killed, and the next
function gets a fresh one that loads the file again.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

from rnncli.check import wire
from rnncli.check.checks import Failure, Outcome, check_function
from rnncli.check.contain import containment, subreaper
from rnncli.check.load import Source
from rnncli.check.results import FunctionResult
from rnncli.check.spec import FUNCTIONS, SPECS

MAX_MESSAGE = 64 * 2**20  # bytes; a longer "line" is not rnncli's child talking
LOAD_TIMEOUT = 30.0  # s, at least: starting Python and NumPy on a busy machine is not a hang
_SAID: set[str] = set()  # the containment notice, once per process


class ChildGone(Exception):
    """The child did not answer: it timed out, or died (the message says how)."""

    def __init__(self, verdict: str, message: str) -> None:
        super().__init__(message)
        self.verdict = verdict  # "timeout" | "crashed"
        self.message = message


def _violation(what: str) -> ChildGone:
    return ChildGone("crashed", f"protocol violation: {what}")


@dataclass
class Loaded:
    """What loading the learner's file found."""

    present: list[str]
    notes: list[str] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)  # name -> its type's name
    callable: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


class Sandbox:
    """One learner file in a child process, restarted after a timeout or crash."""

    def __init__(self, source: Source, text: str, timeout: float, memory_mib: int) -> None:
        self.source, self.text = source, text
        self.timeout, self.memory_mib = timeout, memory_mib
        self._proc: subprocess.Popen[bytes] | None = None
        self._to_child: IO[bytes] | None = None
        self._from_child: int | None = None
        self._buffer = b""
        self._seq = 0
        self._workdir = tempfile.TemporaryDirectory(prefix="rnncli-check-")
        self._stderr: IO[bytes] | None = None
        self._uid: int | None = None  # the fallback's user for the child
        self._handlers: dict[int, Any] = {}
        self.loaded: Loaded | None = None
        self.containment = ""  # "bwrap" | "fallback", once a child started
        self.waited = 0.0  # seconds spent waiting for the child's answers
        # functions that hung or killed the child: a backward is not fed their cache
        self.unusable: dict[str, str] = {}

    def __enter__(self) -> Sandbox:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGHUP):
                self._handlers[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._kill()
        for sig, old in self._handlers.items():
            signal.signal(sig, old)
        self._handlers.clear()
        self._workdir.cleanup()

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        """Kill the child's tree, then die of `sig` as rnncli would have without us."""
        self._kill()
        old = self._handlers.get(sig, signal.SIG_DFL)
        if callable(old):
            old(sig, frame)
            return
        signal.signal(sig, signal.SIG_DFL if old is None else old)
        os.kill(os.getpid(), sig)

    # ---------------------------------------------------------------- the process

    def _start(self) -> None:
        env = dict(os.environ)
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = "1"  # small matrices; and a learner's process is not to fan out
        env.pop("PYTHONSTARTUP", None)
        cpu = int(self.timeout * (len(FUNCTIONS) + 2)) + 30  # only if rnncli dies first
        directory = str(Path(self.source.path).resolve().parent)
        how = containment(self._workdir.name, [directory])
        if how.notice and how.notice not in _SAID:
            _SAID.add(how.notice)
            print(how.notice, file=sys.stderr, flush=True)
        self.containment, self._uid = how.kind, how.uid
        if how.uid is not None:
            subreaper()  # a descendant that leaves its session still comes back to us
        self._stderr = tempfile.TemporaryFile(dir=self._workdir.name)  # noqa: SIM115 - closed in _kill
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [*how.prefix, sys.executable, "-m", "rnncli.check.child",
                 "--memory", str(self.memory_mib), "--cpu", str(cpu),
                 "--fds", f"{req_r},{rep_w}"],
                stdin=subprocess.DEVNULL, stdout=self._stderr, stderr=self._stderr,
                cwd=self._workdir.name, env=env, start_new_session=True,
                pass_fds=(req_r, rep_w), preexec_fn=how.preexec,  # noqa: PLW1509
            )  # fmt: skip
        except BaseException:
            for fd in (req_r, req_w, rep_r, rep_w):
                os.close(fd)
            raise
        os.close(req_r)
        os.close(rep_w)
        self._to_child = os.fdopen(req_w, "wb")
        self._from_child = rep_r
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
        self._kill_orphans()
        if self._to_child is not None:
            with suppress(OSError):
                self._to_child.close()
        if self._from_child is not None:
            os.close(self._from_child)
        if self._stderr is not None:
            self._stderr.close()
        self._to_child = self._from_child = self._stderr = None

    def _kill_orphans(self) -> None:
        """The fallback as nobody: kill the child's descendants that left its session
        (rnncli is their subreaper, so they are rnncli's children now)."""
        if self._uid is None or not Path("/proc").is_dir():
            return
        me = str(os.getpid())
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines())
                if fields["PPid"].strip() == me and fields["Uid"].split()[0] == str(self._uid):
                    pid = int(status.parent.name)
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
            except (OSError, ValueError, KeyError, ChildProcessError):
                continue

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
            lines = [ln for ln in lines if not ln.startswith("bwrap: ")] or lines
            tail = lines[-1].strip()[:160] if lines else ""
        if code is not None and code < 0:
            how = f"killed by signal {-code} ({signal.Signals(-code).name})"
        elif code is not None:
            how = f"the process exited with code {code}"
        else:
            how = "the process stopped answering"
        return ChildGone("crashed", how + (f": {tail}" if tail else ""))

    def _quiet(self) -> None:
        """Nothing may be waiting from the child before rnncli asks."""
        assert self._from_child is not None
        if self._buffer:
            raise _violation("an answer rnncli did not ask for")
        with selectors.DefaultSelector() as sel:
            sel.register(self._from_child, selectors.EVENT_READ)
            if sel.select(0):
                if not os.read(self._from_child, 65536):
                    raise self._died()
                raise _violation("an answer rnncli did not ask for")

    def _send(self, msg: dict[str, Any]) -> None:
        assert self._proc is not None and self._to_child is not None
        if self._stderr is not None:  # keep only what this request makes it write
            self._stderr.seek(0)
            self._stderr.truncate()
        try:
            self._to_child.write(json.dumps(msg).encode() + b"\n")
            self._to_child.flush()
        except (BrokenPipeError, OSError):
            raise self._died() from None

    def _receive(self, timeout: float, limit: float) -> dict[str, Any]:
        """The child's next JSON line, within `timeout` seconds (`limit` names the limit)."""
        assert self._proc is not None and self._from_child is not None
        deadline = time.monotonic() + timeout
        fd = self._from_child
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise ChildGone("timeout", f"no answer within {limit:g} s")
                chunk = os.read(fd, 1 << 20)
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
            raise _violation("an unexpected message")
        return msg

    def _request(
        self, msg: dict[str, Any], op: str, timeout: float, limit: float | None = None
    ) -> dict[str, Any]:
        self._seq += 1
        rid = f"{self._seq}-{secrets.token_hex(8)}"
        start = time.monotonic()
        try:
            self._quiet()
            self._send({**msg, "id": rid})
            reply = self._receive(timeout, timeout if limit is None else limit)
            if reply.get("id") != rid or reply.get("op") != op:
                raise _violation("an answer rnncli did not ask for")
        except ChildGone:
            self._kill()
            raise
        finally:
            self.waited += time.monotonic() - start
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
        calls, skipped = reply.get("callable", []), reply.get("skipped", {})
        if not (isinstance(present, dict) and isinstance(notes, list)
                and isinstance(calls, list) and isinstance(skipped, dict)):  # fmt: skip
            self._kill()
            raise _violation("a malformed answer to the load")
        kinds = {n: str(present[n])[:60] or "object" for n in FUNCTIONS if n in present}
        self.loaded = Loaded(
            list(kinds),
            [str(n)[:300] for n in notes],
            kinds,
            [n for n in FUNCTIONS if n in calls and n in kinds],
            {str(k)[:100]: str(v)[:100] for k, v in list(skipped.items())[:1000]},
        )
        return self.loaded

    def call(self, msg: dict[str, Any], budget_start: float) -> dict[str, Any]:
        """One call of a learner's function, within what is left of the function's time."""
        if self._proc is None:
            raise ChildGone("crashed", "the process is gone")
        left = self.timeout - (self.waited - budget_start)
        if left <= 0:
            self._kill()
            raise ChildGone("timeout", f"no answer within {self.timeout:g} s")
        return self._request(msg, "returned", left, self.timeout)

    def check(self, name: str, seed: int) -> FunctionResult:
        """Every check of one function, run here on what the child's calls return."""
        start = time.monotonic()
        try:
            if self._proc is None or self.loaded is None:
                self.load()
            assert self.loaded is not None
            learner = RemoteLearner(self, name, self.loaded)
            # RemoteLearner has Learner's interface (ns, skipped, call, failure, isolated)
            result = check_function(name, learner, seed, self.unusable)  # type: ignore[arg-type]
            result = self._again_with_parameters(name, learner, seed, result)
            if result.verdict == "pass" and result.total == 0:
                result.verdict, result.message = "error", "no check ran"
        except ChildGone as gone:
            result = FunctionResult(name, gone.verdict, gone.message)
            self.unusable[name] = "timed out" if gone.verdict == "timeout" else "crashed"
        except wire.WireError as exc:
            self._kill()
            result = FunctionResult(name, "crashed", f"protocol violation: {exc}")
            self.unusable[name] = "crashed"
        except Exception as exc:  # rnncli's side could not make sense of a plain value
            why = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            result = FunctionResult(name, "error", f"could not be checked ({why})")
        result.seconds = round(time.monotonic() - start, 3)
        return result


    def _again_with_parameters(
        self, name: str, learner: RemoteLearner, seed: int, first: FunctionResult
    ) -> FunctionResult:
        """After `test-cell-global` for a weight (Wf), check again with it (and any other
        weight read from test code) taken from `parameters`, so its other bugs show too."""
        params = SPECS[name].cell.params
        result, names = first, []
        for _ in range(len(params)):
            d = result.diagnosis[0] if result.diagnosis else None
            missing = d.evidence.split("'")[1] if d and d.id == "test-cell-global" else ""
            if missing not in params or missing in names:
                break
            names.append(missing)
            learner.from_parameters = list(names)
            result = check_function(name, learner, seed, self.unusable)  # type: ignore[arg-type]
        if result is first:
            return first
        taken = ", ".join(names)
        result.diagnosis = first.diagnosis + result.diagnosis
        result.message = (
            f"{first.message}; with {taken} from parameters: {result.verdict.upper()}, "
            f"{result.passed}/{result.total} checks pass"
        )
        result.verdict = "error"
        return result


# ------------------------------------------------------------------------ the learner, remote


class RemoteRaised(Exception):
    """The learner's function raised in the child (its Failure says how)."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.line())
        self.failure = failure


class RemoteFunction:
    """A learner's function by name; calling it runs it in the child."""

    def __init__(self, learner: RemoteLearner, name: str) -> None:
        self.learner, self.name = learner, name

    def __call__(self, *args: Any) -> Any:
        out = self.learner.call(self, list(args), None)
        if out.failure is not None:
            raise RemoteRaised(out.failure)
        return out.value


def _failure(doc: Any) -> Failure:
    if not isinstance(doc, dict):
        raise wire.WireError("a malformed failure")
    text = {k: doc.get(k) for k in ("type", "message", "where", "name")}
    if not isinstance(text["type"], str) or not isinstance(text["message"], str):
        raise wire.WireError("a malformed failure")
    for k in ("where", "name"):
        if text[k] is not None and not isinstance(text[k], str):
            raise wire.WireError("a malformed failure")
    return Failure(
        text["type"][:100],
        text["message"][:500],
        text["where"][:100] if text["where"] else None,
        text["name"][:100] if text["name"] else None,
    )


class RemoteLearner:
    """`checks.Learner`'s interface, on rnncli's side: every call is a request to the
    child, and every value that comes back is plain data (`wire.decode`)."""

    def __init__(self, box: Sandbox, checking: str, loaded: Loaded) -> None:
        self.box, self.checking = box, checking
        self.skipped = dict(loaded.skipped)
        self.memory_mib = box.memory_mib
        self.present = list(loaded.present)
        self.ns: dict[str, Any] = {
            n: RemoteFunction(self, n) if n in loaded.callable else wire.opaque(loaded.kinds[n])
            for n in loaded.present
        }
        self._budget_start = box.waited
        self._keep = 0
        self.from_parameters: list[str] = []  # globals the child takes from `parameters`

    def call(self, fn: Any, args: list[Any], names: tuple[str, ...] | None) -> Outcome:
        if not isinstance(fn, RemoteFunction):
            return Outcome(failure=Failure("TypeError", "not a function", None))
        self._keep += 1
        keep = self._keep if names is not None else None
        msg = {
            "op": "call",
            "checking": self.checking,
            "fn": fn.name,
            "args": [wire.encode_arg(a) for a in args],
            "names": list(names) if names is not None else [f"#{i}" for i in range(len(args))],
            "keep": keep,
            "from_parameters": list(self.from_parameters),
        }
        sent_names: list[str] = msg["names"]  # type: ignore[assignment]
        reply = self.box.call(msg, self._budget_start)
        if reply.get("failure") is not None:
            return Outcome(failure=_failure(reply["failure"]))
        touched = reply.get("touched", [])
        if not isinstance(touched, list) or not all(t in sent_names for t in touched):
            raise wire.WireError("a malformed list of touched arguments")
        return Outcome(wire.decode(reply.get("value"), keep), touched=[str(t) for t in touched])

    def failure(self, exc: BaseException, fn: Any = None) -> Failure:
        """The learner's exception as it came from the child; rnncli's own trouble (the
        child gone, an interrupt) goes on up."""
        if isinstance(exc, RemoteRaised):
            return exc.failure
        if isinstance(exc, (ChildGone, wire.WireError, KeyboardInterrupt, SystemExit)):
            raise exc
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return Failure(type(exc).__name__, message, None)

    @contextmanager
    def isolated(self, name: str) -> Iterator[dict[str, Any]]:
        """The learner's own functions by name (the child isolates each call itself)."""
        yield {n: RemoteFunction(self, n) for n in self.present}
