"""Gopher's n-gram repetition measures, counted on interned n-gram ids, give exactly the numbers of
the plain string n-grams (datatrove's way) on real papers, abstracts and news, and on planted repeats."""
import random
from collections import Counter

from conftest import CORPORA
from realdata import cohen_docs

from curation.filters.gopher_repetition import GopherRepetitionConfig, ngram_scores
from curation.filters.text import words
from pipelines.stages.pmc_parse import parse_file
from sources.pmc.jats import JatsOptions
from sources.replay import reuters


def top_by_strings(ws, n):
    grams = Counter(" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1))
    if not grams:
        return 0
    gram, count = grams.most_common(1)[0]
    return len(gram) * count


def dup_by_strings(ws, n):
    seen, chars, i = set(), 0, 0
    while i < len(ws) - n + 1:
        gram = "".join(ws[i : i + n])
        if gram in seen:
            chars += len(gram)
            i += n
        else:
            seen.add(gram)
            i += 1
    return chars


def test_ngram_scores_equal_string_ngrams_on_real_text():
    rng = random.Random(3)
    texts = [d["text"] for d in rng.sample(cohen_docs(with_abstract_only=True), 150)]
    papers = sorted((CORPORA / "fulltext" / "plos_allofplos").glob("*.xml"))[:20]
    texts += [item.doc["text"] for path in papers for item in parse_file(str(path), JatsOptions()) if item.drop_reason is None]
    stories = [item["text"] for item in reuters.iter_file(CORPORA / "general_english" / "reuters21578" / "reut2-001.sgm", "reuters") if isinstance(item, dict)]
    texts += rng.sample(stories, 150)
    # planted repeats: a doubled abstract, a repeated sentence, very short texts
    texts += [texts[0] + " " + texts[0], "The drug was safe. " * 12, "one two", "", "a a a a a a a a a a a a"]
    config = GopherRepetitionConfig()
    top_n, dup_n = [n for n, _ in config.top_n_grams], [n for n, _ in config.dup_n_grams]
    repeated = 0
    for text in texts:
        ws = words(text)
        top, dup = ngram_scores(ws, top_n, dup_n)
        assert top == {n: top_by_strings(ws, n) for n in top_n}
        assert dup == {n: dup_by_strings(ws, n) for n in dup_n}
        repeated += dup[5] > 0
    assert repeated >= 20  # the scan path, not only the no-repeat shortcut, was compared
    assert ngram_scores(words("x y z w"), [1, 2], [3]) == ({1: 1, 2: 3}, {3: 0})
