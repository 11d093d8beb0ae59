"""Documents for the filter and language benchmarks, built from ../shared/corpora (never copied).

One list per source, each document as the parse stages write it:
- `pubmed`: Cohen et al. 2006 MEDLINE titles + abstracts (pubmed_abstracts/asreview_cohen2006); a PMID
  in several review files is several rows with one id, as in cohen_docs: count rows, not ids;
- `pmc`: the 135 JATS articles of fulltext/, rendered by our PMC parser (defaults);
- `replay/reuters`: Reuters-21578 stories with a body (general_english/reuters21578);
- `replay/newsgroups`: 20 Newsgroups posts (general_english/20ng_bydate.tar.gz), as the replay reader cleans them
  (named as params.yaml names the source, so its per-source rules apply);
- `replay/lingua`: ~100-word paragraphs of the lingua test sentences, 75 languages
  (multilingual/lingua_sentences/<iso639-1>.txt); the file's language is `meta.gold_language`.

Everything but lingua is English. `--per-source N` samples at most N of each (seeded), so a run
fits a shared machine; the whole set is about 62,000 documents.
"""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from curation.schema import make_document  # noqa: E402
from realdata import cohen_docs  # noqa: E402

CORPORA = REPO.parent / "shared" / "corpora"
LINGUA = CORPORA / "multilingual" / "lingua_sentences"
SOURCES = ("pubmed", "pmc", "replay/reuters", "replay/newsgroups", "replay/lingua")


def lingua_paragraphs(words: int = 100) -> list[tuple[str, str]]:
    """(language, paragraph) for every lingua file: sentences joined until `words` words."""
    out = []
    for path in sorted(LINGUA.glob("*.txt")):
        if len(path.stem) != 2:  # the licence file
            continue
        current: list[str] = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            current.append(line.strip())
            if sum(len(s.split()) for s in current) >= words:
                out.append((path.stem, " ".join(current)))
                current = []
    return out


def lingua_docs() -> list[dict]:
    return [
        make_document(
            id=f"replay/lingua:{lang}-{i}", source="replay/lingua", subset="replay", title="", text=text,
            url=f"file://{LINGUA / (lang + '.txt')}", meta={"gold_language": lang}, provenance=f"{lang}.txt#{i}",
        )
        for i, (lang, text) in enumerate(lingua_paragraphs())
    ]


def pmc_docs() -> list[dict]:
    from pipelines.stages.pmc_parse import parse_file
    from sources.pmc.jats import JatsOptions

    options = JatsOptions()
    files = sorted(p for p in (CORPORA / "fulltext").rglob("*") if p.suffix in (".xml", ".nxml"))
    return [item.doc for path in files for item in parse_file(str(path), options) if getattr(item, "drop_reason", "x") is None]


def replay_docs(kind: str) -> list[dict]:
    from sources.replay import newsgroups, reuters

    if kind == "reuters":
        items = (item for path in sorted((CORPORA / "general_english" / "reuters21578").glob("*.sgm")) for item in reuters.iter_file(path, "reuters"))
    else:
        items = newsgroups.iter_file(CORPORA / "general_english" / "20ng_bydate.tar.gz", "newsgroups")
    return [item for item in items if isinstance(item, dict)]


def build(per_source: int | None = None, seed: int = 0) -> dict[str, list[dict]]:
    """Documents by source; at most `per_source` of each, a seeded sample."""
    builders = {
        "pubmed": lambda: cohen_docs(with_abstract_only=True),
        "pmc": pmc_docs,
        "replay/reuters": lambda: replay_docs("reuters"),
        "replay/newsgroups": lambda: replay_docs("newsgroups"),
        "replay/lingua": lingua_docs,
    }
    rng = random.Random(seed)
    out = {}
    for source in SOURCES:
        docs = builders[source]()
        if per_source and len(docs) > per_source:
            docs = rng.sample(docs, per_source)
        out[source] = docs
    return out


def gold_language(doc: dict) -> str:
    """The document's real language: lingua's file name, English for every other source."""
    return json.loads(doc["meta"] or "{}").get("gold_language", "en")


def mixed(by_source: dict[str, list[dict]], seed: int = 0) -> list[dict]:
    """All documents in one seeded order (every shard then holds every source)."""
    docs = [doc for source in SOURCES for doc in by_source.get(source, [])]
    random.Random(seed).shuffle(docs)
    return docs
