"""Tests for rnncli.tasks: embedded Reber grammar, adding problem, character text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncli.errors import InputError
from rnncli.tasks import adding, reber, text

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
FAST = settings(max_examples=30, deadline=None)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ============================================================================ reber


def _walk(s: str) -> bool:
    """Walk the graph from the brief, independently of the module's tables."""
    graph = {
        0: {"B": 1},
        1: {"T": 2, "P": 3},
        2: {"S": 2, "X": 4},
        3: {"T": 3, "V": 5},
        4: {"X": 3, "S": 6},
        5: {"P": 4, "V": 6},
        6: {"E": 7},
    }
    state = 0
    for c in s:
        if c not in graph.get(state, {}):
            return False
        state = graph[state][c]
    return state == 7


def test_symbols() -> None:
    assert reber.SYMBOLS == "BTPSXVE"
    assert reber.N_SYMBOLS == 7


@pytest.mark.parametrize(
    "s", ["BTBTSSXXTVVETE", "BPBPVVEPE", "BTBTXSETE", "BPBTSXXVPSEPE", "BTBPTTVPXVVETE"]
)
def test_accepts_known_strings(s: str) -> None:
    assert reber.accepts(s)
    assert _walk(s[2:-2])


@pytest.mark.parametrize(
    "s",
    [
        "",
        "B",
        "BTBTXSEPE",  # mismatched outer letters
        "BPBTXSETE",  # mismatched outer letters
        "BTBTXSET",  # missing final E
        "BTBTXSETEE",  # trailing symbol
        "BTBTXSSETE",  # S after S in state 4 ends the inner string early
        "BTBTXXETE",  # inner string ends in the wrong state
        "BTSSXXTVVE",  # plain (non-embedded) Reber string
        "BXBTXSEXE",  # outer letter not T/P
        "BTBTXSETA",  # foreign symbol
    ],
)
def test_rejects_bad_strings(s: str) -> None:
    assert not reber.accepts(s)


@FAST
@given(SEEDS)
def test_generated_strings_accepted(seed: int) -> None:
    strings = reber.generate(rng(seed), 20)
    assert len(strings) == 20
    for s in strings:
        assert reber.accepts(s)
        assert len(s) >= reber.MIN_LENGTH == 9
        assert s[0] == "B" and s[-1] == "E"
        assert s[1] == s[-2] and s[1] in "TP"
        assert _walk(s[2:-2])


def test_generate_deterministic_and_varied() -> None:
    a = reber.generate(rng(7), 200)
    assert a == reber.generate(rng(7), 200)
    assert a != reber.generate(rng(8), 200)
    assert {s[1] for s in a} == {"T", "P"}
    assert len(set(a)) > 20
    assert reber.generate(rng(0), 0) == []
    with pytest.raises(InputError):
        reber.generate(rng(0), -1)


def test_generate_uses_only_passed_rng() -> None:
    np.random.seed(0)
    before = np.random.get_state()[1].copy()  # type: ignore[index]
    reber.generate(rng(1), 50)
    assert np.array_equal(np.random.get_state()[1], before)  # type: ignore[index]


@FAST
@given(SEEDS)
def test_allowed_next_contains_actual_next(seed: int) -> None:
    for s in reber.generate(rng(seed), 10):
        allowed = reber.allowed_next(s)
        assert len(allowed) == len(s) - 1
        for i, nxt in enumerate(allowed):
            assert s[i + 1] in nxt
            assert nxt <= frozenset(reber.SYMBOLS)


def test_allowed_next_structure() -> None:
    s = "BPBTSXXVPSEPE"
    allowed = reber.allowed_next(s)
    assert allowed[0] == {"T", "P"}  # after the first B
    assert allowed[1] == {"B"}  # inner string starts
    assert allowed[2] == {"T", "P"}  # inner B
    assert allowed[3] == {"S", "X"}  # state 2
    inner_e = s.index("E")
    assert allowed[inner_e] == {"P"}  # after inner E: only the matching outer letter
    assert allowed[-1] == {"E"}
    assert reber.allowed_next("BTBTXSETE")[6] == {"T"}


