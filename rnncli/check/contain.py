"""How the child is contained: bubblewrap where it works, else a session, rlimits and nobody.

With bubblewrap (Linux, ``bwrap`` on PATH and able to make namespaces) the child gets its
own PID, network, IPC and UTS namespaces (it sees no process of rnncli's, so it cannot
signal rnncli, and none of it outlives the namespace's first process, which dies with
rnncli: ``--die-with-parent``), no network, a read-only view of the file system, an empty
private ``/tmp`` as its working directory (the learner's folder, and any of Python's
that lie under /tmp, bound read-only), and a new session (no terminal to inject into).

Without it, rnncli says so once on stderr and falls back: the child has its own session
and process group, rlimits, PR_SET_PDEATHSIG (Linux: it is killed when rnncli dies), and
when rnncli runs as root and Python and rnncli are readable by everyone, it runs as
``nobody`` (so it cannot signal rnncli nor write rnncli's files). A non-root rnncli
without bubblewrap runs it with the user's own rights: that isolates mistakes only.
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
NO_BWRAP = "RNNCLI_CHECK_NO_BWRAP"  # "1": do not use bubblewrap (tests of the fallback)


@dataclass
class Containment:
    """What wraps the child's command line and how it starts."""

    kind: str  # "bwrap" | "fallback"
    prefix: list[str]
    preexec: Callable[[], None] | None
    uid: int | None = None  # the fallback's user, when rnncli runs as root
    notice: str = ""  # the one line rnncli says on stderr about it


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def pdeathsig(sig: int = 9) -> None:
    """Linux: this process gets `sig` when its parent (thread) dies."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)


def subreaper() -> None:
    """Linux: orphaned descendants are reparented to this process (and can be found)."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def bwrap_args(workdir: str, binds: Sequence[str]) -> list[str]:
    """bubblewrap's options: everything read-only, own namespaces, a private /tmp."""
    args = ["--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/", "/",
            "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]  # fmt: skip
    for path in binds:
        args += ["--ro-bind", path, path]
    return [*args, "--dir", workdir, "--chdir", workdir]


@functools.cache
def _bwrap() -> str | None:
    """bubblewrap's path, if it is there and can make its namespaces here."""
    path = shutil.which("bwrap")
    if not sys.platform.startswith("linux") or path is None:
        return None
    try:
        done = subprocess.run(
            [path, *bwrap_args("/tmp/w", []), "true"], capture_output=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return path if done.returncode == 0 else None


def _under_tmp(paths: Sequence[str]) -> list[str]:
    """The folders among `paths` that a private /tmp would hide (to bind back, read-only)."""
    out: list[str] = []
    for p in paths:
        try:
            real = os.path.realpath(p)
        except (OSError, ValueError):
            continue
        if real.startswith("/tmp/") and os.path.isdir(real) and real not in out:
            out.append(real)
    return out


def _world_readable(path: str) -> bool:
    """Every folder on the way is searchable by others, and the path readable."""
    p = Path(os.path.realpath(path))
    try:
        for part in [*reversed(p.parents), p]:
            mode = part.stat().st_mode
            if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
                return False
        return bool(p.stat().st_mode & stat.S_IROTH)
    except OSError:
        return False


def _nobody() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    try:
        import pwd

        entry = pwd.getpwnam("nobody")
    except (ImportError, KeyError):
        return None
    import numpy

    needed = [sys.executable, str(Path(__file__).resolve().parents[1]),
              str(Path(numpy.__file__).parent)]  # fmt: skip
    if not all(_world_readable(p) for p in needed):
        return None
    return entry.pw_uid, entry.pw_gid


def containment(workdir: str, binds: Sequence[str]) -> Containment:
    """How to start the child: bubblewrap, or the fallback (and the line saying so)."""
    bwrap = None if os.environ.get(NO_BWRAP) == "1" else _bwrap()
    if bwrap is not None:
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # rnncli's own
        paths = _under_tmp([*binds, *sys.path, sys.prefix, os.path.dirname(sys.executable),
                            here])  # an editable install's source is on no sys.path entry
        inner = "/tmp/rnncli-check"

        def in_bwrap() -> None:
            pdeathsig()

        return Containment("bwrap", [bwrap, *bwrap_args(inner, paths)], in_bwrap)
    who = _nobody()
    if who is not None:
        uid, gid = who
        os.chown(workdir, uid, gid)

        def as_nobody() -> None:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            pdeathsig()  # after setuid, which clears it

        how = "its own session, rlimits, as user nobody"
        return Containment("fallback", [], as_nobody, uid, _notice(how))
    return Containment("fallback", [], pdeathsig, None, _notice("its own session and rlimits"))


def _notice(how: str) -> str:
    where = "" if sys.platform.startswith("linux") else f" (on {sys.platform})"
    return f"rnncli check: no bubblewrap{where}: the learner's code runs with {how} only"
