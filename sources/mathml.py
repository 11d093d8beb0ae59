"""MathML and TeX as text: one reading for every source that carries formulas (JATS full text,
MEDLINE abstracts), so that a formula reads the same whichever record it came from.

A TeX annotation of the MathML, when there is one, is the formula's text (its delimiters and any
LaTeX preamble removed, as for JATS `<tex-math>`). Otherwise the MathML is written as a reader
would type it:
- scripts attach to their base with no space: "O2", "VO2max", "Rij"; prescripts come first, the
  last one joined to the base: ¹²⁹Xe reads "129Xe", ¹³¹₅₃I "53 131I"; a numeric power of a number
  or a bracket reads "10^-5" (as JATS `<sup>` in running text);
- relations and binary operators are spaced ("x = 2", "a + b"), a leading sign is not ("-1"),
  a comma or semicolon is followed by a space; within scripts nothing is spaced ("xi+1");
- adjacent tokens join ("2x", "dx", "ΔG"), except two numbers ("2 3"), a letter after a word
  ("sin x") and a large operator after a term ("2 ∑i xi"); `<mtext>` and `<mspace>` keep the
  space they stand for;
- fractions read "a/b", a compound part bracketed ("(a + b)/c"); roots "√x"; fenced lists
  "(a, b)"; table rows are separated by "; ";
- annotations, `<mphantom>` and the layout whitespace of pretty-printed files are never text.

Inside a sentence a formula is spaced only where it would touch a word ("the 129Xe MRI",
"(129Xe)-weighted", "3He/129Xe MRI"): `spaced_in_sentence`.
"""
from __future__ import annotations

import html
import re

from lxml import etree

MML = "{http://www.w3.org/1998/Math/MathML}"
MATH = f"{MML}math"
ANNOTATIONS = (f"{MML}annotation", f"{MML}annotation-xml")

_TEX_DOC = re.compile(r"\\begin\{document\}(.*?)\\end\{document\}", re.S)
_TEX_DELIMS = re.compile(r"^\s*(?:\$\$|\$|\\\[|\\\()\s*|\s*(?:\$\$|\$|\\\]|\\\))\s*$")
# Operators written with a space on each side in a row (relations, arrows, binary operators).
_SPACED = frozenset(
    "= ≠ < > ≤ ≥ ≦ ≧ ⩽ ⩾ ≪ ≫ ≈ ≃ ≅ ≡ ≜ ≔ ∼ ~ ∝ ± ∓ + - − × ÷ → ← ↔ ⇒ ⇐ ⇔ ↦ ⟶ ∈ ∉ ∋ ⊂ ⊃ ⊆ ⊇ ∪ ∩ ∧ ∨ ⊕ ⊗ :="
    .split() + ["=="])
_SIGNS = frozenset("+ - − ± ∓ ~ ∼".split())
_SEPARATORS = frozenset(",;")
_CLOSING = frozenset(")]}⟩⌋⌉")
_LARGE_OPERATORS = frozenset("∑∏∐∫∬∭∮⋃⋂⋀⋁")
# Characters that are layout, not text: function application, invisible times/separator/plus.
_INVISIBLE = dict.fromkeys(map(ord, "\u2061\u2062\u2063\u2064\u200b"))
_NUMERIC = re.compile(r"^[0-9.+\-\u2212\u2013]+$")
_TOKENS = frozenset({"mi", "mn", "mo", "ms"})
# Containers read as a row of their children.
_ROWS = frozenset({"math", "mrow", "mstyle", "mpadded", "mtd"})
_SCRIPTS = frozenset({"msub", "msup", "msubsup", "munder", "mover", "munderover"})
_SILENT = frozenset({"annotation", "annotation-xml", "mphantom", "mprescripts", "none", "malignmark",
                     "maligngroup", "mlabeledtr"})


def tex_body(tex: str | None) -> str:
    """The math of a TeX formula: a LaTeX document's preamble and the $$ / \\[ delimiters removed."""
    if not tex:
        return ""
    match = _TEX_DOC.search(tex)
    body = match.group(1) if match else tex
    body = body.strip()
    for _ in range(2):
        body = _TEX_DELIMS.sub("", body)
    return " ".join(body.split())


