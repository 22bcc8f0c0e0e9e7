"""Build a large text corpus from text this machine already has, for the text-at-scale
benchmark (`benchmarks/text_scale.py`): nothing is downloaded.

Sources, in this order, each file read as UTF-8 (files that are not, or that hold NUL
bytes, are skipped; ``.gz`` files are decompressed): the Python standard library's
sources, /usr/share/common-licenses, the text files and gzipped changelogs under
/usr/share/doc, and the man pages under /usr/share/man (their roff source). They are cut
into paragraphs (at blank lines) until `--unique-mb` of distinct text is collected; the
corpus is then those paragraphs in a fresh seeded shuffle each round, round after round,
until it reaches `--mb` megabytes (10^6 bytes), cut at a paragraph.

By default only paragraphs of printable ASCII (plus tab and newline) are kept, so the
vocabulary is that of English text and code (about 100 characters, uint8 indices);
``--unicode`` keeps every paragraph. The same machine and arguments give the same file;
another machine gives a similar one (its sha256 is printed, for the record).

    python benchmarks/make_corpus.py /tmp/corpus-100mb.txt            # 100 MB
    python benchmarks/make_corpus.py /tmp/corpus-1mb.txt --mb 1
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import random
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

DOC_SUFFIXES = (".txt", ".md", ".rst")
PRINTABLE = set(map(chr, range(32, 127))) | {"\n", "\t"}


def source_files() -> Iterator[Path]:
    """Candidate files, in a fixed order."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    yield from sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts)
    yield from sorted(Path("/usr/share/common-licenses").glob("*"))
    doc = Path("/usr/share/doc")
    names = ("copyright", "changelog.gz", "changelog.Debian.gz")
    yield from sorted(p for p in doc.rglob("*") if p.suffix in DOC_SUFFIXES or p.name in names)
    yield from sorted(Path("/usr/share/man").glob("man[1-8]/*.gz"))


def read(path: Path) -> str | None:
    """The file's text, or None if it is not a readable UTF-8 text file."""
    try:
        if not path.is_file() or path.is_symlink():
            return None
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def paragraphs(unique_bytes: int, ascii_only: bool) -> list[str]:
    """Distinct paragraphs from the sources, about `unique_bytes` of them."""
    seen: set[str] = set()
    out: list[str] = []
    total = 0
    for path in source_files():
        text = read(path)
        if text is None:
            continue
        for para in text.replace("\r\n", "\n").split("\n\n"):
            para = para.strip("\n")
            if not para.strip() or para in seen:
                continue
            if ascii_only and not set(para) <= PRINTABLE:
                continue
            seen.add(para)
            out.append(para)
            total += len(para.encode()) + 2
        if total >= unique_bytes:
            break
    return out


def build(path: Path, megabytes: float, unique_mb: float, seed: int, ascii_only: bool) -> None:
    target = int(megabytes * 1e6)
    paras = paragraphs(int(unique_mb * 1e6), ascii_only)
    if not paras:
        sys.exit("no readable text files found")
    rng = random.Random(seed)
    written = 0
    digest = hashlib.sha256()
    with path.open("wb") as fh:
        while written < target:
            order = paras[:]
            rng.shuffle(order)
            for para in order:
                data = (para + "\n\n").encode()
                fh.write(data)
                digest.update(data)
                written += len(data)
                if written >= target:
                    break
    text_chars = len(path.read_text(encoding="utf-8")) if written < 3e8 else None
    print(f"{path}: {written:,} bytes, {text_chars or '?':,} characters, "
          f"{len(paras):,} distinct paragraphs, sha256 {digest.hexdigest()}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="the corpus file to write")
    ap.add_argument("--mb", type=float, default=100.0, help="size in MB (10^6 bytes)")
    ap.add_argument("--unique-mb", type=float, default=40.0, help="distinct text to collect")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--unicode", action="store_true", help="keep non-ASCII paragraphs too")
    args = ap.parse_args()
    build(args.out, args.mb, args.unique_mb, args.seed, not args.unicode)


if __name__ == "__main__":
    main()
