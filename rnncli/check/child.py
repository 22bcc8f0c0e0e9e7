"""The child process that runs a learner's code: ``python -m rnncli.check.child``.

Started by `rnncli.check.sandbox` in a fresh interpreter (inside bubblewrap where it can
be), in an empty temporary working directory, with its memory (address space) capped and
a CPU-time backstop. It only runs the learner's functions on the inputs rnncli sends and
sends back what they return as plain numbers (`rnncli.check.wire`); every reference
computation, comparison and verdict is rnncli's, in its own process. It speaks JSON
lines on two pipes rnncli passes it (``--fds R,W``), moved at once to fd numbers drawn
at random and closed at their old numbers; fd 0 is /dev/null and fd 1 goes to stderr,
so the learner's ``input()`` and ``print`` cannot touch the protocol.

    -> {"op": "load", "id": ..., "path": ..., "kind": "py" | "ipynb", "text": ..., "dir": ...}
    <- {"op": "loaded", "id": ..., "present": {name: type name}, "callable": [names],
        "skipped": {name: where}, "notes": [...]}
    -> {"op": "call", "id": ..., "checking": name, "fn": name, "args": [...],
        "names": [argument names], "keep": int | null}
    <- {"op": "returned", "id": ..., "value": ..., "failure": {...} | null, "touched": [...]}

Each request's id is fresh (a random nonce and a sequence number) and its reply must
carry it. A call runs while the learner's other notebook functions are rnncli's
(`Learner.isolated(checking)`); with ``keep`` the returned object is kept under that
number, and a later call's argument ``{"t": "ref", ...}`` hands it (a deep copy) back.

Loading runs only the file's definitions (`load.definitions`), one statement at a time:
one that raises (a failed ``from public_tests import *``) is noted and skipped.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import random
import resource
import sys
import types
import warnings
from pathlib import Path
from typing import IO, Any

import numpy as np

from rnncli.check import wire
from rnncli.check.checks import Learner
from rnncli.check.load import definitions, from_text, restore_numpy_aliases
from rnncli.check.spec import FUNCTIONS

STAND_INS = Path(__file__).resolve().parent / "stand_in"  # holds rnn_utils.py


def _limit(memory_mib: int, cpu_s: int) -> None:
    cap = memory_mib * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 2**20, 64 * 2**20))  # a print loop's file
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard == resource.RLIM_INFINITY or cpu_s < hard:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, hard))


def _hide(fd: int) -> int:
    """`fd` moved to a free descriptor number drawn at random (close-on-exec)."""
    rng = random.SystemRandom()
    for _ in range(100):
        target = rng.randrange(64, 1000)
        try:
            os.fstat(target)
        except OSError:
            os.dup2(fd, target, inheritable=False)
            os.close(fd)
            return target
    return fd


def _private_streams(fds: str) -> tuple[IO[bytes], IO[bytes]]:
    """The protocol on the passed pipes; the learner gets /dev/null and stderr."""
    r, w = (int(x) for x in fds.split(","))
    proto_in = os.fdopen(_hide(r), "rb")
    proto_out = os.fdopen(_hide(w), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    return proto_in, proto_out


def load(msg: dict[str, Any], memory_mib: int) -> tuple[Learner, dict[str, Any]]:
    """Run the definitions of the learner's file in a fresh module namespace."""
    source = from_text(str(msg["path"]), str(msg["kind"]), str(msg["text"]))
    kept, skipped = definitions(source)
    module = types.ModuleType("__learner__")
    module.__file__ = str(msg["path"])
    sys.modules["__learner__"] = module  # dataclasses and pickling look modules up here
    ns = module.__dict__
    learner = Learner(ns, source, skipped, memory_mib)
    notes = list(source.notes) + restore_numpy_aliases(source)
    for unit, stmt in kept:
        code = compile(ast.Module(body=[stmt], type_ignores=[]), unit.filename, "exec")
        try:
            exec(code, ns)  # the learner's own definitions: this is what check runs
        except BaseException as exc:
            fail = learner.failure(exc)
            snippet = ast.get_source_segment(unit.source, stmt) or type(stmt).__name__
            snippet = snippet.splitlines()[0][:60]
            notes.append(f"{fail.where}: skipped `{snippet}`: {fail.type}: {fail.message}")
    present = {n: str(type(ns[n]).__name__)[:60] for n in FUNCTIONS if n in ns}
    return learner, {
        "op": "loaded",
        "present": present,
        "callable": [n for n in present if callable(ns[n])],
        "skipped": {str(k): str(v) for k, v in learner.skipped.items()},
        "notes": [str(n) for n in notes],
    }


