"""MEDITRON's inline markers: what the PMC renderer writes and what the tokenizer keeps whole;
and the list items, table rows and code blocks every renderer writes, which the filters and
cleaners read as such.

One list for both sides (sources/ renders with `tag`, curation/tokenizer.py makes each marker one
token), so a marker the renderer can emit is never split into pieces by the tokenizer.

The kinds and their order are MEDITRON's `--vocab_extra_ids_list` (gap-replay/tokenize.sh):
  [bib_ref],[/bib_ref],[fig_ref],[/fig_ref],[bib],[/bib],[fig],[/fig],[table],[/table],[formula],[/formula]
Megatron-LLM's SentencePiece wrapper adds <CLS> <SEP> <EOD> <MASK> <PAD> before them, which is how
MEDITRON's vocabulary is Llama-2's 32,000 + 5 + 12 = 32,017 (reference/meditron.md §4.1).
"""
from __future__ import annotations

import re
from typing import Iterable

MARKER_KINDS = ("bib_ref", "fig_ref", "bib", "fig", "table", "formula")
MARKERS = [m for kind in MARKER_KINDS for m in (f"[{kind}]", f"[/{kind}]")]
MEGATRON_SPECIALS = ["<CLS>", "<SEP>", "<EOD>", "<MASK>", "<PAD>"]
MEDITRON_ADDED_TOKENS = MEGATRON_SPECIALS + MARKERS  # ids 32000 .. 32016 on Llama-2's tokenizer

# Names a special-token list (params.yaml tokenizer.special_tokens) may use for these lists.
NAMED_TOKEN_LISTS = {"markers": MARKERS, "meditron": MEDITRON_ADDED_TOKENS}


def tag(kind: str, text: str) -> str:
    """`text` between the opening and closing marker of `kind`."""
    if kind not in MARKER_KINDS:
        raise ValueError(f"unknown marker kind {kind!r}; known: {list(MARKER_KINDS)}")
    return f"[{kind}] {text} [/{kind}]"


def expand_token_names(entries) -> list[str]:
    """A special-token list with names (`markers`, `meditron`) replaced by their tokens, in order,
    each token once."""
    if isinstance(entries, str):
        entries = [entries]
    out: list[str] = []
    for entry in entries or []:
        for token in NAMED_TOKEN_LISTS.get(entry, [entry]):
            if token not in out:
                out.append(token)
    return out


_LIST_ITEM = re.compile(r"^(?:[-•▪◦●■*]|\d{1,3}[.)])\s+\S")


def is_list_item(text: str) -> bool:
    """A bullet (`-`, `•`, …) or a number (`1.`, `2)`) and then text: the renderers' `- item`,
    and the bullets and numbered items of plain text and PDFs. `text` starts where the line's
    indentation ends."""
    return bool(_LIST_ITEM.match(text))


def table_row(cells: Iterable[str]) -> str:
    """One table row as the renderers write it (JATS `tables: linearize`, guideline HTML tables): a
    markdown row, `| cell | cell |`. Its two ends mark it as a row, which a `|` inside prose
    ("p(x | y)", "|x|") never does."""
    return "| " + " | ".join(cells) + " |"


def is_table_row(line: str) -> bool:
    """A line `table_row` wrote (surrounding whitespace aside)."""
    line = line.strip()
    return len(line) >= 3 and line.startswith("| ") and line.endswith(" |")


CODE_FENCE = "```"


def code_block(text: str) -> str:
    """A block of code or preformatted text as the renderers write it (JATS `<preformat>`/`<code>`,
    guideline `<pre>`): its lines as they were, between two fence lines (markdown)."""
    return f"{CODE_FENCE}\n{text}\n{CODE_FENCE}"


def in_code(lines: list[str]) -> list[bool]:
    """Per line, whether it belongs to a code block, fences included: fence lines pair up in order,
    and one left without a partner (an odd last fence) is an ordinary line."""
    inside = [False] * len(lines)
    fences = [i for i, line in enumerate(lines) if line.strip() == CODE_FENCE]
    for start, end in zip(fences[0::2], fences[1::2]):
        inside[start:end + 1] = [True] * (end + 1 - start)
    return inside


def code_segments(text: str) -> list[tuple[bool, str]]:
    """The text cut into runs of lines outside and inside code blocks, in order: (is_code, lines).
    Cleaning that reflows whitespace or removes citations, URLs and bracketed numbers works on
    the runs outside only, so a block keeps its indentation and `x[1]`."""
    lines = text.split("\n")
    segments: list[tuple[bool, list[str]]] = []
    for line, code in zip(lines, in_code(lines)):
        if segments and segments[-1][0] == code:
            segments[-1][1].append(line)
        else:
            segments.append((code, [line]))
    return [(code, "\n".join(run)) for code, run in segments]


def clean_outside_code(text: str, clean) -> str:
    """`clean` applied to the text outside its code blocks; blocks kept as written, set apart from
    the cleaned text by one blank line (a text without blocks is `clean(text)`)."""
    if CODE_FENCE not in text:
        return clean(text)
    segments = code_segments(text)
    if len(segments) == 1 and not segments[0][0]:
        return clean(text)
    parts = [run if code else clean(run) for code, run in segments]
    return "\n\n".join(part for part in parts if part.strip())
