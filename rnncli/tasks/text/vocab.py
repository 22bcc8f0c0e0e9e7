"""A character vocabulary: characters to indices and back.

Index i is the character ``chars[i]``; a vocabulary built from a text lists its
characters sorted by code point. With ``train.vocab_min_count`` > 1, characters seen
fewer times than that share one unknown symbol, `UNKNOWN` (U+FFFD, the replacement
character "�"), which is then an entry of the vocabulary like any other: it stands for
itself (if the text has it) and for every rare character, in task.json and in samples.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from rnncli.errors import InputError

UNKNOWN = "\ufffd"


def index_dtype(size: int) -> np.dtype:
    """The smallest unsigned integer type that holds indices ``[0, size)``: uint8 up to
    256 characters, uint16 up to 65,536, uint32 beyond (Unicode has ~155,000 characters)."""
    for dt in (np.uint8, np.uint16):
        if size <= np.iinfo(dt).max + 1:
            return np.dtype(dt)
    return np.dtype(np.uint32)


class Vocab:
    """A character vocabulary: index i is the character ``chars[i]``.

    `unknown` (one of `chars`, or None) is the symbol that characters outside the
    vocabulary are encoded as; without one, `encode` refuses them.
    """

    def __init__(self, chars: Sequence[str], unknown: str | None = None) -> None:
        chars = tuple(chars)
        if not chars:
            raise InputError("vocab: needs at least one character")
        bad = [c for c in chars if not isinstance(c, str) or len(c) != 1]
        if bad:
            raise InputError(f"vocab: entries must be single characters, got {bad[0]!r}")
        if len(set(chars)) != len(chars):
            raise InputError("vocab: characters must be unique")
        if unknown is not None and unknown not in chars:
            raise InputError(f"vocab: the unknown symbol {unknown!r} is not in the vocabulary")
        self.chars = chars
        self.unknown = unknown
        codes = np.array([ord(c) for c in chars], dtype=np.int64)
        self._order = np.argsort(codes, kind="stable")  # sorted position -> index
        self._sorted = codes[self._order]

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        """The sorted unique characters of `text`."""
        return cls(sorted(set(text)))

    @classmethod
    def from_counts(cls, counts: np.ndarray, min_count: int = 1) -> tuple[Vocab, int, int]:
        """The vocabulary of a text whose character with code point c occurs
        ``counts[c]`` times: (vocab, rare, unknown_count), where the `rare` distinct
        characters seen fewer than `min_count` times (together `unknown_count` of the
        text's characters) are mapped to `UNKNOWN`. Refuses a `min_count` that no
        character reaches."""
        present = np.flatnonzero(counts)
        kept = present[counts[present] >= min_count]
        rare = present[counts[present] < min_count]
        if not kept.size:
            raise InputError(
                f"train.vocab_min_count={min_count}: no character occurs that often (the "
                f"most frequent occurs {int(counts.max())} times)"
            )
        chars = [chr(c) for c in kept.tolist()]
        if not rare.size:
            return cls(chars), 0, 0
        if UNKNOWN not in chars:
            chars = sorted([*chars, UNKNOWN])
        return cls(chars, UNKNOWN), int(rare.size), int(counts[rare].sum())

    @classmethod
    def from_list(cls, chars: Sequence[str], unknown: str | None = None) -> Vocab:
        """Inverse of `to_list` (e.g. read back from task.json)."""
        return cls(chars, unknown)

    def to_list(self) -> list[str]:
        """The characters in index order, a JSON-serialisable list."""
        return list(self.chars)

    @property
    def size(self) -> int:
        """Number of characters V."""
        return len(self.chars)

    @property
    def dtype(self) -> np.dtype:
        """The index type of an encoded text (`index_dtype`)."""
        return index_dtype(self.size)

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Vocab) and self.chars == other.chars and self.unknown == other.unknown
        )

    def __hash__(self) -> int:
        return hash((self.chars, self.unknown))

    def __repr__(self) -> str:
        return f"Vocab(size={self.size})"

    def lookup(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(indices, known) for code points (n,): the index of each code point that is in
        the vocabulary (int64, arbitrary where ``known`` is False)."""
        codes = np.asarray(codes, dtype=np.int64)
        pos = np.clip(np.searchsorted(self._sorted, codes), 0, len(self._sorted) - 1)
        return self._order[pos], self._sorted[pos] == codes

    def encode(self, text: str) -> np.ndarray:
        """Indices of the characters of `text`, int64 ``(len(text),)``.

        A character outside the vocabulary is the unknown symbol's index if there is one;
        otherwise InputError names the first such character.
        """
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        idx, known = self.lookup(codes)
        if not known.all():
            if self.unknown is None:
                c = text[int(np.argmin(known))]
                raise InputError(f"vocab: character {c!r} is not in the vocabulary")
            idx = np.where(known, idx, self.chars.index(self.unknown))
        return idx.astype(np.int64)

    def decode(self, indices: Iterable[int] | np.ndarray) -> str:
        """The string for a sequence of indices (each in ``[0, size)``)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.size):
            raise ValueError(f"vocab: index out of range [0, {self.size})")
        return "".join(self.chars[i] for i in idx.tolist())
