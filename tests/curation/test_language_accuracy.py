"""Language ID on ~100-word paragraphs of the lingua test sentences (the gold language is the file name)."""
from conftest import CORPORA

from curation.filters.chain import build_chain
from curation.schema import make_document

LINGUA = CORPORA / "multilingual" / "lingua_sentences"


def paragraphs(path, words=100, limit=None):
    out, current = [], []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        current.append(line.strip())
        if sum(len(s.split()) for s in current) >= words:
            out.append(" ".join(current))
            current = []
            if limit and len(out) >= limit:
                break
    return out


def test_english_kept_and_other_languages_dropped_99_percent():
    language = build_chain({"steps": ["language"]}).filters[0]

    def kept(text):
        return language.check(make_document(id="x", source="s", subset="abstracts", title="", text=text, url="u", provenance="p")).keep

    english = paragraphs(LINGUA / "en.txt")
    others = [p for path in sorted(LINGUA.glob("*.txt")) if len(path.stem) == 2 and path.stem != "en" for p in paragraphs(path, limit=12)]
    assert len(english) >= 100 and len(others) >= 800
    english_kept = sum(map(kept, english)) / len(english)
    others_dropped = 1 - sum(map(kept, others)) / len(others)
    print(f"English kept {english_kept:.4f} of {len(english)}, non-English dropped {others_dropped:.4f} of {len(others)}")
    assert english_kept >= 0.99
    assert others_dropped >= 0.99