def test_allowed_next_depends_only_on_prefix() -> None:
    s = "BTBPTTVPXVVETE"
    full = reber.allowed_next(s)
    for k in range(2, len(s)):
        assert reber.allowed_next(s[:k]) == full[: k - 1]


def test_allowed_next_after_illegal_prefix_is_empty() -> None:
    allowed = reber.allowed_next("BXBTE")
    assert allowed[0] == {"T", "P"}
    assert all(a == frozenset() for a in allowed[1:])


def test_encode_shapes_and_padding() -> None:
    strings = ["BTBTXSETE", "BPBTSSXXTVVEPE"]
    x, targets = reber.encode(strings)
    assert x.shape == (7, 2, 13) and x.dtype == np.float64
    assert targets.shape == (2, 13) and targets.dtype == np.int64
    # one-hot at real steps, zero at padding
    assert np.array_equal(x.sum(axis=0), (targets >= 0).astype(float))
    assert np.all(targets[0, 8:] == -1) and np.all(targets[0, :8] >= 0)
    assert np.all(targets[1] >= 0)
    for j, s in enumerate(strings):
        n = len(s) - 1
        assert "".join(reber.SYMBOLS[i] for i in x[:, j, :n].argmax(axis=0)) == s[:-1]
        assert "".join(reber.SYMBOLS[i] for i in targets[j, :n]) == s[1:]
    x32, t32 = reber.encode(strings, dtype=np.float32)
    assert x32.dtype == np.float32 and np.array_equal(x32, x) and np.array_equal(t32, targets)


def test_encode_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        reber.encode([])
    with pytest.raises(ValueError):
        reber.encode(["B"])
    with pytest.raises(ValueError, match="'Q'"):
        reber.encode(["BTQ"])


def test_legal_mask_matches_allowed_next() -> None:
    strings = reber.generate(rng(3), 30)
    mask = reber.legal_mask(strings)
    t_max = max(map(len, strings)) - 1
    assert mask.shape == (30, t_max, 7) and mask.dtype == bool
    for j, s in enumerate(strings):
        for t, allowed in enumerate(reber.allowed_next(s)):
            assert {reber.SYMBOLS[k] for k in np.flatnonzero(mask[j, t])} == allowed
        assert not mask[j, len(s) - 1 :].any()


def _perfect(strings: list[str]) -> np.ndarray:
    _, targets = reber.encode(strings)
    return np.where(targets < 0, 0, targets)


def test_evaluate_perfect_predictions() -> None:
    strings = reber.generate(rng(4), 50)
    pred = _perfect(strings)
    assert reber.evaluate(pred, strings) == {"legal_acc": 1.0, "outer_acc": 1.0}
    mask = reber.legal_mask(strings)
    assert reber.evaluate(pred, strings, mask) == {"legal_acc": 1.0, "outer_acc": 1.0}


def test_evaluate_padding_ignored() -> None:
    strings = ["BTBTXSETE", "BPBTSSXXTVVEPE"]
    pred = _perfect(strings)
    pred[0, 8:] = 99  # garbage in padded steps
    assert reber.evaluate(pred, strings) == {"legal_acc": 1.0, "outer_acc": 1.0}


def test_evaluate_wrong_outer_letter() -> None:
    strings = ["BTBTXSETE", "BPBPVVEPE", "BTBPVVETE", "BPBTXSEPE"]
    pred = _perfect(strings)
    s = strings[0]
    step = len(s) - 3  # the target at this step is the closing outer letter
    assert reber.SYMBOLS[pred[0, step]] == "T"
    pred[0, step] = reber.INDEX["P"]
    result = reber.evaluate(pred, strings)
    assert result["outer_acc"] == 0.75
    n_steps = sum(len(s) - 1 for s in strings)
    assert result["legal_acc"] == pytest.approx(1 - 1 / n_steps)


