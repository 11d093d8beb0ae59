"""Every filter rule respects the structure the parsers write (issue 14 items 1-2, issue 17 item 7).

Real papers (JATS from ../shared, rendered by sources.pmc.jats) and real guideline pages (HTML
from ../shared, parsed by sources.guidelines) go through each rule and through the shipped
per-source chain: they are kept, and every heading, formula line, list item and table row they
went in with comes out. The rules still drop what they exist for.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import CORPORA, FIXTURES, REPO

from curation.filters.c4 import C4Config, C4Quality
from curation.filters.chain import RULES, build_chain, build_step, config_for_source
from curation.filters.gopher_quality import GopherQuality
from curation.filters.gopher_repetition import GopherRepetition
from curation.filters.language import LanguageFilter
from curation.filters.structure import CAPTION, FORMULA, HEADING, LIST, PLAIN_HEADING, PROSE, TABLE, content_view, line_kind, line_kinds
from curation.filters.structure import CODE as CODE_KIND
from sources.guidelines.parse import parse_page
from sources.guidelines.sites import SITES
from sources.guidelines.store import PageStore
from sources.pmc.jats import Article, JatsOptions, parse_bytes

PAPERS = {  # fixture or corpus file -> what it carries
    FIXTURES / "pmc_jats" / "PMC10200000_oai-pmh-getrecord.xml": "LaTeX formulas (dropped for c4_curly_bracket in the demo)",
    FIXTURES / "pmc_jats" / "PMC2329613_bmc-oral-health_1472-6831-8-11.nxml": "lists",
    CORPORA / "fulltext" / "plos_allofplos" / "journal.pcbi.1004089.xml": "MathML formulas with braces",
    CORPORA / "fulltext" / "plos_allofplos" / "journal.pone.0058242.xml": "a nested list",
}
PAGES = {  # guideline fixture -> site
    "ahrq_ngc_synthesis_51014_pharmacological_management_hypertension.html": "ahrq_ngc",  # tables, lists
    "cdc_mmwr_2001_v50n42p909_anthrax_interim_guidelines_exposure_antimicrobial.html": "cdc_mmwr",  # lists
    "cdc_mmwr_2000_v49n02p25_west_nile_virus_guidelines.html": "cdc_mmwr",
    "cdc_pcd_2024_24_0005_status_of_asthma.html": "cdc_pcd",
}
MARKUP = (HEADING, FORMULA, LIST, TABLE)


def paper(path: Path) -> dict:
    return next(item.doc for item in parse_bytes(path.read_bytes(), str(path)) if isinstance(item, Article) and not item.drop_reason)


def page(store_root: Path, name: str) -> dict:
    site = SITES[PAGES[name]]
    stored = PageStore(store_root).save(site.url(f"/recorded/{name}"), "page", 200, "text/html",
                                        (FIXTURES / "guidelines_html" / name).read_bytes())
    outcome = next(parse_page(site, stored))
    assert outcome.reason is None, outcome.detail
    return outcome.doc


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> dict[str, dict]:
    docs = {path.name: paper(path) for path in PAPERS}
    root = tmp_path_factory.mktemp("pages")
    docs.update({name: page(root, name) for name in PAGES})
    return docs


def markup(text: str) -> Counter:
    """The parser's structural lines, as (kind, line); a list item with its nesting."""
    found: Counter = Counter()
    for line in text.split("\n"):
        kind = line_kind(line)
        if line.strip() and kind in MARKUP:
            found[kind, line.rstrip() if kind == LIST else line.strip()] += 1
    return found


def shipped_filter_config() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())["filter"]


