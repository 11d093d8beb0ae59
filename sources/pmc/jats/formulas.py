"""Formulas as text: TeX when the article has it, else the MathML read token by token.

`<tex-math>` often holds a whole LaTeX document (`\\documentclass … \\begin{document}$$…$$`): only
the math is kept. MathML is read as its tokens in order, single-spaced, annotations left out.
"""
from __future__ import annotations

import re
from copy import deepcopy

from lxml import etree

MML = "{http://www.w3.org/1998/Math/MathML}"
MATH = f"{MML}math"
ANNOTATIONS = (f"{MML}annotation", f"{MML}annotation-xml")
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
    """Readable text of a MathML tree: its tokens in order, separated by spaces (annotations left out)."""
    if next(math.iter(*ANNOTATIONS), None) is not None:
        math = deepcopy(math)  # the article keeps its annotations (a TeX one is read first)
        etree.strip_elements(math, *ANNOTATIONS, with_tail=False)
    return " ".join(" ".join(math.itertext()).split())
