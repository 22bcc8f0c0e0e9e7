"""The embedded Reber grammar (Hochreiter & Schmidhuber 1997, experiment 1).

The inner (plain) Reber grammar is the finite automaton below; every state with two
outgoing edges takes each with probability 1/2::

    state 0 --B--> 1
    state 1 --T--> 2      state 1 --P--> 3
    state 2 --S--> 2      state 2 --X--> 4
    state 3 --T--> 3      state 3 --V--> 5
    state 4 --X--> 3      state 4 --S--> 6
    state 5 --P--> 4      state 5 --V--> 6
    state 6 --E--> end

giving strings such as ``BTSSXXTVVE``, ``BPVVE`` and ``BTXSE`` (shortest: 5 symbols).

The embedded grammar wraps one inner string as ``B o <inner> o E`` with the outer
letter ``o`` drawn from {T, P} with probability 1/2, e.g. ``BTBPVVETE``. Everything is
predictable from the prefix except at the branch points, and the second ``o`` can only
be predicted by remembering the first one across the whole inner string.

Lengths: an embedded string has at least 9 symbols, so the two outer letters are at
least 6 steps apart (``len(s) - 3`` in general). The loops ``S*`` and ``T*`` make the
inner string unbounded in principle (geometric tails); lengths are not capped here.

Network data follow the notebook layout ``x: (n_x, m, T_x)``: the input at step t is
the one-hot of ``s[t]`` and the target is the index of ``s[t + 1]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import DTypeLike

from rnncli.engine import Packed
from rnncli.errors import InputError
from rnncli.tasks.problem import Batch, Problem, logits
from rnncli.tasks.sampling import Stepper, draw
from rnncli.tasks.spec import Sampler, TaskSpec

if TYPE_CHECKING:
    from rnncli.config import Config

SYMBOLS = "BTPSXVE"
"""The 7 symbols; a symbol's index is its position in this string."""

N_SYMBOLS = len(SYMBOLS)
INDEX = {c: i for i, c in enumerate(SYMBOLS)}
MIN_LENGTH = 9
"""Length of the shortest embedded Reber strings (e.g. ``BTBTXSETE``)."""

# Inner Reber automaton: state -> ((symbol, next state), ...); state 6 emits E and ends.
_END = -1
_REBER: dict[int, tuple[tuple[str, int], ...]] = {
    0: (("B", 1),),
    1: (("T", 2), ("P", 3)),
    2: (("S", 2), ("X", 4)),
    3: (("T", 3), ("V", 5)),
    4: (("X", 3), ("S", 6)),
    5: (("P", 4), ("V", 6)),
    6: (("E", _END),),
}

# Parser state of the embedded grammar: (phase, outer letter, inner state).
_State = tuple[str, str, int]
_START: _State = ("start", "", 0)


# --------------------------------------------------------------------------- grammar


def _allowed(state: _State) -> frozenset[str]:
    """Symbols the embedded grammar allows next in `state` (empty once finished/dead)."""
    phase, outer, inner = state
    if phase == "start":
        return frozenset("B")
    if phase == "outer":
        return frozenset("TP")
    if phase == "inner":
        return frozenset(sym for sym, _ in _REBER[inner])
    if phase == "close":
        return frozenset(outer)
    if phase == "final":
        return frozenset("E")
    return frozenset()  # "done" or "dead"


def _step(state: _State, symbol: str) -> _State:
    """The state after reading `symbol`; ``("dead", "", 0)`` if it is not allowed."""
    if symbol not in _allowed(state):
        return ("dead", "", 0)
    phase, outer, inner = state
    if phase == "start":
        return ("outer", "", 0)
    if phase == "outer":
        return ("inner", symbol, 0)
    if phase == "inner":
        nxt = dict(_REBER[inner])[symbol]
        return ("close", outer, 0) if nxt == _END else ("inner", outer, nxt)
    if phase == "close":
        return ("final", outer, 0)
    return ("done", outer, 0)  # phase == "final", symbol == "E"


