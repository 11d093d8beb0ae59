"""Vectorised word n-gram hashing: the shared front end of MinHash and decontamination.

Texts are normalised (lower case; every run of characters that are not ASCII letters or digits is
one word break; non-ASCII bytes count as letters, so accented and Greek words stay words) and cut
into words; an n-gram is n consecutive words of one document. Its 64-bit hash is computed for a
whole batch of documents at once with numpy, never one Python string per n-gram:

- a word's hash is a polynomial hash of its bytes, read off prefix sums of the batch's bytes
  (sum c_j p^j mod 2^64, shifted to the word's start with the inverse power, so equal words hash
  equally wherever they occur);
- an n-gram's hash combines its n word hashes with fixed odd multipliers and a splitmix64
  finaliser, so word order matters and the output bits are well mixed.

Word hashes are the costly half: a caller that needs n-grams of two sizes of the same texts
(MinHash's 5-grams and decontamination's 13-grams) hashes the words once (`word_hashes`) and
combines them twice (`ngrams`).

`ngram_strings` gives the same n-grams as Python strings, for peers (datasketch) and tests.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

import numpy as np

_WORD_BYTE = np.zeros(256, dtype=bool)
_WORD_BYTE[np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)] = True
_WORD_BYTE[0x80:] = True  # bytes of multi-byte UTF-8 characters

_P = 0x100000001B3  # odd, so it has an inverse modulo 2^64
_P_INV = pow(_P, -1, 1 << 64)
_U64 = np.uint64
# Fixed odd multipliers that combine the words of an n-gram (from a seeded generator, frozen so
# that hashes never change between numpy versions).
_COMBINE = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
     0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x87C37B91114253D5, 0x4CF5AD432745937F,
     0xA0761D6478BD642F, 0xE7037ED1A0B428DB, 0x8EBC6AF09C88C6E3, 0x589965CC75374CC3,
     0x1D8E4E27C47D124F, 0x2127599BF4325C37, 0x880355F21E6D1965, 0x5851F42D4C957F2D],
    dtype=np.uint64,
)
MAX_N = len(_COMBINE)

_NON_WORD = re.compile(r"[^a-z0-9\x80-\U0010ffff]+")


def _powers(p: int, size: int, block: int = 4096) -> np.ndarray:
    """p^1 .. p^size modulo 2^64: a sequential cumprod over one block, then each block is the
    first one times p^(block*k) (uint64 products wrap modulo 2^64, so this is exact)."""
    base = np.cumprod(np.full(block, p, _U64))
    steps = np.cumprod(np.full(-(-size // block), base[-1], _U64))
    steps = np.concatenate((np.ones(1, _U64), steps[:-1]))
    return (steps[:, None] * base[None, :]).ravel()[:size]


class _Powers:
    """p^(j+1) and p^-(j+1) modulo 2^64 for j < size, grown on demand and reused."""

    def __init__(self) -> None:
        self.size = 0
        self.pw = np.empty(0, _U64)
        self.ipw = np.empty(0, _U64)

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n > self.size:
            size = max(n, 2 * self.size, 1 << 16)
            self.pw, self.ipw = _powers(_P, size), _powers(_P_INV, size)
            self.size = size
        return self.pw[:n], self.ipw[:n]


_POWERS = _Powers()


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a bijection of uint64 that spreads every input bit."""
    x = x ^ (x >> _U64(30))
    x = x * _U64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> _U64(27))
    x = x * _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


@dataclass
class NgramBatch:
    """The n-gram hashes of a batch of documents, grouped by document in input order.

    `hashes[offsets[i]:offsets[i+1]]` are document i's n-gram hashes (with repeats). A document
    with fewer than n words (but at least one) has one n-gram made of all its words; a document
    without words has none.
    """

    hashes: np.ndarray  # uint64
    doc: np.ndarray  # int64, the document of each hash
    offsets: np.ndarray  # int64, len = documents + 1

    def of(self, i: int) -> np.ndarray:
        return self.hashes[self.offsets[i] : self.offsets[i + 1]]


@dataclass
class Words:
    """The hash of every word of a batch of texts, in order, and the text each belongs to."""

    hashes: np.ndarray  # uint64
    doc: np.ndarray  # int64
    count: int  # texts in the batch, words or not