def test_line_kinds_are_what_the_parsers_write(documents):
    kinds = Counter(line_kind(line) for doc in documents.values() for line in doc["text"].split("\n") if line.strip())
    for kind in (HEADING, FORMULA, LIST, TABLE, CAPTION, PROSE):
        assert kinds[kind], f"no {kind} line in the real documents"
    formulas = [line for line in documents["PMC10200000_oai-pmh-getrecord.xml"]["text"].split("\n") if line.startswith("[formula]")]
    assert formulas and all(line_kind(line) == FORMULA for line in formulas)
    assert line_kind("## 2.3 Statistical analysis") == HEADING and line_kind("## ## ## words") != HEADING
    assert line_kind("- Aspirin") == LIST and line_kind("| Drug | Dose |") == TABLE
    # Plain-text rows: tab-separated, or at least 60% of the cells numbers ("x", signs and brackets allowed).
    assert line_kind("Age\t12\t34") == TABLE and line_kind("12.5 (3.4) 7 ± 2") == TABLE and line_kind("Mean 12.5 3.4") == TABLE
    assert line_kind("Age was 12 or 34 years in 3 of the 5 groups.") == PROSE and line_kind("2x3 fold 12%") == TABLE
    # A hard-wrapped Reuters line looks like a plain heading: spared the shape rules, but content.
    assert line_kind("Excelan Inc said it is making an") == PLAIN_HEADING
    assert "Excelan Inc said" in content_view("# Title\n\nExcelan Inc said it is making an\n[formula] x = {1} [/formula]")
    assert "[formula]" not in content_view("Text.\n[formula] x = {1} [/formula]")


@pytest.mark.parametrize("step", [s for s in RULES if s != "language"])
def test_each_rule_keeps_real_papers_and_pages_with_their_structure(documents, step):
    """Each rule alone, at the thresholds shipped for the document's source: no real paper or page
    is dropped for its markup, and no heading, formula, list item or table row is removed. (At
    web defaults a paper whose supplementary figure legends repeat their wording, as legends do,
    trips Gopher's 5-gram share: journal.pone.0058242 at 0.177 > 0.15; papers ship 0.20.)"""
    shipped = shipped_filter_config()
    for name, doc in documents.items():
        rule = build_step(step, config_for_source(shipped, doc["source"]))
        doc = dict(doc)
        before = markup(doc["text"])
        verdict = rule.check(doc)
        assert verdict.keep, f"{step} dropped {name}: {verdict.reason} {verdict.detail}"
        assert markup(doc["text"]) == before, f"{step} changed the structure of {name}"


def test_shipped_chain_keeps_papers_and_pages_whole(documents):
    """The shipped params, source by source: cleaning and every step keep the markup intact."""
    config = shipped_filter_config()
    for name, doc in documents.items():
        doc = dict(doc)
        parsed = Counter(kind for kind, _ in markup(doc["text"]).elements())
        nesting = Counter(line[: len(line) - len(line.lstrip())] for (kind, line) in markup(doc["text"]).elements() if kind == LIST)
        chain = build_chain(config_for_source(config, doc["source"]))
        doc["text"] = chain.cleaner(doc["text"])
        before = markup(doc["text"])
        assert before, name
        for rule in chain.filters:
            verdict = rule.check(doc)
            assert verdict.keep, f"{rule.name} dropped {name}: {verdict.reason} {verdict.detail}"
        after = markup(doc["text"])
        assert after == before, f"{name}: lost {before - after}"
        # Cleaning may tidy a line (a zero-width space, a citation marker) but keeps every one, nested where it was.
        assert Counter(kind for kind, _ in after.elements()) == parsed, name
        assert Counter(line[: len(line) - len(line.lstrip())] for (kind, line) in after.elements() if kind == LIST) == nesting, name
    headings = sum(k == HEADING for doc in documents.values() for k, _ in markup(doc["text"]))
    assert headings > 50
    nested = [line for doc in documents.values() for kind, line in markup(doc["text"]) if kind == LIST and line.startswith("  - ")]
    assert len(nested) >= 3  # the PLOS paper's nested list, indented as the renderer wrote it


def test_formula_braces_do_not_drop_a_paper_but_code_still_does(documents):
    doc = documents["PMC10200000_oai-pmh-getrecord.xml"]
    assert "{" in doc["text"] and C4Quality().check(dict(doc)).keep
    code = dict(doc, text=doc["text"] + "\nThe widget runs function f() { return window.x; } on load.")
    assert C4Quality().check(code).reason == "c4_curly_bracket"
    # Without the structure-aware rules, the formula line is what trips the brace rule.
    assert C4Quality(C4Config(medical=False)).check(dict(doc)).reason == "c4_curly_bracket"


