"""Text at scale: streaming reads, vocabularies (unknown symbol, uint16 indices), the text
cache (hits, invalidation, damaged entries), memory-mapped training, the fixed held-out
evaluation, and losses in one unit (nats and bits per character).

Every test gets its own empty cache (tests/conftest.py sets RNNCLI_CACHE).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from rnncli import engine
from rnncli import loss as losses
from rnncli.cli import app
from rnncli.config import load_config
from rnncli.config.memory import training_bytes
from rnncli.errors import InputError
from rnncli.tasks import text
from rnncli.tasks.text import cache as cache_mod
from rnncli.tasks.text import corpus as corpus_mod
from rnncli.training import prepare, train
from rnncli.training.loop import fresh_state

FAST = settings(max_examples=40, deadline=None)
LN2 = math.log(2)
SENTENCE = "the quick brown fox jumps over the lazy dog. Pack my box with five dozen jugs!\n"


def invoke(args: list[str]) -> Any:
    return CliRunner().invoke(app, args, env={"NO_COLOR": "1"}, catch_exceptions=False)


def corpus_file(tmp_path: Path, content: str = SENTENCE * 60, name: str = "c.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8"))
    return path


def cjk_text(n_distinct: int = 400, repeats: int = 6, seed: int = 0) -> str:
    """Text with many distinct characters (CJK ideographs and ASCII)."""
    rng = np.random.default_rng(seed)
    chars = [chr(0x4E00 + i) for i in range(n_distinct)]
    body = "".join(rng.permutation(chars * repeats).tolist())
    return "\n".join(body[i : i + 40] + " ok." for i in range(0, len(body), 40))


def text_cfg(path: Path, *extra: str) -> Any:
    overrides = ["train.task=text", f"train.data={path}", "train.hidden=8", "train.bptt=10",
                 "train.batch=4", "train.steps=30", "train.eval_every=10",
                 "train.eval_chars=500", *extra]  # fmt: skip
    return load_config(None, {}, overrides, training=True)


def entry_files(cache: Path) -> list[Path]:
    return sorted((cache / "text").glob("*.npy"))


# ------------------------------------------------------------------ streaming reads


@FAST
@given(st.text(min_size=1, max_size=300), st.integers(1, 9), st.booleans())
def test_decoded_pieces_join_to_the_text(
    tmp_path_factory: Any, s: str, chunk: int, bom: bool
) -> None:
    """Any cut of the bytes (multi-byte characters split across pieces) decodes to the
    same text as decoding the whole file at once."""
    s = s.replace("\x00", "")
    if not s:
        return
    path = tmp_path_factory.mktemp("d") / "t.txt"
    raw = s.encode("utf-8", "surrogatepass")
    try:
        expected = raw.decode("utf-8")
    except UnicodeDecodeError:
        return  # a lone surrogate from hypothesis: not text a file can hold
    path.write_bytes((text.read.BOM if bom else b"") + raw)
    pieces = list(text.decoded(path, chunk=chunk))
    assert all(pieces) and "".join(pieces) == expected


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 1 << 20])
@pytest.mark.parametrize("bom", [False, True])
def test_bad_byte_offset_is_the_offset_in_the_file(tmp_path: Path, chunk: int, bom: bool) -> None:
    head = (text.read.BOM if bom else b"") + "ab✓cd".encode()
    for bad in (b"\xff", b"\xe2\x82A", b"\xe2\x82"):  # bad start, cut sequence, truncated
        path = tmp_path / "bad.txt"
        path.write_bytes(head + bad + (b"xyz" if bad != b"\xe2\x82" else b""))
        with pytest.raises(InputError, match=rf"bad byte at offset {len(head)}\)"):
            list(text.decoded(path, chunk=chunk))


def test_binary_and_empty_files_in_pieces(tmp_path: Path) -> None:
    path = tmp_path / "late.bin"
    path.write_bytes(b"a" * 100 + b"\x00")
    with pytest.raises(InputError, match="binary"):
        list(text.decoded(path, chunk=16))
    for content in (b"", text.read.BOM):
        path.write_bytes(content)
        with pytest.raises(InputError, match="empty"):
            list(text.decoded(path, chunk=2))


def test_progress_reaches_the_total(tmp_path: Path) -> None:
    path = corpus_file(tmp_path)
    seen: list[tuple[int, int]] = []
    text.encode_file(path, progress=lambda done, total: seen.append((done, total)))
    size = path.stat().st_size
    assert seen[-1] == (2 * size, 2 * size)  # two passes over the file, one bar
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


# ------------------------------------------------------------------ vocabularies


def test_index_dtype_limits() -> None:
    assert text.index_dtype(1) == np.uint8 and text.index_dtype(256) == np.uint8
    assert text.index_dtype(257) == np.uint16 and text.index_dtype(65_536) == np.uint16
    assert text.index_dtype(65_537) == np.uint32


def _counts(s: str) -> np.ndarray:
    codes = np.frombuffer(s.encode("utf-32-le"), dtype="<u4")
    return np.bincount(codes).astype(np.int64)


def test_min_count_maps_rare_characters_to_one_unknown_symbol() -> None:
    s = "aaaabbbbcz\u00e9"
    vocab, rare, unknown_count = text.Vocab.from_counts(_counts(s), 2)
    assert vocab.to_list() == ["a", "b", text.UNKNOWN] and vocab.unknown == text.UNKNOWN
    assert (rare, unknown_count) == (3, 3)
    assert vocab.decode(vocab.encode("abcé!")) == "ab" + text.UNKNOWN * 3
    # min_count 1 keeps everything, as before: no unknown symbol, unseen characters refused
    vocab, rare, _ = text.Vocab.from_counts(_counts(s), 1)
    assert vocab == text.Vocab.from_text(s) and vocab.unknown is None and rare == 0
    with pytest.raises(InputError, match="'!'"):
        vocab.encode("a!")


def test_unknown_symbol_already_in_the_text_stands_for_itself_too() -> None:
    s = "ab" * 5 + text.UNKNOWN * 3 + "z"
    vocab, rare, count = text.Vocab.from_counts(_counts(s), 2)
    assert vocab.to_list() == ["a", "b", text.UNKNOWN] and (rare, count) == (1, 1)


def test_min_count_that_no_character_reaches_is_refused() -> None:
    with pytest.raises(InputError, match=r"vocab_min_count=50.*occurs 3 times"):
        text.Vocab.from_counts(_counts("aaab"), 50)


# ------------------------------------------------------------------ the cache


def test_cache_dir_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RNNCLI_CACHE", str(tmp_path / "mine"))
    assert text.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("RNNCLI_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert text.cache_dir() == tmp_path / "xdg" / "rnncli"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert text.cache_dir() == tmp_path / "home" / ".cache" / "rnncli"


def test_first_run_encodes_later_runs_map(tmp_path: Path, text_cache: Path) -> None:
    path = corpus_file(tmp_path)
    said: list[str] = []
    first = text.open_corpus(path, notice=said.append)
    assert len(said) == 1 and said[0].startswith("text cache: encoded") and str(path) in said[0]
    (npy,) = entry_files(text_cache)
    assert first.entry == npy and isinstance(first.data, np.memmap)
    assert first.data.dtype == np.uint8 and first.characters == len(SENTENCE) * 60
    meta = json.loads(npy.with_suffix(".json").read_text())
    assert meta["source_sha256"] == first.sha256 and meta["characters"] == first.characters
    stamp = npy.stat().st_mtime_ns

    said.clear()
    again = text.open_corpus(path, notice=said.append)
    assert len(said) == 1 and said[0].startswith("text cache: using")
    assert npy.stat().st_mtime_ns == stamp  # mapped, not rebuilt
    assert isinstance(again.data, np.memmap) and again.vocab == first.vocab
    assert np.array_equal(again.data, first.data)
    assert first.vocab.decode(first.data) == path.read_text()


def test_memory_mapped_and_in_memory_indices_agree(tmp_path: Path) -> None:
    path = corpus_file(tmp_path, "h\u00e9llo w\u00f6rld \U0001d11e\r\n" * 50)
    mapped, memory = text.open_corpus(path), text.encode_file(path)
    assert isinstance(mapped.data, np.memmap) and not isinstance(memory.data, np.memmap)
    assert memory.entry is None and mapped.vocab == memory.vocab
    assert np.array_equal(mapped.data, memory.data) and mapped.data.dtype == memory.data.dtype


def test_uint16_vocabulary_round_trips(tmp_path: Path, text_cache: Path) -> None:
    content = cjk_text()
    path = corpus_file(tmp_path, content)
    first = text.open_corpus(path)
    assert first.vocab.size > 256 and first.data.dtype == np.uint16
    said: list[str] = []
    again = text.open_corpus(path, notice=said.append)
    assert said[0].startswith("text cache: using")  # the entry of 2-byte indices is whole
    assert again.data.dtype == np.uint16 and again.vocab == first.vocab
    assert again.vocab.decode(again.data) == content
    restored = text.Vocab.from_list(again.vocab.to_list())
    assert restored.decode(restored.encode(content)) == content


def test_more_than_65536_distinct_characters_get_uint32_indices(tmp_path: Path) -> None:
    content = "".join(chr(0x10000 + i) for i in range(70_000)) * 2  # planes 1 and 2
    path = corpus_file(tmp_path, content)
    first = text.open_corpus(path)
    assert first.vocab.size == 70_000 and first.data.dtype == np.uint32
    said: list[str] = []
    again = text.open_corpus(path, notice=said.append)
    assert said[0].startswith("text cache: using") and again.vocab.decode(again.data) == content


def test_cache_entry_is_keyed_by_content_and_vocab_setting(
    tmp_path: Path, text_cache: Path
) -> None:
    path = corpus_file(tmp_path)
    a = text.open_corpus(path)
    path.write_text(SENTENCE * 59 + "a new last line: 1234\n")  # the file changes
    said: list[str] = []
    b = text.open_corpus(path, notice=said.append)
    assert said[0].startswith("text cache: encoded")  # a new entry, the old one not trusted
    assert b.sha256 != a.sha256 and b.vocab.decode(b.data) == path.read_text()
    c = text.open_corpus(path, min_count=2)  # another setting: another entry
    assert c.vocab.unknown == text.UNKNOWN and c.rare == 5  # ":1234"
    assert len(entry_files(text_cache)) == 3


def _damage(npy: Path, how: str) -> None:
    meta_path = npy.with_suffix(".json")
    if how == "truncated":
        npy.write_bytes(npy.read_bytes()[:-7])
    elif how == "flipped byte":
        data = bytearray(npy.read_bytes())
        data[-3] ^= 0x01  # still a valid index: only the checksum can tell
        npy.write_bytes(bytes(data))
    elif how == "bad header":
        data = bytearray(npy.read_bytes())
        data[:6] = b"NOTNPY"
        npy.write_bytes(bytes(data))
    elif how == "json garbage":
        meta_path.write_text("{not json")
    elif how == "json vocab edited":
        meta = json.loads(meta_path.read_text())
        meta["vocab"][0] = "\u2603"
        meta_path.write_text(json.dumps(meta))
    elif how == "json length":
        meta = json.loads(meta_path.read_text())
        meta["characters"] += 1
        meta_path.write_text(json.dumps(meta))
    elif how == "no json":
        meta_path.unlink()
    elif how == "no npy":
        npy.unlink()


@pytest.mark.parametrize(
    "how",
    ["truncated", "flipped byte", "bad header", "json garbage", "json vocab edited",
     "json length", "no json", "no npy"],
)  # fmt: skip
def test_damaged_entry_is_rebuilt_with_a_notice(tmp_path: Path, text_cache: Path, how: str) -> None:
    path = corpus_file(tmp_path)
    good = text.open_corpus(path)
    expected = np.array(good.data)
    (npy,) = entry_files(text_cache)
    del good
    _damage(npy, how)
    said: list[str] = []
    again = text.open_corpus(path, notice=said.append)
    assert len(said) == 2, said
    assert said[0].startswith(f"text cache: {npy} is damaged (") and "rebuilding it" in said[0]
    assert "\n" not in said[0] and said[1].startswith("text cache: encoded")
    assert np.array_equal(again.data, expected)
    said.clear()
    text.open_corpus(path, notice=said.append)
    assert said[0].startswith("text cache: using")  # the rebuilt entry is good


def test_unwritable_cache_keeps_the_text_in_memory(tmp_path: Path) -> None:
    path = corpus_file(tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    said: list[str] = []
    c = text.open_corpus(path, cache=blocker, notice=said.append)
    assert len(said) == 1 and "cannot write" in said[0] and "in memory" in said[0]
    assert c.entry is None and c.vocab.decode(c.data) == path.read_text()


def test_a_file_that_changes_while_encoding_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text_cache: Path
) -> None:
    path = corpus_file(tmp_path)
    monkeypatch.setattr(corpus_mod, "file_sha256", lambda p: "0" * 64)  # hashed before a change
    with pytest.raises(InputError, match="changed while it was being encoded"):
        text.open_corpus(path)
    assert not list((text_cache / "text").glob("*")) if (text_cache / "text").exists() else True


def test_entry_open_checks_the_key(tmp_path: Path, text_cache: Path) -> None:
    path = corpus_file(tmp_path)
    c = text.open_corpus(path)
    entry = cache_mod.Entry(text_cache, c.sha256, 1)
    data, meta, vocab = entry.open()
    assert vocab == c.vocab and meta["vocab_sha256"] == cache_mod.vocab_sha256(vocab)
    other = cache_mod.Entry(text_cache, c.sha256, 2)
    for suffix in (".npy", ".json"):
        other.stem.with_suffix(suffix).write_bytes(entry.stem.with_suffix(suffix).read_bytes())
    with pytest.raises(cache_mod.BadEntry, match="another text or setting"):
        other.open()


# ------------------------------------------------------------------ streams on the map


def test_text_stream_on_a_memory_map_serves_the_same_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also across releases of the map's pages (every 4 chunks here)."""
    from rnncli.tasks.text import stream

    monkeypatch.setattr(stream, "RELEASE_EVERY", 4)
    path = corpus_file(tmp_path)
    mapped, memory = text.open_corpus(path), text.encode_file(path)
    V = mapped.vocab.size
    a = text.TextStream(mapped.data, V, 3, 7)
    b = text.TextStream(memory.data.astype(np.int64), V, 3, 7)
    assert np.shares_memory(a._inputs, mapped.data)  # a view of the map, not a copy
    assert stream.mapping(a._inputs) is not None and stream.mapping(b._inputs) is None
    assert a._release is not None and b._release is None
    for _ in range(2 * a.chunks_per_epoch + 1):
        (xa, ya), (xb, yb) = a.next_chunk(), b.next_chunk()
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb) and ya.dtype == np.int64
        assert a.wrapped == b.wrapped