def _parameters(obj: Any, names: list[str], depth: int = 4) -> dict[str, Any] | None:
    """The parameters dict among a call's arguments (a cache's last item, caches[0]'s)."""
    if isinstance(obj, dict) and all(n in obj for n in names):
        return obj
    if depth and isinstance(obj, (tuple, list)):
        for item in (obj[-1], obj[0]) if obj else ():
            found = _parameters(item, names, depth - 1)
            if found is not None:
                return found
    return None


def _from_parameters(learner: Learner, args: list[Any], names: list[str]) -> list[str]:
    """Set the learner's globals `names` (read from test code check skips) from this call's
    parameters, so the rest of the function can be checked; the names set."""
    params = _parameters(args, names) if names else None
    if params is None:
        return []
    given = [n for n in names if n not in learner.ns]
    for n in given:
        learner.ns[n] = params[n]
    return given


def call(learner: Learner, msg: dict[str, Any], stored: dict[int, Any]) -> dict[str, Any]:
    """One call of a learner's function, in the isolation of the function being checked."""
    checking, name = str(msg["checking"]), str(msg["fn"])
    with learner.isolated(checking) as own:
        fn = own.get(name)
        try:
            args = [copy.deepcopy(wire.decode_arg(a, stored)) for a in msg["args"]]
        except BaseException as exc:  # a stored object that cannot be copied or indexed
            fail = learner.failure(exc)
            return {"value": None, "failure": vars(fail), "touched": []}
        names = tuple(str(n) for n in msg["names"])
        given = _from_parameters(learner, args, [str(n) for n in msg.get("from_parameters", [])])
        try:
            out = learner.call(fn, args, names) if fn is not None else None
        finally:
            for n in given:
                learner.ns.pop(n, None)
    if out is None:
        return {"value": None, "failure": {"type": "NameError", "where": None, "name": name,
                "message": f"name {name!r} is not defined"}, "touched": []}  # fmt: skip
    if out.failure is not None:
        return {"value": None, "failure": vars(out.failure), "touched": []}
    if msg.get("keep") is not None:
        stored[int(msg["keep"])] = out.value
    return {"value": wire.encode(out.value), "failure": None, "touched": list(out.touched)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rnncli.check.child")
    parser.add_argument("--memory", type=int, required=True, help="address-space cap, MiB")
    parser.add_argument("--cpu", type=int, required=True, help="CPU-time backstop, seconds")
    parser.add_argument("--fds", required=True, help="the protocol's pipes: READ,WRITE")
    args = parser.parse_args(argv)
    proto_in, proto_out = _private_streams(args.fds)
    warnings.simplefilter("ignore")  # overflow in a learner's exp is their business
    np.seterr(all="ignore")
    _limit(args.memory, args.cpu)

    def send(obj: dict[str, Any]) -> None:
        proto_out.write(json.dumps(obj, allow_nan=False).encode() + b"\n")
        proto_out.flush()

    learner: Learner | None = None
    stored: dict[int, Any] = {}
    checking = None
    for line in proto_in:
        msg = json.loads(line)
        if msg["op"] == "load":
            sys.path[:0] = [str(STAND_INS), str(msg["dir"])]
            learner, reply = load(msg, args.memory)
            send({**reply, "id": msg["id"]})
        elif msg["op"] == "call" and learner is not None:
            if msg["checking"] != checking:  # a new function: its predecessor's objects go
                stored.clear()
                checking = msg["checking"]
            send({"op": "returned", "id": msg["id"], **call(learner, msg, stored)})


if __name__ == "__main__":
    main()
