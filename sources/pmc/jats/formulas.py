"""Formulas as text: TeX when the article has it, else the MathML read token by token.

`<tex-math>` often holds a whole LaTeX document (`\\documentclass … \\begin{document}$$…$$`): only
the math is kept. MathML is read as its tokens in order, single-spaced, annotations left out;
`<mmultiscripts>` reads its prescripts first, joined to the base (¹²⁹Xe, written as the base Xe
with the prescript 129, reads "129Xe", not "Xe 129").
"""
from __future__ import annotations

import re
from copy import deepcopy

from lxml import etree

MML = "{http://www.w3.org/1998/Math/MathML}"
MATH = f"{MML}math"
ANNOTATIONS = (f"{MML}annotation", f"{MML}annotation-xml")
_MULTISCRIPTS = f"{MML}mmultiscripts"
_PRESCRIPTS = f"{MML}mprescripts"
_TEX_DOC = re.compile(r"\\begin\{document\}(.*?)\\end\{document\}", re.S)
_TEX_DELIMS = re.compile(r"^\s*(?:\$\$|\$|\\\[|\\\()\s*|\s*(?:\$\$|\$|\\\]|\\\))\s*$")


def formula_text(formula: etree._Element) -> str:
    """The text of a formula element (`inline-formula`, `disp-formula`, `tex-math`, `math`):
    its `<tex-math>`, else a TeX annotation of its MathML, else the MathML's tokens; "" for a
    formula that is only an image."""
    tex = next(formula.iter("tex-math"), None)
    if tex is not None and tex_body(tex.text):
        return tex_body(tex.text)
    math = next(formula.iter(MATH), None)
    if math is None:
        return ""
    annotation = next((a for a in math.iter(ANNOTATIONS[0]) if "tex" in (a.get("encoding") or "").lower()), None)
    if annotation is not None and tex_body(annotation.text):
        return tex_body(annotation.text)
    return flatten_mathml(math)


def is_image_only(formula: etree._Element) -> bool:
    """A formula with a picture of itself and no text (unrecoverable)."""
    return next(formula.iter("graphic", "inline-graphic"), None) is not None


def tex_body(tex: str | None) -> str:
    """The math of a `<tex-math>`: the document preamble and $$ delimiters removed."""
    if not tex:
        return ""
    match = _TEX_DOC.search(tex)
    body = match.group(1) if match else tex
    body = body.strip()
    for _ in range(2):
        body = _TEX_DELIMS.sub("", body)
    return " ".join(body.split())


def flatten_mathml(math: etree._Element) -> str:
    """Readable text of a MathML tree: its tokens in reading order, separated by spaces."""
    if next(math.iter(*ANNOTATIONS, _MULTISCRIPTS), None) is not None:
        math = _in_reading_order(math)
    return _words(math)


def _words(node: etree._Element) -> str:
    return " ".join(" ".join(node.itertext()).split())


def _in_reading_order(math: etree._Element) -> etree._Element:
    """A copy of `math` (the article keeps its annotations: a TeX one is read first) without
    annotations, each `<mmultiscripts>` replaced by its words in reading order."""
    math = deepcopy(math)
    etree.strip_elements(math, *ANNOTATIONS, with_tail=False)
    for scripts in reversed(list(math.iter(_MULTISCRIPTS))):  # inner ones first
        text, tail = _multiscript_text(scripts), scripts.tail
        scripts.clear()
        scripts.text, scripts.tail = text, tail
    return math


def _multiscript_text(scripts: etree._Element) -> str:
    """`base (sub sup)* [<mprescripts/> (sub sup)*]` read as prescripts, base, postscripts, the
    last prescript joined to the base: ¹²⁹Xe reads "129Xe", `<none/>` as nothing."""
    parts = [part for part in scripts if isinstance(part.tag, str)]
    cut = next((i for i, part in enumerate(parts) if part.tag == _PRESCRIPTS), len(parts))
    base, post, pre = (_words_of(parts[:1]), _words_of(parts[1:cut]), _words_of(parts[cut + 1:]))
    if pre and base:
        base = pre[:-1] + [pre[-1] + base[0]] + base[1:]
    else:
        base = pre + base
    return " ".join(base + post)


def _words_of(elements: list[etree._Element]) -> list[str]:
    return [word for element in elements for word in _words(element).split()]