def test_held_out_scores_fixed_characters() -> None:
    data = np.arange(10_000) % 7
    h = text.HeldOut(data, first=4_000, cap=2_500, vocab_size=7, chunk=30, segment=100)
    # 2,500 characters: 25 streams of 100 (at most 64 streams, one per 100 characters)
    assert (h.streams, h.length, h.chars) == (25, 100, 2_500)
    assert h.describe() == {"first": 4_000, "characters": 2_500, "held_out": 6_000,
                            "cap": 2_500, "streams": 25, "stream_length": 100}  # fmt: skip
    xs, ys = zip(*h.chunks(), strict=True)
    assert [y.shape[1] for y in ys] == [30, 30, 30, 10]
    inputs = np.concatenate([x.argmax(axis=0) for x in xs], axis=1)  # (streams, length)
    targets = np.concatenate(ys, axis=1)
    assert np.array_equal(inputs.ravel(), data[4_000:6_500])
    assert np.array_equal(targets.ravel(), data[4_001:6_501])
    # a cap beyond the held-out part: all of it but its last character (the last target)
    whole = text.HeldOut(data, 9_000, 10**9, 7, 30, segment=100)
    assert whole.available == 999 and whole.chars == 9 * 111
    small_chunks = text.HeldOut(data, 4_000, 2_500, 7, 30, segment=100, max_entries=25 * 7 * 4)
    assert small_chunks.chunk == 4  # a big vocabulary shortens the chunks