def word_hashes(texts: list[str]) -> Words:
    """Hash of every word of every text (see the module docstring)."""
    encoded = [t.lower().encode("utf-8", "surrogatepass") for t in texts]
    buf = np.frombuffer(b"\x00".join(encoded), dtype=np.uint8)  # NUL is a word break
    if buf.size == 0:
        return Words(np.empty(0, _U64), np.empty(0, np.int64), len(texts))
    is_word = np.take(_WORD_BYTE, buf)
    pw, ipw = _POWERS.get(buf.size)
    prefix = np.empty(buf.size + 1, _U64)
    prefix[0] = 0
    np.multiply(buf * is_word, pw, out=prefix[1:])  # bytes that are not word bytes weigh 0
    np.cumsum(prefix[1:], out=prefix[1:])
    edges = np.diff(is_word.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    words = (prefix[ends] - prefix[starts]) * ipw[starts]
    # Words per text, from where each text (and its NUL) ends: no search per word.
    text_ends = np.cumsum(np.fromiter((len(e) + 1 for e in encoded), np.int64, len(encoded)))
    per_text = np.diff(np.searchsorted(starts, text_ends), prepend=0)
    return Words(words, np.repeat(np.arange(len(texts), dtype=np.int64), per_text), len(texts))


def ngrams(words: Words, n: int) -> NgramBatch:
    """The n-gram hashes of texts whose words are hashed (see the module docstring)."""
    if not 1 <= n <= MAX_N:
        raise ValueError(f"n-gram size must be within 1..{MAX_N}, got {n}")
    count, doc = words.count, words.doc
    per_doc = np.bincount(doc, minlength=count) if doc.size else np.zeros(count, np.int64)
    m = words.hashes.size - n + 1
    if m > 0:
        combined = words.hashes[:m] * _COMBINE[0]
        for k in range(1, n):
            combined += words.hashes[k : k + m] * _COMBINE[k]
        whole = doc[:m] == doc[n - 1 :]
        hashes, owner = splitmix64(combined[whole]), doc[:m][whole]
    else:
        hashes, owner = np.empty(0, _U64), np.empty(0, np.int64)
    short = np.flatnonzero((per_doc > 0) & (per_doc < n))
    if short.size:
        # Rare: a text shorter than n words is one n-gram of all its words.
        first = np.concatenate(([0], np.cumsum(per_doc)))[short]
        extra = np.empty(short.size, _U64)
        for j, (d, f) in enumerate(zip(short, first)):
            extra[j] = np.sum(words.hashes[f : f + per_doc[d]] * _COMBINE[: per_doc[d]], dtype=_U64)
        hashes = np.concatenate((hashes, splitmix64(extra)))
        owner = np.concatenate((owner, short))
        order = np.argsort(owner, kind="stable")
        hashes, owner = hashes[order], owner[order]
    offsets = np.zeros(count + 1, np.int64)
    np.cumsum(np.bincount(owner, minlength=count), out=offsets[1:])
    return NgramBatch(hashes, owner, offsets)


def hash_ngrams(texts: list[str], n: int) -> NgramBatch:
    """Hashes of the word n-grams of each text."""
    return ngrams(word_hashes(texts), n)


def text_batches(texts: list[str], limit_bytes: int) -> Iterator[tuple[int, int]]:
    """(start, end) of consecutive runs of texts of about `limit_bytes` characters each (a longer
    text is a run of its own): hashing a run takes memory in proportion to its size."""
    start, size = 0, 0
    for i, text in enumerate(texts):
        size += len(text)
        if size >= limit_bytes:
            yield start, i + 1
            start, size = i + 1, 0
    if start < len(texts):
        yield start, len(texts)


def words_of(text: str) -> list[str]:
    """The normalised words of a text, as `hash_ngrams` sees them."""
    return [w for w in _NON_WORD.split(text.lower()) if w]


def ngram_strings(text: str, n: int) -> list[str]:
    """The same n-grams as `hash_ngrams`, as strings (for datasketch and for tests)."""
    words = words_of(text)
    if not words:
        return []
    if len(words) < n:
        return [" ".join(words)]
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
