"""Near-duplicate detection: MinHash signatures, LSH banding, verified candidate pairs, components.

The steps, each usable on its own so that the pipeline can run them on different machines:

1. `signatures(texts)`: per document, `num_perm` minima of `(a_k * h + b_k) mod 2^64` over the
   hashes h of its word n-grams (curation.dedup.ngrams), keeping the top 32 bits. Computed for a
   batch at once as a (num_perm x n-grams) matrix, reduced per document, and tested to agree
   with datasketch's Jaccard estimates. Speed (benchmarks/bench_dedup.py, same abstracts, per
   CPU-second against datasketch's core, `MinHash.update_batch` + LSH): the whole `medcurate
   dedup` command with decontamination 3.4x; these signatures alone 16x.
2. `band_keys(signatures)`: the LSH buckets. Band b of a document is the hash of its rows
   `[b*r, (b+1)*r)`; two documents are candidates when they share a bucket in any band. With b
   bands of r rows, a pair of Jaccard s becomes a candidate with probability 1-(1-s^r)^b.
3. `bucket_pairs(band, hash, id)`: inside each bucket, candidate pairs (a star to the bucket's
   smallest id plus a chain between neighbours, so a false member at the head of a bucket cannot
   hide the true pairs behind it). Only these narrow columns move between machines.
4. `estimate_jaccard`: a candidate is kept when its signatures agree on at least
   `jaccard_threshold` of the permutations (an unbiased estimate of the Jaccard similarity).
5. `connected_components(edges)`: union-find over the verified pairs; every component keeps one
   survivor (curation.dedup.survivor).

Defaults: word 5-grams as datatrove; 20 bands x 6 rows (120 permutations) instead of datatrove's
14 x 8, because planted variants with 2% of their words edited have Jaccard near 0.8, where
14 x 8 finds only 92% of pairs and 20 x 6 finds 99.8%. The extra candidates this brings (about
27% of pairs at s=0.5) are removed by the Jaccard check at 0.7.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from curation.dedup.ngrams import NgramBatch, hash_ngrams, splitmix64, text_batches

_U64 = np.uint64
EMPTY_SIGNATURE = np.iinfo(np.uint32).max  # every minimum of a text without words (and of a row never read)


@dataclass(frozen=True)
class MinhashConfig:
    n_grams: int = 5
    num_bands: int = 20
    rows_per_band: int = 6
    seed: int = 1
    jaccard_threshold: float = 0.7
    batch_bytes: int = 1 << 20  # text hashed per numpy batch: bounds the working memory and the
    # table of powers the word hashes need (measured faster than 4 MB batches)
    chunk_ngrams: int = 8192  # n-grams per permutation block (8 MB at 120 permutations): measured fastest

    @property
    def num_perm(self) -> int:
        return self.num_bands * self.rows_per_band

    def threshold(self) -> float:
        """The similarity at which a pair becomes a candidate with probability about 1/2."""
        return (1 / self.num_bands) ** (1 / self.rows_per_band)

    def candidate_probability(self, s: float) -> float:
        return 1 - (1 - s**self.rows_per_band) ** self.num_bands

    def to_dict(self) -> dict:
        return asdict(self)


def permutations(config: MinhashConfig) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) of each permutation; a is odd so that h -> a*h+b is a bijection of uint64."""
    rng = np.random.RandomState(config.seed)
    a = rng.randint(0, 1 << 62, config.num_perm, dtype=np.uint64) * _U64(2) + _U64(1)
    b = rng.randint(0, 1 << 62, config.num_perm, dtype=np.uint64)
    return a, b


def signatures(texts: list[str], config: MinhashConfig = MinhashConfig()) -> np.ndarray:
    """A (documents x num_perm) uint32 matrix; a document without words gets all 0xffffffff."""
    out = np.empty((len(texts), config.num_perm), dtype=np.uint32)
    for lo, hi in text_batches(texts, config.batch_bytes):
        out[lo:hi] = ngram_signatures(hash_ngrams(texts[lo:hi], config.n_grams), config)
    return out


