"""The shared SentencePiece tokenizer: train it on shards' `text`, load it, count tokens.

Training is deterministic so that `medcurate tokenizer train` run twice on the same shards writes
the same `tokenizer.model` bytes: the input is sampled by us (documents at a fixed stride over the
shards in name order, never SentencePiece's own random sampler), the trainer runs on one thread
with a fixed seed and no shuffling.

Special tokens such as MEDITRON's `[bib_ref] ... [/formula]` (curation/markers.py, the list the
PMC renderer writes with) are user-defined symbols: each is always one piece, never split, and
they get fixed ids right after the control tokens. Extending a given model (Llama-2's) appends them
after its pieces instead. A list may name `markers` or `meditron` (markers.NAMED_TOKEN_LISTS).
"""
from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import pyarrow as pa

from curation import storage
from curation.markers import MARKERS, expand_token_names
from curation.shards import UnreadableShard, list_shards_many, open_shard, read_row_groups, unreadable_groups_error

MEDITRON_SPECIAL_TOKENS = MARKERS  # the markers the PMC renderer can emit, MEDITRON's order

MODEL_FILE = "tokenizer.model"
PARAMS_FILE = "tokenizer.json"


@dataclass(frozen=True)
class TokenizerParams:
    vocab_size: int = 32000
    model_type: str = "bpe"  # Llama-2 is a SentencePiece BPE model with byte fallback
    special_tokens: list[str] = field(default_factory=list)
    character_coverage: float = 0.9999
    byte_fallback: bool = True
    max_documents: int = 200_000  # documents sampled from the shards for training
    max_sentence_length: int = 16384  # bytes; longer lines are cut (SentencePiece would skip them)
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict) -> "TokenizerParams":
        from curation.config import from_mapping

        return from_mapping(cls, values, "tokenizer")


@dataclass(frozen=True)
class TokenizerSection(TokenizerParams):
    """params.yaml `tokenizer:`: training parameters, or a given model to adopt instead."""

    model: str | None = None  # a tokenizer.model (e.g. Llama-2's) used instead of training one


