"""What the renderer's mixins (sections.py, back_matter.py, floats.py, running_text.py) share: the
per-article state renderer.py holds and the methods one mixin calls on another. Each mixin
subclasses `RendererParts`, so that a type checker knows `self` and a reader sees the contract in
one place; `Renderer` combines the mixins and provides all of it."""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from lxml import etree

    from sources.pmc.jats.citations import Citations
    from sources.pmc.jats.floats import FloatTarget
    from sources.pmc.jats.options import JatsOptions


class RendererParts(Protocol):
    # State, per article (renderer.py).
    article: etree._Element
    o: JatsOptions
    citations: Citations
    seen_captions: set[str]
    image_only_formulas: int
    _float_targets: dict[str, FloatTarget] | None

    # Block structure (sections.py).
    def block(self, el: etree._Element, depth: int) -> list[str]: ...
    def container(self, node: etree._Element | None, depth: int) -> list[str]: ...
    def section(self, sec: etree._Element, depth: int, default_title: str = "") -> list[str]: ...

    # Back matter (back_matter.py).
    def is_back_matter(self, sec: etree._Element, title: str) -> bool: ...
    def supplementary_captions(self, el: etree._Element, depth: int, title: str = "") -> list[str]: ...

    # Figures, tables, supplementary files (floats.py).
    def float_(self, el: etree._Element) -> list[str]: ...
    def figure_ref(self, xref: etree._Element) -> str: ...

    # Running text (running_text.py) and formulas (renderer.py).
    def paragraph(self, p: etree._Element) -> str: ...
    def inline_text(self, el: etree._Element | None, citations: str | None = None) -> str: ...
    def formula(self, el: etree._Element) -> str: ...