def allowed_next(s: str) -> list[frozenset[str]]:
    """For each i in 0..len(s)-2, the symbols allowed at position i+1 after ``s[:i+1]``.

    The grammar is deterministic-state, so each set depends only on the prefix. After
    a prefix that already left the grammar the set is empty (nothing is legal).
    Returns a list of ``len(s) - 1`` frozensets.
    """
    state = _START
    out: list[frozenset[str]] = []
    for symbol in s[:-1]:
        state = _step(state, symbol)
        out.append(_allowed(state))
    return out


def accepts(s: str) -> bool:
    """Whether `s` is a complete embedded Reber string."""
    state = _START
    for symbol in s:
        state = _step(state, symbol)
        if state[0] == "dead":
            return False
    return state[0] == "done"


# ------------------------------------------------------------------------ generation


# The automaton on symbol indices: state -> ((symbol index, next state), ...).
_NEXT = {state: tuple((INDEX[c], nxt) for c, nxt in edges) for state, edges in _REBER.items()}
_BITS = 48  # branch choices drawn per string at once; the rare longer walk draws more


def generate_indices(rng: np.random.Generator, n: int) -> list[list[int]]:
    """`n` embedded Reber strings drawn with `rng`, as lists of symbol indices: each
    branch (the outer letter, then every two-way state) takes a fair coin."""
    if n < 0:
        raise InputError(f"reber: number of strings must be >= 0, got {n}")
    T, P, B, E = INDEX["T"], INDEX["P"], INDEX["B"], INDEX["E"]
    out = []
    for row in rng.integers(0, 2, size=(n, _BITS), dtype=np.int8).tolist():
        coins = iter(row)
        outer = P if next(coins) else T
        s = [B, outer]
        state = 0
        while state != _END:
            edges = _NEXT[state]
            if len(edges) > 1:
                coin = next(coins, None)
                symbol, state = edges[int(rng.integers(2)) if coin is None else coin]
            else:
                symbol, state = edges[0]
            s.append(symbol)
        s += [outer, E]
        out.append(s)
    return out


def generate(rng: np.random.Generator, n: int) -> list[str]:
    """`n` embedded Reber strings drawn with `rng` (each of length >= 9)."""
    return ["".join(SYMBOLS[i] for i in s) for s in generate_indices(rng, n)]


# -------------------------------------------------------------------------- encoding


def _indices(s: str) -> np.ndarray:
    """Symbol indices of `s`, int64 (len(s),); ValueError on a foreign symbol."""
    try:
        return np.fromiter((INDEX[c] for c in s), dtype=np.int64, count=len(s))
    except KeyError as err:
        raise ValueError(f"reber: symbol {err.args[0]!r} in {s!r} is not in {SYMBOLS!r}") from None


def _check_strings(strings: Sequence[str]) -> int:
    """Validate a batch; returns T_max = longest length - 1."""
    if len(strings) == 0:
        raise ValueError("reber: need at least one string")
    shortest = min(len(s) for s in strings)
    if shortest < 2:
        raise ValueError("reber: every string needs at least 2 symbols (one input, one target)")
    return max(len(s) for s in strings) - 1