# ------------------------------------------------------------------ training


def _reference_val_loss(problem: Any, p: Any) -> float:
    """Each stream's whole segment in one forward pass from a zero state, cross-entropy
    summed over every scored character, divided by their number."""
    h = problem.held_out
    total = 0.0
    for j in range(h.streams):
        x = text.one_hot(h._inputs[j : j + 1], h.vocab_size, np.float64)
        H = engine.hidden(p, engine.forward(p, engine.to_time_major(x)))
        value, *_ = losses.xent(p.Wy, p.by, H, np.ascontiguousarray(h._targets[j : j + 1].T))
        total += value
    return total / h.chars


def test_val_loss_is_per_character_over_the_recorded_characters(tmp_path: Path) -> None:
    path = corpus_file(tmp_path, SENTENCE * 300)
    cfg = text_cfg(path, "train.eval_chars=2000")
    problem = prepare(cfg)
    p, _, _ = fresh_state(cfg, problem)
    result = problem.evaluate(p)
    assert result["val_loss"] == pytest.approx(_reference_val_loss(problem, p), rel=1e-12)
    assert result["val_bpc"] == pytest.approx(result["val_loss"] / LN2, rel=1e-15)
    assert problem.evaluate(p) == result  # the same characters every time
    e = problem.meta["evaluation"]
    n = len(SENTENCE) * 300
    assert e["first"] == int(n * 0.9) and e["characters"] == 2000 and e["streams"] == 2
    assert problem.evaluation == e and "2,000 of the" in problem.evaluated


