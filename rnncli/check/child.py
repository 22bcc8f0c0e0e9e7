"""The child process that runs a learner's code: ``python -m rnncli.check.child``.

Started by `rnncli.check.sandbox` in a fresh interpreter, in an empty temporary working
directory, with its memory (address space) capped and a CPU-time backstop. It speaks
JSON lines on private copies of its stdin and stdout; fd 0 is then /dev/null and fd 1
goes to stderr, so the learner's ``input()`` and ``print`` cannot touch the protocol.

    -> {"op": "load", "path": ..., "kind": "py" | "ipynb", "text": ..., "dir": ...}
    <- {"op": "loaded", "present": [names], "notes": [...]}
    -> {"op": "check", "name": "rnn_forward", "seed": 1, "unusable": {name: why}}
    <- {"op": "result", "result": {FunctionResult as JSON}}

Loading runs only the file's definitions (`load.definitions`), one statement at a time:
one that raises (a failed ``from public_tests import *``) is noted and skipped.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import resource
import sys
import types
import warnings
from pathlib import Path
from typing import IO, Any

import numpy as np

from rnncli.check.checks import Learner, check_function
from rnncli.check.load import definitions, from_text
from rnncli.check.results import FunctionResult
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


def _private_streams() -> tuple[IO[bytes], IO[bytes]]:
    """Keep stdin/stdout for the protocol; give the learner /dev/null and stderr."""
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
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
    notes = list(source.notes)
    for unit, stmt in kept:
        code = compile(ast.Module(body=[stmt], type_ignores=[]), unit.filename, "exec")
        try:
            exec(code, ns)  # the learner's own definitions: this is what check runs
        except BaseException as exc:
            fail = learner.failure(exc)
            snippet = ast.get_source_segment(unit.source, stmt) or type(stmt).__name__
            snippet = snippet.splitlines()[0][:60]
            notes.append(f"{fail.where}: skipped `{snippet}`: {fail.type}: {fail.message}")
    present = [n for n in FUNCTIONS if n in ns]
    return learner, {"op": "loaded", "present": present, "notes": notes}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rnncli.check.child")
    parser.add_argument("--memory", type=int, required=True, help="address-space cap, MiB")
    parser.add_argument("--cpu", type=int, required=True, help="CPU-time backstop, seconds")
    args = parser.parse_args(argv)
    proto_in, proto_out = _private_streams()
    warnings.simplefilter("ignore")  # overflow in a learner's exp is their business
    np.seterr(all="ignore")
    _limit(args.memory, args.cpu)

    def send(obj: dict[str, Any]) -> None:
        proto_out.write(json.dumps(obj, allow_nan=False).encode() + b"\n")
        proto_out.flush()

    learner: Learner | None = None
    for line in proto_in:
        msg = json.loads(line)
        if msg["op"] == "load":
            sys.path[:0] = [str(STAND_INS), str(msg["dir"])]
            learner, reply = load(msg, args.memory)
            send(reply)
        elif msg["op"] == "check" and learner is not None:
            name = str(msg["name"])
            unusable = {str(k): str(v) for k, v in dict(msg.get("unusable", {})).items()}
            try:
                result = check_function(name, learner, int(msg["seed"]), unusable)
            except BaseException as exc:  # e.g. a returned object whose len() raises
                why = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
                result = FunctionResult(name, "error", f"could not be checked ({why})")
            send({"op": "result", "result": result.to_json()})


if __name__ == "__main__":
    main()
