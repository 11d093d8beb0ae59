"""JATS formulas as text: `<tex-math>` when the article has it, else its MathML, read by the
reading that MEDLINE shares (sources/mathml.py).

`<tex-math>` often holds a whole LaTeX document (`\\documentclass … \\begin{document}$$…$$`): only
the math is kept.
"""
from __future__ import annotations

from lxml import etree

from sources.mathml import MATH, math_text, tex_body


def formula_text(formula: etree._Element) -> str:
    """The text of a formula element (`inline-formula`, `disp-formula`, `tex-math`, `math`):
    its `<tex-math>`, else its MathML (a TeX annotation first); "" for a formula that is only an
    image."""
    tex = next(formula.iter("tex-math"), None)
    if tex is not None:
        text = tex_body(tex.text)
        if text:
            return text
    math = next(formula.iter(MATH), None)
    return math_text(math) if math is not None else ""


def is_image_only(formula: etree._Element) -> bool:
    """A formula with a picture of itself and no text (unrecoverable)."""
    return next(formula.iter("graphic", "inline-graphic"), None) is not None