def math_text(math: etree._Element) -> str:
    """The text of a `<math>` element: its TeX annotation when it has one, else its MathML read
    as the module docstring says."""
    for annotation in math.iter(ANNOTATIONS[0]):
        if "tex" in (annotation.get("encoding") or "").lower():
            tex = tex_body(annotation.text)
            if tex:
                return tex
    return mathml_text(math)


def mathml_text(node: etree._Element) -> str:
    """Readable text of any MathML element (a `<math>` or a part of one), annotations left out."""
    return " ".join(_render(node, False).split())


def spaced_in_sentence(text: str, previous: str, following: str) -> str:
    """A formula's text inside a sentence: a space only where it would touch a word or number
    (`previous` is the text before it, `following` the text after), none inside brackets or
    before a hyphen: "the 129Xe MRI", "(129Xe)-weighted", "3He/129Xe MRI"."""
    left = " " if previous[-1:].isalnum() else ""
    right = " " if following[:1].isalnum() else ""
    return f"{left}{text}{right}"


# --------------------------------------------------------------------------- the reading


_NAMES: dict = {}  # tag -> local name, for the few dozen MathML tags


def _name(tag) -> str:
    name = _NAMES.get(tag)
    if name is None:
        name = tag.rpartition("}")[2] if isinstance(tag, str) else ""
        if len(_NAMES) < 512:  # a hostile file's made-up tags do not grow it without end
            _NAMES[tag] = name
    return name


def _is_part(node) -> bool:
    """An element or an unresolved entity (comments, processing instructions are not text)."""
    return isinstance(node.tag, str) or node.tag is etree.Entity


def _parts(node: etree._Element) -> list[etree._Element]:
    return [child for child in node if _is_part(child)]


def _token(node: etree._Element) -> str:
    if len(node):
        return " ".join("".join(node.itertext()).translate(_INVISIBLE).split())
    text = node.text or ""
    if text.isprintable() and " " not in text:  # most tokens: nothing invisible, no layout spaces
        return text
    return " ".join(text.translate(_INVISIBLE).split())


def _render(node: etree._Element, tight: bool) -> str:
    """The text of one MathML element; `tight` inside scripts (no operator spacing)."""
    tag = node.tag
    name = _name(tag)
    if name in _TOKENS:  # mi, mn, mo, ms: most of the elements
        return _token(node)
    if tag is etree.Entity:  # a DTD-only entity (&nbsp;) that was not resolved
        return html.unescape(node.text or "")
    if name == "mtext":
        text = "".join(node.itertext()).translate(_INVISIBLE)
        if not text.strip():
            return " " if text else ""
        # The spaces an mtext starts or ends with are the author's ("x if y"): one of each is kept.
        return (" " if text[0].isspace() else "") + " ".join(text.split()) + (" " if text[-1].isspace() else "")
    if name == "mspace":
        return "" if (node.get("width") or "").lstrip().startswith("-") else " "
    if name in _SILENT or not name:
        return ""
    if name in _ROWS:
        return _row(node, tight)
    parts = _parts(node)
    if name in _SCRIPTS:
        return _scripts(name, parts, tight)
    if name == "mmultiscripts":
        return _multiscripts(parts)
    if name == "mfrac":
        if len(parts) != 2:
            return _row(parts, tight)
        return f"{_operand(parts[0], tight)}/{_operand(parts[1], tight)}"
    if name == "msqrt":
        return "√" + _bracketed(_row(parts, tight))
    if name == "mroot":
        if len(parts) != 2:
            return _row(parts, tight)
        index = _render(parts[1], True)
        return f"{index}√{_bracketed(_render(parts[0], tight))}"
    if name == "mfenced":
        # Separators go between the children (a comma by default); separators="" makes them a row.
        separator = "".join((node.get("separators") if node.get("separators") is not None else ",").split())[:1]
        inner = (f"{separator} ".join(text for text in (_render(part, tight).strip() for part in parts) if text)
                 if separator else _row(parts, tight).strip())
        return f"{node.get('open', '(')}{inner}{node.get('close', ')')}"
    if name == "mtable":
        rows = [text for text in (_render(row, tight).strip() for row in parts) if text]
        # Rows are separated by "; ", unless a row ends in its own punctuation.
        return "".join(row + ("" if i == len(rows) - 1 else " " if row[-1] in ",;." else "; ")
                       for i, row in enumerate(rows))
    if name == "mtr":
        return " ".join(text for text in (_render(cell, tight).strip() for cell in parts) if text)
    if name in ("semantics", "maction"):
        return _render(parts[0], tight) if parts else ""  # the presentation; maction's first choice
    if name == "mglyph":
        return node.get("alt") or ""
    # menclose, merror, unknown containers: a row.
    return _row(parts, tight)