def ngram_signatures(grams: NgramBatch, config: MinhashConfig = MinhashConfig()) -> np.ndarray:
    """`signatures` of the documents whose `config.n_grams`-grams are hashed in `grams`."""
    a, b = permutations(config)
    out = np.full((len(grams.offsets) - 1, config.num_perm), EMPTY_SIGNATURE, dtype=np.uint32)
    if grams.hashes.size == 0:
        return out
    mins, owners = [], []
    buffer = np.empty((config.num_perm, min(config.chunk_ngrams, grams.hashes.size)), _U64)  # reused by every block
    for c in range(0, grams.hashes.size, config.chunk_ngrams):
        h = grams.hashes[c : c + config.chunk_ngrams]
        d = grams.doc[c : c + config.chunk_ngrams]
        block = buffer[:, : h.size]
        np.multiply(a[:, None], h, out=block)  # (num_perm, chunk), wraps modulo 2^64
        block += b[:, None]
        heads = np.flatnonzero(np.diff(d, prepend=-1))
        mins.append(np.minimum.reduceat(block, heads, axis=1))
        owners.append(d[heads])
    # A document cut by a block boundary has two partial minima: reduce them once more.
    block, owner = np.concatenate(mins, axis=1), np.concatenate(owners)
    heads = np.flatnonzero(np.diff(owner, prepend=-1))
    block = np.minimum.reduceat(block, heads, axis=1)
    out[owner[heads]] = (block.T >> _U64(32)).astype(np.uint32)
    return out


def estimate_jaccard(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Share of equal minima, row by row (1-D inputs give a scalar)."""
    return np.mean(left == right, axis=-1)


def band_keys(sigs: np.ndarray, config: MinhashConfig = MinhashConfig()) -> np.ndarray:
    """(documents x bands) uint64 bucket hashes; an empty document gets no valid key (see `has_words`)."""
    rows = config.rows_per_band
    keys = np.zeros((sigs.shape[0], config.num_bands), dtype=_U64)
    for band in range(config.num_bands):
        h = np.full(sigs.shape[0], ((band + 1) * 0x9E3779B97F4A7C15) % (1 << 64), dtype=_U64)
        for r in range(rows):
            h = splitmix64(h ^ sigs[:, band * rows + r].astype(_U64))
        keys[:, band] = h
    return keys


def has_words(sigs: np.ndarray) -> np.ndarray:
    return ~np.all(sigs == EMPTY_SIGNATURE, axis=1)


def bucket_pairs(band: np.ndarray, key: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Candidate pairs (lo, hi) of ids sharing a (band, key) bucket, unique and sorted.

    Within a bucket of sorted members m0 < m1 < ... the pairs are (m0, mi) and (mi-1, mi).
    """
    if ids.size == 0:
        return np.empty((0, 2), np.int64)
    order = np.lexsort((ids, key, band))
    band, key, ids = band[order], key[order], ids[order]
    same = (band[1:] == band[:-1]) & (key[1:] == key[:-1])
    if not same.any():
        return np.empty((0, 2), np.int64)
    # head[i]: index of the first member of i's bucket
    starts = np.concatenate(([True], ~same))
    head = np.maximum.accumulate(np.where(starts, np.arange(ids.size), 0))
    members = np.flatnonzero(~starts)
    star = np.stack((ids[head[members]], ids[members]), axis=1)
    chain = np.stack((ids[members - 1], ids[members]), axis=1)
    pairs = np.concatenate((star, chain))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return np.unique(np.sort(pairs, axis=1), axis=0)


def connected_components(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union-find over int64 edges: (nodes, root) with every node's component root (its smallest node).

    Vectorised pointer jumping: each round links every edge's larger root to the smaller one and
    compresses paths, so rounds grow with the log of the longest chain, not with the edges.
    """
    if edges.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    nodes, inverse = np.unique(edges, return_inverse=True)
    e = inverse.reshape(-1, 2)
    parent = np.arange(nodes.size)
    while True:
        ra, rb = parent[e[:, 0]], parent[e[:, 1]]
        lo, hi = np.minimum(ra, rb), np.maximum(ra, rb)
        moving = lo != hi
        if not moving.any():
            break
        # For each root that must move, its smallest new parent (np.minimum.at is order-free).
        np.minimum.at(parent, hi[moving], lo[moving])
        while True:  # path compression until every node points at a root
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
    return nodes, nodes[parent]


def near_duplicate_pairs(
    sigs: np.ndarray, ids: np.ndarray, config: MinhashConfig = MinhashConfig()
) -> np.ndarray:
    """In memory, for one batch: verified pairs of `ids` (the pipeline does this step by step)."""
    keep = has_words(sigs)
    keys = band_keys(sigs[keep], config)
    n = int(keep.sum())
    band = np.repeat(np.arange(config.num_bands, dtype=np.int64)[None, :], n, axis=0).ravel()
    pairs = bucket_pairs(band, keys.ravel(), np.repeat(ids[keep], config.num_bands))
    if pairs.size == 0:
        return pairs
    position = {int(i): p for p, i in enumerate(ids)}
    left = sigs[[position[int(i)] for i in pairs[:, 0]]]
    right = sigs[[position[int(i)] for i in pairs[:, 1]]]
    return pairs[estimate_jaccard(left, right) >= config.jaccard_threshold]
