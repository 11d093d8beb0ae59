"""Hard-wrapped text (Reuters stories, newsgroup posts: lines cut at ~70 columns) is judged by its
paragraphs: C4 keeps or removes a paragraph whole and counts its sentences once, and the line
ratios of FineWeb and Gopher read paragraphs, not terminal-width lines (params `filter.wrapped`,
set for replay/reuters and replay/newsgroups in params.yaml)."""
from __future__ import annotations

import itertools
from collections import Counter

import pytest
import yaml
from conftest import CORPORA, REPO

from curation.filters.c4 import C4Config, C4Quality
from curation.filters.chain import build_chain, config_for_source
from curation.filters.structure import LIST, PLAIN_HEADING, PROSE, TABLE, line_kinds, unwrap, wrapped_units
from sources.replay import newsgroups, reuters

REUTERS = CORPORA / "general_english" / "reuters21578"
NEWSGROUPS = CORPORA / "general_english" / "20ng_bydate.tar.gz"
FILTER = yaml.safe_load((REPO / "params.yaml").read_text())["filter"]


def shipped_chain(source: str, **override):
    return build_chain({**config_for_source(FILTER, source), **override})


def run(chain, doc: dict) -> tuple[str, str | None]:
    """(text after the chain, drop reason or None)."""
    doc = dict(doc, text=chain.cleaner(doc["text"]))
    for step in chain.filters:
        verdict = step.check(doc)
        if not verdict.keep:
            return doc["text"], verdict.reason
    return doc["text"], None


@pytest.fixture(scope="module")
def replay_docs() -> list[dict]:
    stories = [d for f in ("reut2-000.sgm", "reut2-013.sgm") for d in reuters.iter_file(REUTERS / f, "reuters") if isinstance(d, dict)]
    posts = [d for d in itertools.islice(newsgroups.iter_file(NEWSGROUPS, "newsgroups"), 1500) if isinstance(d, dict)]
    return stories + posts


def test_params_mark_the_two_wrapped_sources():
    assert config_for_source(FILTER, "replay/reuters")["wrapped"] is True
    assert config_for_source(FILTER, "replay/newsgroups")["wrapped"] is True
    for source in ("pubmed", "pmc", "guidelines/cdc", "replay/wiki"):
        assert config_for_source(FILTER, source).get("wrapped", False) is False


def test_units_join_wrapped_prose_and_list_items_and_leave_structure_alone():
    lines = [
        "A TITLE", "",
        "A paragraph wrapped", "onto a second line and", "a third.", "",
        "- a list item that", "  goes on here", "- another item", "",
        "Net\t807,000\t2,858,000", "Shr 34 cts", "",
        "# A heading", "right after it.",
    ]
    kinds = line_kinds(lines)
    assert kinds[10] == TABLE and kinds[6] == LIST and kinds[0] == PLAIN_HEADING
    units = wrapped_units(lines, kinds)
    assert [list(u) for u in units] == [
        [0], [1], [2, 3, 4], [5], [6, 7], [8], [9], [10], [11], [12], [13], [14]]
    assert sum(len(u) for u in units) == len(lines)  # every line in exactly one unit
    assert unwrap("\n".join(lines)).split("\n")[2] == "A paragraph wrapped onto a second line and a third."


def test_the_last_line_of_a_paragraph_stays_with_it(replay_docs):
    """Before, C4's short-line rule took "agreements." off the end of a real post's sentence, and
    the last lines of wrapped paragraphs in 1,293 of the 2,232 Reuters stories it kept ("disclosed.",
    "Corp.") in the demo's sample."""
    post = next(d for d in replay_docs if d["id"].endswith("comp.sys.ibm.pc.hardware/61048"))
    text, reason = run(shipped_chain(post["source"]), post)
    assert reason is None
    assert "without paying, and signing non-disclosure\nagreements.\n\nThis made it impossible" in text
    assert not text.endswith("Mark.")  # a one-word sign-off paragraph still goes


def test_a_wrapped_paragraph_is_kept_or_removed_whole(replay_docs):
    kept = partial = 0
    for doc in replay_docs:
        chain = shipped_chain(doc["source"])
        text, reason = run(chain, doc)
        if reason is not None:
            continue
        kept += 1
        cleaned = chain.cleaner(doc["text"]).split("\n")
        out = {line.strip() for line in text.split("\n")}
        once = {line for line, count in Counter(line.strip() for line in cleaned).items() if count == 1}
        for unit in wrapped_units(cleaned, line_kinds(cleaned)):
            present = [cleaned[i].strip() in out for i in unit if cleaned[i].strip() in once]  # a "------" recurs
            partial += any(present) and not all(present)
    assert kept > 1000 and partial == 0, (kept, partial)


def test_line_ratios_read_paragraphs():
    """A real grain-registration story: 1 line in 9 of its terminal-width lines ends in a full
    stop (FineWeb wants 0.12) while its paragraphs are sentences and table rows."""
    story = next(d for d in reuters.iter_file(REUTERS / "reut2-000.sgm", "reuters") if isinstance(d, dict) and d["id"] == "replay/reuters:6")
    assert run(shipped_chain("replay/reuters"), story)[1] is None
    assert run(shipped_chain("replay/reuters", wrapped=False), story)[1] == "fineweb_line_punct_ratio"


def test_a_sentence_is_counted_once_however_many_lines_it_spans():
    story = next(d for d in reuters.iter_file(REUTERS / "reut2-000.sgm", "reuters") if isinstance(d, dict) and d["id"] == "replay/reuters:2")
    assert story["text"].startswith("STANDARD OIL <SRD> TO FORM FINANCIAL UNIT\n\nStandard Oil Co and BP North America\nInc said")
    _, wrapped, _ = C4Quality(C4Config(wrapped=True)).apply(story["text"])
    _, lines, _ = C4Quality(C4Config()).apply(story["text"])
    assert wrapped["sentences"] == 4  # the title and the story's three sentences
    assert lines["sentences"] == 9  # one per terminal-width line


def test_reuters_paragraphs_start_on_the_lines_the_source_indents():
    """reut2-000.sgm story 2: its second and third paragraphs are indented in the SGML."""
    story = next(d for d in reuters.iter_file(REUTERS / "reut2-000.sgm", "reuters") if isinstance(d, dict) and d["id"] == "replay/reuters:2")
    paragraphs = story["text"].split("\n\n")
    assert [p.split("\n")[0] for p in paragraphs] == [
        "STANDARD OIL <SRD> TO FORM FINANCIAL UNIT",
        "Standard Oil Co and BP North America",
        "BP North America is a subsidiary of British Petroleum Co",
        "The venture will be called BP/Standard Financial Trading",
    ]
    assert not any(line[:1].isspace() for line in story["text"].split("\n"))