def test_evaluate_legal_but_different_prediction() -> None:
    # At a branch point, predicting the other branch is legal.
    strings = ["BTBTXSETE"]
    pred = _perfect(strings)
    pred[0, 0] = reber.INDEX["P"]  # after B: T or P both legal
    pred[0, 3] = reber.INDEX["S"]  # after BTBT: S or X both legal
    assert reber.evaluate(pred, strings) == {"legal_acc": 1.0, "outer_acc": 1.0}
    pred[0, 1] = reber.INDEX["E"]  # after BT only B is legal
    pred[0, 2] = -3  # out of range counts as illegal
    assert reber.evaluate(pred, strings)["legal_acc"] == pytest.approx(6 / 8)


def test_evaluate_checks_shapes() -> None:
    strings = reber.generate(rng(5), 5)
    pred = _perfect(strings)
    with pytest.raises(ValueError):
        reber.evaluate(pred[:, :-1], strings)
    with pytest.raises(ValueError):
        reber.evaluate(pred, strings, reber.legal_mask(strings[:4]))


# =========================================================================== adding


@FAST
@given(SEEDS, st.integers(1, 8), st.integers(2, 40))
def test_adding_layout_and_target(seed: int, m: int, T: int) -> None:
    x, y = adding.generate(rng(seed), m, T)
    assert x.shape == (2, m, T) and y.shape == (1, m)
    assert x.dtype == np.float64 and y.dtype == np.float64
    values, markers = x
    assert np.all((values >= -1) & (values < 1))
    assert set(np.unique(markers)) <= {0.0, 1.0}
    half = T // 2
    assert np.all(markers[:, :half].sum(axis=1) == 1)
    assert np.all(markers[:, half:].sum(axis=1) == 1)
    assert np.allclose(y[0], (values * markers).sum(axis=1))


def test_adding_deterministic_and_dtype() -> None:
    x1, y1 = adding.generate(rng(11), 16, 20)
    x2, y2 = adding.generate(rng(11), 16, 20)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    x3, _ = adding.generate(rng(12), 16, 20)
    assert not np.array_equal(x1, x3)
    x32, y32 = adding.generate(rng(11), 16, 20, dtype=np.float32)
    assert x32.dtype == np.float32 and y32.dtype == np.float32
    assert np.allclose(x32, x1, atol=1e-6) and np.allclose(y32, y1, atol=1e-6)


def test_adding_baseline_variance() -> None:
    _, y = adding.generate(rng(0), 20000, 10)
    assert np.mean(y**2) == pytest.approx(adding.BASELINE_MSE, rel=0.05)
    assert adding.SOLVED_MSE < adding.BASELINE_MSE


def test_adding_t2_marks_both_steps() -> None:
    x, _ = adding.generate(rng(0), 5, 2)
    assert np.all(x[1] == 1)


@pytest.mark.parametrize(("m", "T"), [(4, 1), (4, 0), (0, 10)])
def test_adding_bad_sizes(m: int, T: int) -> None:
    with pytest.raises(InputError):
        adding.generate(rng(0), m, T)


# ============================================================================= text


def test_load_text_roundtrip(tmp_path: Path) -> None:
    p = tmp_path / "in.txt"
    p.write_bytes("héllo\r\nwörld ✓ 𝄞\n".encode())
    assert text.load_text(p) == "héllo\r\nwörld ✓ 𝄞\n"
    assert text.load_text(str(p)) == "héllo\r\nwörld ✓ 𝄞\n"
    p.write_bytes(b"\xef\xbb\xbfabc")  # UTF-8 BOM dropped
    assert text.load_text(p) == "abc"


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp_path / "data.bin"
    binary.write_bytes(b"abc\x00def")
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    bom_only = tmp_path / "bom.txt"
    bom_only.write_bytes(b"\xef\xbb\xbf")
    folder = tmp_path / "folder"
    folder.mkdir()
    return {
        "missing": tmp_path / "nope.txt",
        "directory": folder,
        "empty": empty,
        "bom_only": bom_only,
        "binary": binary,
        "not_utf8": latin,
    }


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("missing", "not found"),
        ("directory", "directory"),
        ("empty", "empty"),
        ("bom_only", "empty"),
        ("binary", "binary"),
        ("not_utf8", "UTF-8"),
    ],
)
def test_load_text_errors(tmp_path: Path, case: str, words: str) -> None:
    path = _bad_files(tmp_path)[case]
    with pytest.raises(InputError) as info:
        text.load_text(path)
    msg = str(info.value)
    assert str(path) in msg and words in msg
    assert "\n" not in msg