def sample_documents(shards: Sequence[Path], max_documents: int, column: str = "text",
                     unreadable: list[str] | None = None) -> list[str]:
    """Up to `max_documents` texts, taken at an even stride across all shards (deterministic).

    Shards are read as untrusted (curation.shards.read_row_groups): a row group that does not
    decode, or whose text is not UTF-8, is left out and named, one line each, in `unreadable`;
    the rows sampled from the others are the same as without it.
    """
    counts = []
    for path in shards:
        meta = storage.parquet_file(path)
        if column not in meta.schema_arrow.names:
            raise ValueError(f"{path}: no {column!r} column (columns: {meta.schema_arrow.names})")
        counts.append(meta.metadata.num_rows)
    total = sum(counts)
    if total == 0:
        raise ValueError("no documents to train a tokenizer on")
    stride = max(1, -(-total // max_documents))  # ceil
    schema = pa.schema([pa.field(column, pa.large_string())])
    texts: list[str] = []
    offset = 0
    for path, n in zip(shards, counts):
        # Global row indices that are multiples of `stride`, expressed inside this shard.
        first = (-offset) % stride
        if first < n:
            texts.extend(_sampled(path, schema, first, stride, unreadable if unreadable is not None else []))
        offset += n
    return texts[:max_documents]


def _sampled(path: Path, schema: pa.Schema, first: int, stride: int, unreadable: list[str]) -> Iterator[str]:
    """The non-empty texts at rows first, first + stride, … of one shard, from the row groups
    that read; the others named in `unreadable`."""
    try:
        parquet = open_shard(path, schema)
    except UnreadableShard as error:
        unreadable.append(f"{path}: {error}")
        return
    for group in read_row_groups(parquet, schema):
        if group.error is not None:
            unreadable.append(f"{path}: {unreadable_groups_error([group], parquet.num_row_groups)}")
            continue
        # The first sampled row at or after the group's start, counted in the group's own rows.
        skip = max(0, first - group.start)
        skip += -(group.start + skip - first) % stride
        if skip < group.num_rows:
            yield from (t for t in group.table.column(0).slice(skip).to_pylist()[::stride] if t)


def _lines(texts: Iterable[str], max_bytes: int) -> Iterator[str]:
    # SentencePiece trains on "sentences"; paragraphs are a good unit for documents.
    for text in texts:
        for line in text.split("\n"):
            line = line.strip()
            if line:
                yield line.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def train_tokenizer(inputs: Sequence[str | Path], out_dir: str | Path, params: TokenizerParams | None = None) -> str:
    """Train on the `text` column of the shards in `inputs` (files or folders, paths or URLs);
    returns the model's location."""
    import sentencepiece as spm

    params = params or TokenizerParams()
    shards = list_shards_many(inputs)
    if not shards:
        raise ValueError(f"no Parquet shards in {[str(p) for p in inputs]}")
    unreadable: list[str] = []
    texts = sample_documents(shards, params.max_documents, unreadable=unreadable)
    model = io.BytesIO()
    spm.set_random_generator_seed(params.seed)
    spm.SentencePieceTrainer.train(
        sentence_iterator=_lines(texts, params.max_sentence_length),
        model_writer=model,
        vocab_size=params.vocab_size,
        model_type=params.model_type,
        character_coverage=params.character_coverage,
        byte_fallback=params.byte_fallback,
        user_defined_symbols=expand_token_names(params.special_tokens),  # named lists -> their tokens
        max_sentence_length=params.max_sentence_length,
        input_sentence_size=0,  # we sampled already: use every line given
        shuffle_input_sentence=False,
        num_threads=1,  # multi-threaded training is not bit-reproducible
        # Llama-2 conventions: unk 0, bos 1, eos 2, no pad; digits split; no whitespace collapsing.
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        remove_extra_whitespaces=False,
        normalization_rule_name="identity",
        minloglevel=2,
    )
    path = storage.join(out_dir, MODEL_FILE)
    storage.write_bytes(path, model.getvalue())
    info = asdict(params) | {"documents": len(texts), "shards": [str(s) for s in shards], "unreadable": unreadable}
    storage.write_json(storage.join(out_dir, PARAMS_FILE), info)
    return path


class Tokenizer:
    """A loaded `tokenizer.model` with the few operations training and the card need."""

    def __init__(self, path: Path | str):
        """`path`: the model file, or a folder holding it; a plain path or a URL."""
        import sentencepiece as spm

        location = storage.norm(path)
        if storage.isdir(location):
            location = storage.join(location, MODEL_FILE)
        if not storage.isfile(location):
            raise FileNotFoundError(f"no tokenizer model at {location}")
        self.sp = spm.SentencePieceProcessor(model_proto=storage.read_bytes(location))
        self.path = Path(location) if storage.is_local(location) else location  # a Path for a local model
        self.vocab_size = self.sp.get_piece_size()
        self.bos_id = self.sp.bos_id()
        self.eos_id = self.sp.eos_id()
        if self.eos_id < 0:
            raise ValueError(f"{self.path}: the tokenizer has no EOS token; packing needs one")

    def encode(self, texts: list[str]) -> list[list[int]]:
        # Batch encode runs in C++ and releases the GIL.
        return self.sp.encode(texts)

    def decode(self, ids: list[int]) -> str:
        return self.sp.decode(ids)

    def piece_to_id(self, piece: str) -> int:
        return self.sp.piece_to_id(piece)

    def count_tokens(self, texts: Iterable[str], batch: int = 1024) -> int:
        total, chunk = 0, []
        for text in texts:
            chunk.append(text)
            if len(chunk) == batch:
                total += sum(map(len, self.encode(chunk)))
                chunk = []
        if chunk:
            total += sum(map(len, self.encode(chunk)))
        return total


def load_tokenizer(path: Path | str) -> Tokenizer:
    return Tokenizer(path)


# --- using a given model, and per-document counts (the mix's needs) ----------------------------


def add_special_tokens(model: bytes, tokens: Sequence[str]) -> bytes:
    """`model` (a serialised SentencePiece ModelProto) with `tokens` appended as user-defined pieces.

    This is how MEDITRON extended Llama-2's 32,000 pieces: the existing ids do not move, the new
    tokens take the next ids, and each is always one piece. Tokens already present are skipped.
    """
    from sentencepiece import sentencepiece_model_pb2 as model_pb2

    proto = model_pb2.ModelProto()
    proto.ParseFromString(model)
    present = {piece.piece for piece in proto.pieces}
    for token in tokens:
        if token in present:
            continue
        piece = proto.pieces.add()
        piece.piece, piece.score, piece.type = token, 0.0, model_pb2.ModelProto.SentencePiece.USER_DEFINED
        present.add(token)
    return proto.SerializeToString()


def adopt_tokenizer(model: str | Path, out_dir: str | Path, special_tokens: Sequence[str] = ()) -> str:
    """Use a given `tokenizer.model` (e.g. the base model's): copy it, plus any extra special tokens."""
    import hashlib

    data = storage.read_bytes(model)
    special_tokens = expand_token_names(special_tokens)
    extended = add_special_tokens(data, special_tokens) if special_tokens else data
    path = storage.join(out_dir, MODEL_FILE)
    storage.write_bytes(path, extended)
    Tokenizer(path)  # fails here, not at training time, if the result does not load
    info = {"given_model": str(model), "given_sha256": hashlib.sha256(data).hexdigest(), "special_tokens": list(special_tokens)}
    storage.write_json(storage.join(out_dir, PARAMS_FILE), info)
    return path


def count_each(tokenizer: Tokenizer, texts: Sequence[str], batch: int = 1024) -> list[int]:
    """Tokens of each text (no BOS/EOS: those belong to packing, not to the document)."""
    counts: list[int] = []
    for start in range(0, len(texts), batch):
        counts.extend(map(len, tokenizer.encode(list(texts[start : start + batch]))))
    return counts