def test_training_reports_losses_per_character_and_bits(tmp_path: Path) -> None:
    path = corpus_file(tmp_path)
    out = tmp_path / "out"
    result = invoke(["train", *_cli_args(path), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    run_dir = Path(doc["run_dir"])
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for row in rows:
        assert list(row)[:6] == ["step", "sequences", "loss", "bpc", "val_loss", "val_bpc"]
        assert row["bpc"] == row["loss"] / LN2 and row["val_bpc"] == row["val_loss"] / LN2
        assert row["loss"] < 5 and row["val_loss"] < 5  # nats per character (ln 26 = 3.3)
    assert doc["final"]["bpc"] == rows[-1]["bpc"]
    task = json.loads((run_dir / "task.json").read_text())
    info = json.loads((run_dir / "run.json").read_text())
    assert task["evaluation"] == info["summary"]["evaluation"] == doc["evaluation"]
    assert task["characters"] == path.stat().st_size and task["index_dtype"] == "uint8"
    assert task["unknown"] is None and task["vocab_min_count"] == 1
    table = invoke(["train", *_cli_args(path), "--no-save"]).stdout
    chars = task["evaluation"]["characters"]
    assert f"{chars:,} of {task['evaluation']['held_out']:,} held-out characters" in table


def _cli_args(path: Path, steps: int = 30) -> list[str]:
    return ["--data", str(path), "train.hidden=8", "train.bptt=10", "train.batch=4",
            f"train.steps={steps}", "train.eval_every=10", "train.checkpoint_every=10",
            "train.eval_chars=500"]  # fmt: skip


def test_memory_mapped_and_in_memory_training_are_bit_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = corpus_file(tmp_path)
    cfg = text_cfg(path)
    mapped = train(cfg)
    assert isinstance(mapped.problem.corpus.data, np.memmap)  # type: ignore[attr-defined]

    def in_memory(path: Any, min_count: int = 1, **_: Any) -> text.Corpus:
        return text.encode_file(path, min_count)

    monkeypatch.setattr(text, "open_corpus", in_memory)
    memory = train(cfg)
    assert not isinstance(memory.problem.corpus.data, np.memmap)  # type: ignore[attr-defined]
    assert np.array_equal(mapped.params.flat, memory.params.flat)
    assert mapped.history == [
        {**r, "wall_s": m["wall_s"]} for r, m in zip(memory.history, mapped.history, strict=True)
    ]


def test_resume_after_the_cache_was_deleted_rebuilds_it(tmp_path: Path, text_cache: Path) -> None:
    path = corpus_file(tmp_path)
    args = ["train", *_cli_args(path, steps=20), "--out", str(tmp_path / "a"), "--json"]
    run_dir = Path(json.loads(invoke(args).stdout)["run_dir"])
    for f in (text_cache / "text").iterdir():
        f.unlink()
    result = invoke(["train", "--resume", str(run_dir), "train.steps=30"])
    assert result.exit_code == 0, result.stderr
    assert "text cache: encoded" in result.stderr and entry_files(text_cache)
    full = ["train", *_cli_args(path, steps=30), "--out", str(tmp_path / "b"), "--json"]
    full_dir = Path(json.loads(invoke(full).stdout)["run_dir"])
    with np.load(run_dir / "checkpoint.npz") as a, np.load(full_dir / "checkpoint.npz") as b:
        assert np.array_equal(a["theta"], b["theta"])


def test_resume_refuses_a_changed_file_before_encoding_it(tmp_path: Path) -> None:
    path = corpus_file(tmp_path)
    args = ["train", *_cli_args(path, steps=10), "--out", str(tmp_path / "a"), "--json"]
    run_dir = Path(json.loads(invoke(args).stdout)["run_dir"])
    path.write_text(SENTENCE * 61)
    result = invoke(["train", "--resume", str(run_dir), "train.steps=20"])
    assert result.exit_code == 2 and "changed since the run started" in result.stderr
    assert "text cache" not in result.stderr


def test_large_vocabulary_trains_and_says_what_it_costs(tmp_path: Path) -> None:
    path = corpus_file(tmp_path, cjk_text(n_distinct=300, repeats=8))
    result = invoke(["train", *_cli_args(path, steps=3), "--no-save"])
    assert result.exit_code == 0, result.stderr
    assert "distinct characters: the input and output layers have" in result.stderr
    assert "this run needs about" in result.stderr


def test_memory_estimate_counts_the_vocabulary(tmp_path: Path) -> None:
    cfg = text_cfg(corpus_file(tmp_path))
    small, big = training_bytes(cfg, 50, 50, (10, 64)), training_bytes(cfg, 5000, 5000, (10, 64))
    # inputs twice and outputs three times, per step and column, for training and evaluation
    columns = cfg.train.bptt * cfg.train.batch + 10 * 64
    assert big - small >= 8 * 5 * (5000 - 50) * columns
    result = invoke(["train", *_cli_args(tmp_path / "c.txt"), "train.hidden=900000"])
    assert result.exit_code == 2 and "n_x=" in result.stderr and "eval_chars" in result.stderr


def test_min_count_run_records_its_unknown_symbol_and_samples_with_it(tmp_path: Path) -> None:
    path = corpus_file(tmp_path, SENTENCE * 60 + "\u00e9\u00e8 rare!\n")
    out = tmp_path / "out"
    args = ["train", *_cli_args(path), "train.vocab_min_count=5", "--out", str(out), "--json"]
    result = invoke(args)
    assert result.exit_code == 0, result.stderr
    run_dir = Path(json.loads(result.stdout)["run_dir"])
    task = json.loads((run_dir / "task.json").read_text())
    assert task["unknown"] == text.UNKNOWN and text.UNKNOWN in task["vocab"]
    assert task["rare_characters"] == 2 and task["unknown_count"] == 2
    assert task["vocab_min_count"] == 5
    sample = invoke(["sample", str(run_dir), "--prime", "\u00e9t", "-n", "5", "--json"])
    assert sample.exit_code == 0, sample.stderr
    assert json.loads(sample.stdout)["text"].startswith("\u00e9t")
    seen = invoke(["inspect", str(run_dir), "--no-save", "--text", "\u00e9t the fox"])
    assert seen.exit_code == 0, seen.stderr  # inspect reads them as the unknown symbol too


def test_bad_file_refusal_is_one_line_even_after_encoding(tmp_path: Path) -> None:
    path = corpus_file(tmp_path, "too short for a batch\n")
    result = invoke(["train", "--data", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "characters" in result.stderr
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ inspect and head


def test_inspect_reads_its_passage_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rnncli.inspect import run as run_mod

    content = "".join(f"para {i}: {SENTENCE}\n" for i in range(200))
    path = corpus_file(tmp_path, content)
    args = ["train", *_cli_args(path, steps=5), "--out", str(tmp_path / "out"), "--json"]
    run_dir = Path(json.loads(invoke(args).stdout)["run_dir"])

    def whole_file(*_: Any) -> str:
        raise AssertionError("inspect read the whole text")

    monkeypatch.setattr(text, "load_text", whole_file)
    monkeypatch.setattr(run_mod, "CONTEXT", 500)
    subject = run_mod.from_run(run_dir, "last")
    passage, source, before = run_mod.default_passage(subject, 40)
    cut = int(len(content) * 0.9)
    assert passage == content[cut : cut + 41] and source == "c.txt (validation part)"
    window = content[cut - 500 : cut]
    assert before == window[window.index("\n\n") + 2 :]  # from a paragraph's start
    result = invoke(["inspect", str(run_dir), "--no-save", "--json", "--length", "40"])
    assert result.exit_code == 0, result.stderr


def test_head_reads_only_the_pieces_it_needs(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"abc\n" * 50_000 + b"\xff")  # a bad byte 200 kB in
    assert text.head(path, 10) == "abc\nabc\nab"
    with pytest.raises(InputError, match="offset 200000"):
        text.head(path, 10**6)
    assert text.head(corpus_file(tmp_path, "short"), 100) == "short"


def test_cache_command_lists_and_cleans(tmp_path: Path, text_cache: Path) -> None:
    import os
    import time

    assert "nothing in" in invoke(["cache"]).stdout
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text(SENTENCE * 30, encoding="utf-8")
    new.write_text(SENTENCE * 50, encoding="utf-8")
    old_sha = text.open_corpus(old).sha256
    text.open_corpus(new)
    text.open_corpus(new, min_count=2)
    folder = text_cache / "text"
    day = 86_400
    stale = time.time() - 40 * day

    def age(path: Path) -> None:
        os.utime(path, (stale, stale))

    for f in folder.glob(f"{old_sha}-k1.*"):
        age(f)  # used 40 days ago
    interrupted = folder / f".{'a' * 64}-k1.npy.x1.tmp"  # an atomic write killed...
    interrupted.write_bytes(b"x" * 10)
    age(interrupted)
    (folder / f".{'b' * 64}-k1.npy.x2.tmp").write_bytes(b"x")  # ...and one under way
    foreign = [folder / "notes.txt", folder / ".DS_Store", folder / f"{old_sha}-k1.json.bak"]
    for f in foreign:  # not rnncli's, however old
        f.write_text("mine")
        age(f)

    doc = json.loads(invoke(["cache", "--json"]).stdout)
    rows = {r["name"]: r for r in doc["entries"]}
    assert len(rows) == 8 and doc["folder"] == str(folder)
    entries = [r for r in rows.values() if r["problem"] is None]
    assert sorted(r["source"] for r in entries) == ["new.txt", "new.txt", "old.txt"]
    assert {r["characters"] for r in entries} == {len(SENTENCE) * 30, len(SENTENCE) * 50}
    assert all(len(r["files"]) == 2 for r in entries)
    assert [r["removable"] for r in rows.values() if r["problem"]].count(True) == 1
    shown = invoke(["cache"]).stdout
    assert "old.txt" in shown and "8 entries" in shown

    result = invoke(["cache", "--clean", "--older-than", "30d"])  # not a terminal
    assert result.exit_code == 2 and "add --yes" in result.stderr
    assert len(list(folder.iterdir())) == 11  # nothing removed
    result = invoke(["cache", "--clean", "--older-than", "30d", "--yes"])
    assert result.exit_code == 0, result.stderr
    assert "removed 2 entries" in result.stderr and "3 left alone" in result.stderr
    left = {p.name for p in folder.iterdir()}
    assert not interrupted.exists() and not any(n.startswith(old_sha + "-k1.n") for n in left)
    assert all(f.exists() for f in foreign)
    assert invoke(["cache", "--older-than", "soon"]).exit_code == 2

    # everything: what is not removable stays; a removed entry is encoded again
    result = invoke(["cache", "--clean", "--yes"])
    assert "removed 2 entries" in result.stderr and "4 left alone" in result.stderr
    assert all(f.exists() for f in foreign)
    assert text.open_corpus(new).vocab.decode(text.open_corpus(new).data) == new.read_text()
    for f in folder.glob("*-k*.*"):
        age(f)
    text.open_corpus(new)  # a run uses the entry: it is not stale any more
    (row,) = [r for r in cache_mod.listing() if r["source"] == "new.txt"]
    assert cache_mod.unused_for(row) < day


def test_cache_listing_survives_files_that_go_meanwhile(
    text_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = text_cache / "text"
    folder.mkdir(parents=True)
    gone = folder / f".{'c' * 64}-k1.npy.x.tmp"
    gone.write_bytes(b"x")
    real_stat = Path.stat

    def stat(self: Path, **kw: Any) -> Any:
        if self == gone:  # renamed by a run between the folder's listing and this stat
            raise FileNotFoundError(str(self))
        return real_stat(self, **kw)

    monkeypatch.setattr(Path, "stat", stat)
    assert cache_mod.listing() == []