def encode(strings: Sequence[str], dtype: DTypeLike = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """One-hot inputs and next-symbol targets for a batch of strings.

    Returns ``x: (7, m, T_max)`` with ``x[:, j, t]`` the one-hot of ``strings[j][t]``
    for t < len - 1, and ``targets: (m, T_max)`` int64 holding the index of
    ``strings[j][t + 1]``. ``T_max = max(len(s)) - 1``; shorter strings are padded with
    x = 0 and target = -1 (the loss ignores targets < 0).
    """
    t_max = _check_strings(strings)
    m = len(strings)
    x = np.zeros((N_SYMBOLS, m, t_max), dtype=dtype)
    targets = np.full((m, t_max), -1, dtype=np.int64)
    for j, s in enumerate(strings):
        idx = _indices(s)
        steps = len(s) - 1
        x[idx[:-1], j, np.arange(steps)] = 1
        targets[j, :steps] = idx[1:]
    return x, targets


def indices(seqs: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Time-major symbol-index inputs and next-symbol targets for strings given as
    indices (`generate_indices`): ``X: (T_max, m)`` with ``X[t, j]`` the index of
    ``seqs[j][t]`` and ``targets: (T_max, m)`` that of ``seqs[j][t + 1]``, both -1 past a
    string's end (no input; no loss). The engine takes X as one-hot inputs."""
    if not seqs or min(len(s) for s in seqs) < 2:
        raise ValueError("reber: every string needs at least 2 symbols (one input, one target)")
    t_max = max(len(s) for s in seqs) - 1
    X = np.array([[*s[:-1], *[-1] * (t_max + 1 - len(s))] for s in seqs], dtype=np.int64)
    targets = np.array([[*s[1:], *[-1] * (t_max + 1 - len(s))] for s in seqs], dtype=np.int64)
    return np.ascontiguousarray(X.T), np.ascontiguousarray(targets.T)


# ------------------------------------------------------------------------ evaluation


def legal_mask(strings: Sequence[str]) -> np.ndarray:
    """Legality of every prediction, bool ``(m, T_max, 7)`` aligned with `encode`.

    ``mask[j, t, k]`` is True iff symbol k may follow ``strings[j][:t + 1]``; padded
    steps are all False. Compute it once for a fixed evaluation set and pass it to
    `evaluate`.
    """
    t_max = _check_strings(strings)
    mask = np.zeros((len(strings), t_max, N_SYMBOLS), dtype=bool)
    for j, s in enumerate(strings):
        for t, allowed in enumerate(allowed_next(s)):
            mask[j, t, [INDEX[c] for c in allowed]] = True
    return mask


def evaluate(
    pred: np.ndarray, strings: Sequence[str], mask: np.ndarray | None = None
) -> dict[str, float]:
    """Score next-symbol predictions on embedded Reber strings.

    `pred: (m, T_max)` holds integer (argmax) predictions aligned with `encode`'s
    targets; values at padded steps are ignored. `mask` is ``legal_mask(strings)``,
    computed here if not given. Returns

    - ``legal_acc``: fraction of non-padded steps whose prediction the grammar allows;
    - ``outer_acc``: fraction of strings predicted exactly at the step whose target is
      the closing outer letter (``s[-2]``, the one needing long-term memory).
    """
    if mask is None:
        mask = legal_mask(strings)
    pred = np.asarray(pred)
    m, t_max = len(strings), mask.shape[1]
    if mask.shape != (m, t_max, N_SYMBOLS):
        raise ValueError(f"reber: mask shape {mask.shape} does not fit {m} strings")
    if pred.shape != (m, t_max):
        raise ValueError(f"reber: pred shape {pred.shape}, expected {(m, t_max)}")

    lengths = np.array([len(s) for s in strings])
    if lengths.min() < 3:
        raise ValueError("reber: evaluate needs strings of at least 3 symbols")
    valid = np.arange(t_max)[None, :] < (lengths[:, None] - 1)  # (m, T_max)
    in_range = (pred >= 0) & (pred < N_SYMBOLS)
    chosen = np.clip(pred, 0, N_SYMBOLS - 1).astype(np.int64)
    legal = in_range & np.take_along_axis(mask, chosen[..., None], axis=2)[..., 0]
    legal_acc = float(legal[valid].mean())

    outer_step = lengths - 3  # target index t = len - 3 is s[len - 2]
    outer_true = np.array([INDEX.get(s[-2], -1) for s in strings])
    outer_acc = float(np.mean(pred[np.arange(m), outer_step] == outer_true))
    return {"legal_acc": legal_acc, "outer_acc": outer_acc}


class ReberProblem(Problem):
    """Next-symbol prediction on embedded Reber strings; metrics legal_acc, outer_acc."""

    EVAL_GROUP = 64  # evaluation strings per forward pass, grouped by length

    def __init__(self, cfg: Config, eval_rng: np.random.Generator, progress: Any = None):
        super().__init__("reber", N_SYMBOLS, N_SYMBOLS, "xent", "outer_acc")
        self.batch_size = cfg.train.batch
        self.dtype = np.dtype(cfg.dtype)
        self.eval_strings = generate(eval_rng, cfg.train.eval_size)
        self.eval_mask = legal_mask(self.eval_strings)
        # Sorted by length, so that a group is padded only to its own longest string.
        seqs = [[INDEX[c] for c in s] for s in self.eval_strings]
        order = np.argsort([len(s) for s in seqs], kind="stable")
        self.eval_groups = [
            (rows, indices([seqs[j] for j in rows])[0])
            for rows in np.array_split(order, -(-len(order) // self.EVAL_GROUP))
        ]

    def batch(self, rng: np.random.Generator) -> Batch:
        X, targets = indices(generate_indices(rng, self.batch_size))
        return Batch(X, targets)

    def evaluate(self, p: Packed) -> dict[str, float]:
        pred = np.zeros(self.eval_mask.shape[:2], dtype=np.int64)  # (m, T_max)
        for rows, X in self.eval_groups:
            pred[rows, : X.shape[0]] = logits(p, X).argmax(axis=1).T
        return evaluate(pred, self.eval_strings, self.eval_mask)

    def solved(self, metrics: dict[str, float]) -> bool:
        return metrics["legal_acc"] >= 0.999 and metrics["outer_acc"] == 1.0

    def score(self, metrics: dict[str, float]) -> float:
        return -(metrics["outer_acc"] + metrics["legal_acc"])  # both accuracies count


def sample(
    p: Packed,
    task: Mapping[str, Any] | None = None,
    n: int | None = None,
    temperature: float = 1.0,
    prime: str | None = None,
    rng: np.random.Generator | None = None,
    max_len: int = 100,
) -> dict[str, Any]:
    """n strings (default 10) started from B, each until its second E (the embedded
    string's closing E; the first one ends the inner string) or max_len; with the
    grammar's verdict."""
    n = n or 10
    rng = rng if rng is not None else np.random.default_rng(0)
    step = Stepper(p, n)
    symbols = np.full(n, INDEX["B"])
    out = [["B"] for _ in range(n)]
    done = np.zeros(n, dtype=bool)
    ends = np.zeros(n, dtype=int)
    for _ in range(max_len - 1):
        symbols = draw(step(symbols), temperature, rng)
        for i in np.flatnonzero(~done):
            out[i].append(SYMBOLS[symbols[i]])
        ends += (symbols == INDEX["E"]) & ~done
        done |= ends >= 2
        if done.all():
            break
    strings = ["".join(s) for s in out]
    accepted = [accepts(s) for s in strings]
    return {"samples": strings, "accepted": accepted, "accept_rate": float(np.mean(accepted))}


def sample_lines(result: Mapping[str, Any]) -> list[str]:
    """samples.txt: each string with the grammar's verdict, then the accept rate."""
    lines = [
        f"{x}  {'ok' if ok else 'not in grammar'}"
        for x, ok in zip(result["samples"], result["accepted"], strict=True)
    ]
    return [*lines, f"accept rate {result['accept_rate']:.2f}"]


TASK = TaskSpec(
    "reber", "next-symbol prediction on embedded Reber strings", ReberProblem,
    # the built-in train defaults are reber's (measured: 10/10 lstm seeds solve)
    defaults={}, next_symbol=True, readout="every",
    criterion="legal_acc >= 0.999 and every closing outer letter predicted (outer_acc 1)",
    sampler=Sampler(sample, sample_lines, saved=20),
)  # fmt: skip
