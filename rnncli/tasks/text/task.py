"""The text task: a character model on a user's file (``--data``), trained with
truncated BPTT; metrics val_loss and val_bpc on held-out characters, no "solved"."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rnncli import engine
from rnncli import loss as losses
from rnncli.engine import Packed, workspace
from rnncli.errors import InputError
from rnncli.tasks import text
from rnncli.tasks.problem import Batch, Problem
from rnncli.tasks.sampling import Stepper, draw
from rnncli.tasks.spec import Sampler, TaskSpec
from rnncli.tasks.text.read import split_point
from rnncli.tasks.text.stream import HeldOut, TextStream
from rnncli.tasks.text.vocab import Vocab

if TYPE_CHECKING:
    from rnncli.config import Config

LN2 = math.log(2)


def _xent_sum(p: Packed, H: np.ndarray, targets: np.ndarray) -> float:
    """Summed cross-entropy in nats of `targets: (m, T)` (ints) under the output layer on
    the hidden states ``H: (T, n_a, m)``."""
    L = losses.logits(p.Wy, p.by, H)  # (T, V, m)
    L -= L.max(axis=1, keepdims=True)  # stable: the largest logit of each column is 0
    picked = np.take_along_axis(L, targets.T[:, None, :], axis=1)[:, 0, :]  # (T, m)
    log_total = np.log(np.exp(L, out=L).sum(axis=1))  # (T, m)
    return float(np.sum(log_total - picked, dtype=np.float64))


class Text(Problem):
    """Character model on a file. The file is encoded once into the text cache and
    memory-mapped (`text.open_corpus`); training streams its first 90%, and every
    evaluation scores the same held-out characters (`HeldOut`: the last 10%, up to
    `eval_chars` of them). The vocabulary is built from the whole file."""

    loss_unit = "nats per character"
    metric_is_loss = True
    carry_state = True
    #: Most one-hot (and logit) entries one evaluation chunk may hold, so that a large
    #: vocabulary shortens the chunks instead of growing them (32 MiB in float64).
    EVAL_ENTRIES = 1 << 22

    def __init__(
        self,
        path: str,
        batch_size: int,
        bptt: int,
        eval_chars: int,
        dtype: Any,
        min_count: int = 1,
        progress: Callable[[int, int], None] | None = None,
    ):
        said: list[str] = []
        # through the package, where tests put an in-memory stand-in
        corpus = text.open_corpus(path, min_count, notice=said.append, progress=progress)
        self.corpus = corpus
        self.vocab = corpus.vocab
        V = self.vocab.size
        super().__init__("text", V, V, "xent", "val_loss")
        self.notices = tuple(said)  # what the cache did
        data, n = corpus.data, corpus.characters
        cut = split_point(n)
        self.stream = TextStream(data[:cut], V, batch_size, bptt, path, dtype)
        if n - cut < bptt + 1:
            raise InputError(
                f"{path}: the validation part (last 10%, {n - cut} characters) is shorter "
                f"than one training sequence (bptt {bptt} + 1); use a longer file or a smaller "
                "train.bptt"
            )
        self.held_out = HeldOut(data, cut, eval_chars, V, bptt, dtype,
                                max_entries=self.EVAL_ENTRIES)  # fmt: skip
        h = self.held_out
        self.eval_shape = (h.chunk, h.streams)
        self.evaluation = h.describe()
        self.evaluated = (
            f"validation: val_loss and val_bpc score the same {h.chars:,} of the "
            f"{h.available + 1:,} held-out characters (the last 10% of the file, from character "
            f"{cut:,}) at every evaluation, in {h.streams} streams of {h.length:,}"
        )
        self.first_char = self.vocab.chars[int(data[0])]  # where samples start
        self.meta = {
            "vocab": self.vocab.to_list(), "path": str(path), "sha256": corpus.sha256,
            "first_char": self.first_char, "bytes": corpus.size, "characters": n,
            "index_dtype": str(self.vocab.dtype), "vocab_min_count": min_count,
            "unknown": self.vocab.unknown, "rare_characters": corpus.rare,
            "unknown_count": corpus.unknown_count, "evaluation": self.evaluation,
        }  # fmt: skip
        self.dtype = dtype

    def batch(self, rng: np.random.Generator) -> Batch:
        x, targets = self.stream.next_chunk()
        return Batch(engine.to_time_major(x), np.ascontiguousarray(targets.T), self.stream.wrapped)

    def evaluate(self, p: Packed) -> dict[str, float]:
        """Cross-entropy per character on the held-out characters, in nats (val_loss) and
        bits (val_bpc); one batched pass, the state carried along each stream."""
        state: tuple[np.ndarray, ...] | None = None
        total = 0.0
        for x, targets in self.held_out.chunks():
            X = engine.to_time_major(x)
            T, _, m = X.shape
            ws = workspace.cached(("text-eval", p.spec, p.n_x, p.n_a, p.n_y, p.layers,
                                   p.directions, T, m, X.dtype.str))  # fmt: skip
            cache = engine.forward(p, X, state, ws)
            total += _xent_sum(p, engine.hidden(p, cache), targets)
            state = engine.final_state(p, cache)
        loss = total / self.held_out.chars
        return {"val_loss": loss, "val_bpc": loss / LN2}

    def reported_loss(self, value: float, steps: int) -> float:
        """Per character, comparable with val_loss."""
        return value / steps

    def loss_metrics(self, loss: float) -> dict[str, float]:
        return {"loss": loss, "bpc": loss / LN2}

    def stream_state(self) -> int:
        return self.stream.state()

    def set_stream_state(self, state: int) -> None:
        self.stream.set_state(state)

    def size_notice(self, need: str) -> str:
        if self.n_x <= 256:
            return ""
        return (f"text: {self.n_x:,} distinct characters: the input and output layers have "
                f"{self.n_x:,} units; this run needs about {need}")  # fmt: skip


def problem(
    cfg: Config,
    eval_rng: np.random.Generator,
    progress: Callable[[int, int], None] | None = None,
) -> Text:
    """The text problem of a validated config: its file checked, then encoded (or found
    in the text cache; `progress(done, total)` follows the encoding)."""
    t = cfg.train
    if t.data is None:
        raise InputError("train.task=text needs a text file: pass --data PATH or train.data=PATH")
    data = Path(t.data)
    if data.exists() and not data.is_file() and not data.is_dir():
        raise InputError(f"{t.data}: not a regular file (a device or a pipe?)")
    return Text(t.data, t.batch, t.bptt, t.eval_chars, np.dtype(cfg.dtype), t.vocab_min_count,
                progress)  # fmt: skip


def sample_chars(
    p: Packed, vocab: Vocab, n: int, temperature: float, prime: str, rng: np.random.Generator
) -> dict[str, Any]:
    """`prime` followed by n sampled characters. A vocabulary with an unknown symbol
    (``train.vocab_min_count``) reads characters it lacks as that symbol."""
    if not prime:
        raise InputError("--prime must not be empty for a text model")
    unknown = sorted(set(prime) - set(vocab.to_list()))
    if unknown and vocab.unknown is None:
        raise InputError(f"--prime has characters the model never saw: {''.join(unknown)!r}")
    step = Stepper(p, 1)
    codes = vocab.encode(prime)
    for code in codes[:-1]:
        step(np.array([code]))
    symbol = np.array([codes[-1]])
    generated = []
    for _ in range(n):
        symbol = draw(step(symbol), temperature, rng)
        generated.append(int(symbol[0]))
    return {"prime": prime, "text": prime + vocab.decode(generated)}


def sample(
    p: Packed,
    task: Mapping[str, Any],
    n: int | None,
    temperature: float,
    prime: str | None,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """n characters (default 400) of a model whose task.json is `task`, after `prime`
    (default: the file's first character)."""
    vocab = Vocab.from_list(task["vocab"], task.get("unknown"))
    start = prime or task.get("first_char") or vocab.to_list()[0]
    return sample_chars(p, vocab, n or 400, temperature, start, rng)


def sample_lines(result: Mapping[str, Any]) -> list[str]:
    """samples.txt: the text."""
    return [result["text"]]


DEFAULTS = {
    "train": {
        "hidden": 64,
        "batch": 16,
        "bptt": 50,
        "lr": 0.005,
        "steps": 1000,
        # an evaluation scores up to 100,000 held-out characters (eval_chars): 0.3 s
        # on the 2-core machine, as long as ~60 training steps of these sizes
        "eval_every": 200,
        "checkpoint_every": 100,
    }
}

TASK = TaskSpec(
    "text", "next-character prediction on a text file (--data), truncated BPTT", problem,
    DEFAULTS, next_symbol=True, evaluation="characters", data=True, steps_key="bptt",
    readout="every", sampler=Sampler(sample, sample_lines, saved=400, primed=True),
)  # fmt: skip
