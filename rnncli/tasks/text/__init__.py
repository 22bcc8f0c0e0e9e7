"""Character-level language modelling on a user's text file, at any size.

    read     the file in pieces: UTF-8 checks with byte offsets; `head`, `load_text`,
             `split`
    vocab    `Vocab`: characters <-> indices, an unknown symbol for rare characters
    corpus   `open_corpus`: the file encoded once (two streaming passes) into the cache,
             memory-mapped afterwards; `encode_file`: the same in memory
    cache    the cache entries (keyed by the file's SHA-256) and their checks
    stream   `TextStream` (training chunks for truncated BPTT) and `HeldOut` (the fixed
             held-out characters an evaluation scores), both reading windows of the
             index array

The training/validation split is by characters: the last 10% of the file is held out.
"""

from __future__ import annotations

from rnncli.cachedir import cache_dir
from rnncli.tasks.text.corpus import Corpus, encode_file, open_corpus
from rnncli.tasks.text.read import decoded, head, load_text, split, split_point
from rnncli.tasks.text.stream import HeldOut, TextStream, one_hot
from rnncli.tasks.text.vocab import UNKNOWN, Vocab, index_dtype

__all__ = [
    "UNKNOWN",
    "Corpus",
    "HeldOut",
    "TextStream",
    "Vocab",
    "cache_dir",
    "decoded",
    "encode_file",
    "head",
    "index_dtype",
    "load_text",
    "one_hot",
    "open_corpus",
    "split",
    "split_point",
]
