"""Word counts on UTF-8 bytes, a window at a time: the same as len(text.split()), for any size."""
import random

import numpy as np
import pyarrow as pa

from curation import stats


def split_counts(texts: list[str]) -> np.ndarray:
    return np.array([len(t.split()) for t in texts], dtype=np.int64)


def test_every_character_str_split_splits_on_and_its_neighbours():
    # Every code point up to U+3100 (all of Python's whitespace, and every character whose UTF-8
    # encoding begins like a multi-byte space's), then every 97th code point above.
    points = [c for c in [*range(0x3100), *range(0x3100, 0x110000, 97)] if not 0xD800 <= c <= 0xDFFF]
    texts = ["a" + chr(c) + "b" for c in points] + [chr(c) for c in points] + ["x" + chr(c) for c in points]
    assert np.array_equal(stats.word_counts(pa.array(texts)), split_counts(texts))


def test_any_window_gives_the_same_counts(monkeypatch):
    rng = random.Random(0)
    pool = [" ", "\t", "\n", "\u00a0", "\u2009", "\u3000", "\u1680", "\u0085", "\u205f", "\u2028", "\x1c",
            "x", "ab", "é", "中", "\u2030", "\U0001f600"]
    texts = ["".join(rng.choice(pool) for _ in range(rng.randint(0, 30))) for _ in range(1500)] + ["", "word"]
    chunked = pa.chunked_array([pa.array(texts[:500]), pa.array(texts[500:])])
    expected = split_counts(texts)
    for window in (3, 4, 7, 64, 1 << 24):
        monkeypatch.setattr(stats, "WINDOW_BYTES", window)
        assert np.array_equal(stats.word_counts(chunked), expected), window
    assert np.array_equal(stats.word_counts(pa.array(["a b", None, " c "])), [2, 0, 1])


def test_large_string_arrays_count_like_string_arrays():
    texts = ["a b c", "", None, "x\u00a0y z ", "\u2003"]
    expected = [len((t or "").split()) for t in texts]
    assert list(stats.word_counts(pa.array(texts, pa.large_string()))) == expected == list(stats.word_counts(pa.array(texts)))