def test_load_text_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "secret.txt"
    p.write_text("abc")

    def deny(self: Path, *args: object, **kwargs: object) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", deny)
    with pytest.raises(InputError, match="cannot read") as info:
        text.load_text(p)
    assert str(p) in str(info.value)


def test_split() -> None:
    train, val = text.split("abcdefghij", 0.8)
    assert (train, val) == ("abcdefgh", "ij")
    assert text.split("abcdefghij") == ("abcdefghi", "j")
    for frac in (0.0, 1.0, -0.5, 2.0):
        with pytest.raises(InputError):
            text.split("abc", frac)


def test_vocab_basics() -> None:
    v = text.Vocab.from_text("hello world")
    assert v.to_list() == [" ", "d", "e", "h", "l", "o", "r", "w"]
    assert v.size == len(v) == 8
    idx = v.encode("hello")
    assert idx.dtype == np.int64 and idx.tolist() == [3, 2, 4, 4, 5]
    assert v.decode(idx) == "hello"
    assert v.decode([]) == "" and v.encode("").shape == (0,)
    with pytest.raises(InputError, match="'z'"):
        v.encode("hez")
    with pytest.raises(ValueError):
        v.decode([8])


def test_vocab_list_roundtrip_and_order() -> None:
    v = text.Vocab.from_text("banana!")
    restored = text.Vocab.from_list(v.to_list())
    assert restored == v
    # an arbitrary (unsorted) order from a checkpoint is honoured
    w = text.Vocab.from_list(["n", "a", "b"])
    assert w.encode("banana").tolist() == [2, 1, 0, 1, 0, 1]
    assert w.decode([2, 1, 0]) == "ban"
    for bad in ([], ["a", "a"], ["ab"], [""]):
        with pytest.raises(InputError):
            text.Vocab.from_list(bad)


@FAST
@given(st.text(min_size=1, max_size=200))
def test_vocab_roundtrip_any_text(s: str) -> None:
    v = text.Vocab.from_text(s)
    idx = v.encode(s)
    assert len(idx) == len(s)
    assert np.all((idx >= 0) & (idx < v.size))
    assert v.decode(idx) == s
    assert text.Vocab.from_list(v.to_list()).encode(s).tolist() == idx.tolist()


def _stream(n: int, batch: int, bptt: int, vocab: int = 5) -> tuple[np.ndarray, text.TextStream]:
    data = np.arange(n) % vocab
    return data, text.TextStream(data, vocab, batch, bptt, path="corpus.txt")


def test_stream_chunks_are_consecutive() -> None:
    data = np.arange(23, dtype=np.int64)  # every character distinct
    s = text.TextStream(data, 23, batch=2, bptt=3)
    # L = (23 - 1) // 2 = 11, 3 chunks per pass, last 2 steps per track skipped
    assert s.track_length == 11 and s.chunks_per_epoch == 3
    x, y = s.next_chunk()
    assert x.shape == (23, 2, 3) and x.dtype == np.float64
    assert y.shape == (2, 3) and y.dtype == np.int64
    assert np.array_equal(x.sum(axis=0), np.ones((2, 3)))
    assert x.argmax(axis=0).tolist() == [[0, 1, 2], [11, 12, 13]]
    assert y.tolist() == [[1, 2, 3], [12, 13, 14]]
    assert s.wrapped
    x, y = s.next_chunk()
    assert x.argmax(axis=0).tolist() == [[3, 4, 5], [14, 15, 16]]
    assert y.tolist() == [[4, 5, 6], [15, 16, 17]]
    assert not s.wrapped
    s.next_chunk()
    assert not s.wrapped and s.epoch == 1
    x, y = s.next_chunk()  # wraps to the start
    assert s.wrapped and s.epoch == 1
    assert x.argmax(axis=0).tolist() == [[0, 1, 2], [11, 12, 13]]