def test_repeated_headings_are_not_repetition_but_a_doubled_page_is(documents):
    """Headings recur in papers ("## Methods" in the abstract and the body): not repeated prose.
    A guideline page whose extraction doubled it is junk, under the guidelines' own thresholds."""
    doc = documents["PMC2329613_bmc-oral-health_1472-6831-8-11.nxml"]
    headings = [line for line in doc["text"].split("\n") if line_kind(line) == HEADING]
    repeated = dict(doc, text=doc["text"] + "\n\n" + "\n\n".join(headings * 3))
    assert GopherRepetition().check(repeated).keep
    guideline = documents["cdc_mmwr_2000_v49n02p25_west_nile_virus_guidelines.html"]
    rules = build_chain(config_for_source(shipped_filter_config(), guideline["source"])).filters
    repetition = next(r for r in rules if r.name == "gopher_repetition")
    assert repetition.check(dict(guideline)).keep
    doubled = dict(guideline, text=guideline["text"] + "\n\n" + guideline["text"])
    assert repetition.check(doubled).reason.startswith("gopher_dup_para")


def test_a_pipe_in_prose_is_no_table_row():
    """Conditional probabilities and absolute values put `|` in prose; only the renderers' rows
    (`| cell | cell |`) are table rows. On this real paper every `|` line used to read as a table row."""
    doc = paper(CORPORA / "fulltext" / "plos_allofplos" / "journal.pcbi.1004141.xml")
    piped = [line for line in doc["text"].split("\n") if "|" in line]
    assert any("p(s|spike)" in line for line in piped)
    kinds = Counter(line_kind(line) for line in piped)
    assert kinds[PROSE] >= 5 and TABLE not in kinds, kinds
    linearized = parse_bytes((FIXTURES / "pmc_jats" / "PMC2329613_bmc-oral-health_1472-6831-8-11.nxml").read_bytes(),
                             "PMC2329613", JatsOptions(tables="linearize"))[0].doc["text"]
    rows = [line for line in linearized.split("\n") if line.startswith("| ") and not line.endswith("[/table]")]
    assert len(rows) > 10 and all(line_kind(line) == TABLE for line in rows)  # a caption's last row ends it


def test_heading_markers_are_not_hashes_and_tables_are_not_words(documents):
    rule = GopherQuality()
    for name, doc in documents.items():
        view = rule.view(doc)
        assert "#" not in "".join(line[:1] for line in view.split("\n")), name
        assert rule.score(view)["hash_ratio"] <= rule.score(doc["text"])["hash_ratio"]
    # Hashes that are not heading markers still count.
    prose = " ".join(documents["cdc_pcd_2024_24_0005_status_of_asthma.html"]["text"].split()[2:300])
    assert GopherQuality().check({"text": "## " * 40 + prose}).reason == "gopher_too_many_hashes"


def test_function_words_are_counted_on_the_content_view(documents):
    """A guideline page whose prefix is headings and table rows is still English prose."""
    doc = documents["ahrq_ngc_synthesis_51014_pharmacological_management_hypertension.html"]
    tables = "\n".join(line for line in doc["text"].split("\n") if line_kind(line) == TABLE)
    front_loaded = dict(doc, text=tables + "\n\n" + doc["text"])
    assert LanguageFilter().check(front_loaded).keep


