"""Language identification and the per-source language rule.

Two engines (params `filter.language.engine`):

- `fast` (default): CLD2 (pycld2, a compiled n-gram model of 80+ languages, about 50x langdetect's
  speed) decides every document it is sure of: CLD2 calls its answer reliable and gives the top
  language at least `unsure_below` of the text. The rest, the unsure band (very short or mixed
  text, tables of numbers), goes to langdetect as below. On ../shared it is the better engine on
  both sides: fewer non-English paragraphs called English and fewer English stories missed
  (benchmarks/README.md, "Language ID").
- `langdetect`: langdetect on every document.

langdetect samples n-grams at random; a fixed seed set before every call makes the same text
give the same answer in every process. Only a bounded prefix is read by either engine: the
language of a document is settled long before its end, and cost stays flat for long papers.

A source's own statement of language decides instead of the engines only where the source is
configured to be trusted (`trust_declared`), and the ledger detail says so. It is off by default
and for PubMed on purpose: MEDLINE's <Language> names the language of the *article*, while the
abstract of a non-English article is usually in English; JATS `xml:lang` (PMC) describes the
text itself and may be trusted.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace

from curation.filters import KEEP, Verdict, drop
from curation.filters.structure import content_prefix

# MEDLINE and JATS use ISO 639-2 codes; langdetect answers in ISO 639-1.
ISO639_2 = {
    "eng": "en", "fre": "fr", "fra": "fr", "ger": "de", "deu": "de", "spa": "es", "ita": "it",
    "por": "pt", "rus": "ru", "jpn": "ja", "chi": "zh", "zho": "zh", "dut": "nl", "nld": "nl",
    "pol": "pl", "cze": "cs", "ces": "cs", "swe": "sv", "dan": "da", "nor": "no", "fin": "fi",
    "hun": "hu", "tur": "tr", "kor": "ko", "gre": "el", "ell": "el", "heb": "he", "ara": "ar",
    "per": "fa", "fas": "fa", "ukr": "uk", "rum": "ro", "ron": "ro", "hrv": "hr", "slv": "sl",
}


def detect_language(text: str, seed: int = 0, prefix_chars: int = 2000) -> tuple[str, float]:
    """The most probable language code and its probability; ("unknown", 0.0) when there is no signal."""
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = seed
    try:
        best = detect_langs(text[:prefix_chars])[0]
    except (LangDetectException, IndexError):
        return "unknown", 0.0
    return best.lang, round(best.prob, 6)


# CLD2 reads only interchange-valid UTF-8 (RFC 5198) and raises on anything else: C0/C1 control
# characters (real lingua sentences carry cp1252 dashes decoded as U+0096), lone surrogates and
# noncharacters. Those never tell a language, so they become spaces, only when CLD2 refused.
_NOT_INTERCHANGE = re.compile(
    "[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17))
    + "]"
)
# CLD2's codes where langdetect and ISO 639-1 say otherwise.
CLD2_CODES = {"un": "unknown", "iw": "he", "jw": "jv"}


def detect_cld2(text: str, prefix_chars: int = 2000) -> tuple[str, float, bool]:
    """CLD2's top language, the share of the text in it (0-1), and whether CLD2 calls it reliable."""
    import pycld2

    text = text[:prefix_chars]
    try:
        reliable, _, details = pycld2.detect(text, isPlainText=True)
    except (pycld2.error, UnicodeEncodeError):
        reliable, _, details = pycld2.detect(_NOT_INTERCHANGE.sub(" ", text), isPlainText=True)
    _, code, percent, _ = details[0]
    return CLD2_CODES.get(code, code), percent / 100, reliable


def declared_language(doc: dict) -> str | None:
    """The one language the source states for the document (meta `language`/`lang`/`languages`)."""
    try:
        meta = json.loads(doc.get("meta") or "{}")
    except ValueError:
        return None
    value = meta.get("language") or meta.get("lang") or meta.get("languages")
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else None
    if not isinstance(value, str) or not value.strip():
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    return ISO639_2.get(code, code)


# langdetect knows 55 languages; text in one it does not know (Irish, Maori, Sesotho in the lingua
# test set) can come out as English with a high score. Real English prose is about 40% function
# words (abstracts about 30%); such text has almost none, so a minimum share catches it.
FUNCTION_WORDS = {
    "en": frozenset(
        "the of and to in a is that for with as was were by on are be this from or an at which it "
        "not have has been these than their its we our but between".split()
    ),
}


def function_word_share(text: str, lang: str) -> float | None:
    words = FUNCTION_WORDS.get(lang)
    if words is None:
        return None
    tokens = [t.strip(".,;:()[]\"'").lower() for t in text.split()]
    return sum(t in words for t in tokens) / len(tokens) if tokens else 0.0


ENGINES = ("fast", "langdetect")


@dataclass(frozen=True)
class LanguageConfig:
    languages: tuple[str, ...] = ("en",)
    min_score: float = 0.8  # langdetect's probability, where langdetect decides
    seed: int = 0
    prefix_chars: int = 2000
    trust_declared: bool = False
    min_function_words: float = 0.1
    engine: str = "fast"
    unsure_below: float = 0.7  # CLD2's share of the text in its top language under which langdetect decides


class LanguageFilter:
    """Keeps documents in the wanted languages with enough confidence; annotates lang/lang_score."""

    name = "language"

    def __init__(self, config: LanguageConfig | None = None, **settings):
        config = replace(config or LanguageConfig(), **settings)
        if config.engine not in ENGINES:
            raise ValueError(f"language.engine {config.engine!r}: known engines are {', '.join(ENGINES)}")
        self.config = config
        self.languages = tuple(config.languages)

    @classmethod
    def from_config(cls, config: LanguageConfig) -> "LanguageFilter":
        return cls(config)

    def _not_wanted(self, lang: str, detail: str) -> Verdict:
        return drop(f"lang_not_{'_'.join(self.languages)}:{lang}", detail)

    def check(self, doc: dict) -> Verdict:
        config = self.config
        if config.trust_declared:
            declared = declared_language(doc)
            if declared:
                doc["lang"], doc["lang_score"] = declared, 1.0
                if declared not in self.languages:
                    return self._not_wanted(declared, f"declared {declared} by {doc['source']} (trusted)")
                return KEEP
        if config.engine == "fast":
            lang, share, reliable = detect_cld2(doc["text"], config.prefix_chars)
            if reliable and lang != "unknown" and share >= config.unsure_below:
                doc["lang"], doc["lang_score"] = lang, share
                if lang not in self.languages:
                    return self._not_wanted(lang, f"CLD2 {lang} ({share:.0%} of the text)")
                return KEEP
        return self._langdetect(doc)

    def _langdetect(self, doc: dict) -> Verdict:
        """The decision of langdetect, with its score and the function-word check."""
        config = self.config
        lang, score = detect_language(doc["text"], config.seed, config.prefix_chars)
        doc["lang"], doc["lang_score"] = lang, score
        if lang not in self.languages:
            return self._not_wanted(lang, f"detected {lang} ({score:.3f})")
        if score < config.min_score:
            return drop("lang_low_score", f"{lang} {score:.3f} < {config.min_score}")
        # Read on the content view: headings, formulas and table rows are not sentences.
        share = function_word_share(content_prefix(doc["text"], config.prefix_chars), lang)
        if share is not None and share < config.min_function_words:
            return drop("lang_low_score", f"detected {lang} ({score:.3f}) but {share:.1%} {lang} function words")
        return KEEP