@FAST
@given(st.integers(1, 5), st.integers(1, 6), st.integers(0, 40))
def test_stream_targets_follow_inputs(batch: int, bptt: int, extra: int) -> None:
    n = batch * bptt + 1 + extra
    data = np.arange(n, dtype=np.int64)
    s = text.TextStream(data, n, batch, bptt)
    track = (n - 1) // batch
    seen_x = np.empty((batch, 0), dtype=np.int64)
    for k in range(2 * s.chunks_per_epoch):
        x, y = s.next_chunk()
        xi = x.argmax(axis=0)
        assert np.array_equal(y, xi + 1)  # target is the next character
        assert s.wrapped == (k % s.chunks_per_epoch == 0)
        if k < s.chunks_per_epoch:
            seen_x = np.concatenate([seen_x, xi], axis=1)
    # one pass reads each track's characters in order
    starts = np.arange(batch)[:, None] * track
    assert np.array_equal(seen_x, starts + np.arange(seen_x.shape[1])[None, :])
    assert seen_x.shape[1] == (track // bptt) * bptt


def test_stream_state_restore() -> None:
    _, a = _stream(200, batch=3, bptt=7)
    for _ in range(5):
        a.next_chunk()
    pos = a.state()
    assert isinstance(pos, int) and pos == 5
    expected = [(*a.next_chunk(), a.wrapped) for _ in range(20)]
    assert any(w for *_, w in expected)  # the 20 chunks include a wrap
    _, b = _stream(200, batch=3, bptt=7)
    b.set_state(pos)
    for x_exp, y_exp, wrapped in expected:
        x, y = b.next_chunk()
        assert np.array_equal(x, x_exp) and np.array_equal(y, y_exp)
        assert b.wrapped == wrapped
    assert b.state() == a.state()
    with pytest.raises(InputError):
        b.set_state(-1)


def test_stream_wrapped_survives_restore() -> None:
    _, a = _stream(100, batch=2, bptt=4)
    n = a.chunks_per_epoch
    a.set_state(n)
    a.next_chunk()
    assert a.wrapped and a.epoch == 1


def test_stream_min_length_rule() -> None:
    _, s = _stream(2 * 5 + 1, batch=2, bptt=5)  # exactly batch * bptt + 1
    assert s.chunks_per_epoch == 1
    s.next_chunk()
    with pytest.raises(InputError) as info:
        _stream(2 * 5, batch=2, bptt=5)
    msg = str(info.value)
    assert "corpus.txt" in msg and "10" in msg and "11" in msg


def test_stream_dtype_and_bad_args() -> None:
    s = text.TextStream(np.zeros(20, dtype=np.int64), 3, 2, 4, dtype=np.float32)
    assert s.next_chunk()[0].dtype == np.float32
    for batch, bptt in ((0, 4), (2, 0)):
        with pytest.raises(InputError):
            text.TextStream(np.zeros(20, dtype=np.int64), 3, batch, bptt)
    with pytest.raises(ValueError):
        text.TextStream(np.full(20, 3), 3, 2, 4)  # index outside the vocabulary
    with pytest.raises(ValueError):
        text.TextStream(np.zeros(20), 3, 2, 4)  # not integers


def test_end_to_end_file_to_stream(tmp_path: Path) -> None:
    p = tmp_path / "tiny.txt"
    p.write_text("the quick brown fox jumps over the lazy dog\n" * 3)
    raw = text.load_text(p)
    train, val = text.split(raw, 0.9)
    vocab = text.Vocab.from_text(raw)
    stream = text.TextStream(vocab.encode(train), vocab.size, 4, 8, path=p)
    x, y = stream.next_chunk()
    assert x.shape == (vocab.size, 4, 8)
    assert vocab.decode(x[:, 0, :].argmax(axis=0)) == train[:8]
    assert vocab.decode(y[0]) == train[1:9]
    with pytest.raises(InputError, match="tiny.txt"):
        text.TextStream(vocab.encode(val), vocab.size, 4, 8, path=p)