def _row(parts, tight: bool) -> str:
    """Children of a row (an element or a list of them), spaced as the module docstring says."""
    if tight:
        return "".join([_render(part, True) for part in parts if _is_part(part)])
    out: list[str] = []
    previous = ""  # the last piece written ("" at the start of the row)
    previous_is_operator = True  # a sign at the start of a row, or after an operator, is unary
    for part in parts:
        if not _is_part(part):
            continue
        text = _render(part, False)
        if not text:
            continue
        is_operator = _name(part.tag) == "mo"
        stripped = text.strip()
        if not stripped:
            out.append(text)
        elif is_operator and stripped in _SEPARATORS:
            out.append(stripped + " ")
        elif is_operator and stripped in _SPACED and not (stripped in _SIGNS and previous_is_operator):
            out.append(f" {stripped} ")
        else:
            if _touching(previous, text):
                out.append(" ")
            out.append(text)
        if stripped:
            previous = text
            previous_is_operator = is_operator and stripped not in _CLOSING
    return "".join(out)


def _touching(previous: str, text: str) -> bool:
    """Whether two pieces side by side need a space: two numbers ("2 3"), a letter after a word
    ("sin x", "ai ri"; not "dx", "ΔG"), a large operator after a term ("1/w ∫"); a number and a
    letter join ("2x", "C12")."""
    last, first = previous[-1:], text[:1]
    if first in _LARGE_OPERATORS:
        return bool(last) and not last.isspace() and last not in "([{" and last not in _SPACED
    if last.isdigit() and first.isdigit():
        return True
    if last.isalpha() and first.isalpha():
        return len(previous.strip()) > 1
    return False


def _scripts(name: str, parts: list[etree._Element], tight: bool) -> str:
    """Base and scripts, no space between them; a numeric power of a number or bracket is "^"."""
    if not parts:
        return ""
    base = _render(parts[0], tight).strip()
    scripts = [_render(part, True).strip() for part in parts[1:]]
    if name == "msup" and scripts and _NUMERIC.match(scripts[0]) and (base[-1:].isdigit() or base[-1:] == ")"):
        return f"{base}^{scripts[0]}"
    return base + "".join(scripts)


def _multiscripts(parts: list[etree._Element]) -> str:
    """`base (sub sup)* [<mprescripts/> (sub sup)*]`: prescripts, base, postscripts; the last prescript
    is joined to the base (¹²⁹Xe reads "129Xe"), `<none/>` is nothing."""
    cut = next((i for i, part in enumerate(parts) if _name(part.tag) == "mprescripts"), len(parts))
    base = _render(parts[0], True).strip() if parts else ""
    post = "".join(_render(part, True).strip() for part in parts[1:cut])
    pre = [text for text in (_render(part, True).strip() for part in parts[cut + 1:]) if text]
    return " ".join(pre[:-1] + [(pre[-1] if pre else "") + base + post])


def _operand(part: etree._Element, tight: bool) -> str:
    """A fraction's numerator or denominator, bracketed when it is more than one token."""
    return _bracketed(_render(part, tight).strip())


def _bracketed(text: str) -> str:
    text = text.strip()
    simple = text.replace(".", "").replace("−", "").replace("-", "").isalnum() or (
        text[:1] in "([{" and _closes_at_end(text))
    return text if simple or not text else f"({text})"


def _closes_at_end(text: str) -> bool:
    """Whether the bracket that opens `text` is the one that closes it."""
    depth = 0
    for position, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return position == len(text) - 1
    return False