def test_one_registry_builds_every_step_and_legacy_keys_are_translated_once():
    assert set(RULES) >= {"min_length", "language", "gopher_repetition", "gopher_quality", "c4", "fineweb"}
    for step, (config_class, _) in RULES.items():
        if step != "language":  # LanguageFilter keeps its settings as attributes
            assert build_step(step, {}).config == config_class()
    flat = build_chain({"steps": ["min_length", "language"], "min_chars": 500, "languages": ["fr"], "min_lang_score": 0.5})
    assert (flat.filters[0].config.min_chars, flat.filters[1].languages, flat.filters[1].config.min_score) == (500, ("fr",), 0.5)
    # A step's own key wins over a flat one; a source override may use either form.
    assert build_chain({"steps": ["min_length"], "min_chars": 1, "min_length": {"min_chars": 7}}).filters[0].config.min_chars == 7
    merged = config_for_source({"min_length": {"min_words": 30}, "sources": {"pubmed": {"min_words": 10}}}, "pubmed")
    assert merged["min_length"] == {"min_words": 10}
    with pytest.raises(ValueError, match="unknown filter step 'gopher'.*min_length, language"):
        build_chain({"steps": ["gopher"]})
    with pytest.raises(ValueError, match="MinLengthConfig: unknown settings"):
        build_chain({"steps": ["min_length"], "min_length": {"min_char": 3}})


CODE = """library(survival)
fit <- coxph(Surv(time, status) ~ age + sex, data = lung)
for (i in seq_along(ids)) {
    x[i] <- ids[[1]][i]  # see https://cran.r-project.org/package=survival
}"""


def with_code_block(path: Path) -> bytes:
    """A real paper with a `<preformat>` block of R code inserted after its first body paragraph."""
    data = path.read_bytes()
    at = data.index(b"</p>", data.index(b"<body")) + len(b"</p>")
    block = b'<preformat preformat-type="code">' + CODE.replace("&", "&amp;").replace("<", "&lt;").encode() + b"</preformat>"
    return data[:at] + block + data[at:]


def test_a_code_block_reaches_the_mix_as_written():
    """Code in a paper (JATS <preformat>, a guideline's <pre>) is fenced by the renderers, and the
    cleaner and rules leave it as written: before, cleaning collapsed its indentation and took
    `[1]` for a citation, and C4's line pass removed every line without a full stop."""
    path = CORPORA / "fulltext" / "plos_allofplos" / "journal.pcbi.1004141.xml"
    (article,) = [item for item in parse_bytes(with_code_block(path), str(path)) if isinstance(item, Article)]
    doc = dict(article.doc)
    assert f"```\n{CODE}\n```" in doc["text"]
    lines = doc["text"].split("\n")
    fenced = [kind for kind in line_kinds(lines) if kind == CODE_KIND]
    assert len(fenced) == len(CODE.split("\n")) + 2  # the block and its fences
    assert "x[i] <- ids" not in content_view(doc["text"])  # code is not prose for the content rules
    chain = build_chain(config_for_source(shipped_filter_config(), doc["source"]))
    doc["text"] = chain.cleaner(doc["text"])
    for rule in chain.filters:
        verdict = rule.check(doc)
        assert verdict.keep, f"{rule.name} dropped the paper: {verdict.reason} {verdict.detail}"
    assert f"```\n{CODE}\n```" in doc["text"]


def test_a_guideline_code_block_keeps_its_indentation(tmp_path):
    site = SITES["cdc_mmwr"]
    name = "cdc_mmwr_2000_v49n02p25_west_nile_virus_guidelines.html"
    html = (FIXTURES / "guidelines_html" / name).read_bytes()
    at = html.index(b"</p>", html.index(b"<!-- content area -->")) + len(b"</p>")  # after the first paragraph of the report
    pre = b"<pre><code>" + CODE.replace("&", "&amp;").replace("<", "&lt;").encode() + b"</code></pre>"
    stored = PageStore(tmp_path).save(site.url(f"/recorded/{name}"), "page", 200, "text/html", html[:at] + pre + html[at:])
    outcome = next(parse_page(site, stored))
    assert outcome.reason is None and f"```\n{CODE}\n```" in outcome.doc["text"]


def test_fences_pair_up_and_a_lone_fence_is_prose():
    lines = ["Intro.", "```", "  a = [1]", "```", "Then.", "```", "no closing fence"]
    assert line_kinds(lines) == [PROSE, CODE_KIND, CODE_KIND, CODE_KIND, PROSE, PROSE, PROSE]
