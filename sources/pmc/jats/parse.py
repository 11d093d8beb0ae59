"""The entry point: bytes of any JATS wrapper -> one item per article."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping, Union

from lxml import etree

from sources.pmc.jats.document import Article, render_article
from sources.pmc.jats.front import article_ids
from sources.pmc.jats.options import JatsOptions
from sources.pmc.jats.wrappers import find_articles
from sources.safe_xml import MAX_NODES, parse_bytes_safe


@dataclass(frozen=True)
class ArticleError:
    """An article of a batch that could not be rendered (a record error; the batch goes on)."""

    record: str
    error: str


Item = Union[Article, ArticleError]


def parse_bytes(data: bytes, provenance: Mapping[str, Any] | str = "<bytes>", options: JatsOptions | None = None,
                *, name: str | None = None, max_nodes: int = MAX_NODES) -> list[Item]:
    """Every article of one JATS document (any wrapper). InputError when the document is unreadable
    (HostileInputError when it could build more than `max_nodes` XML nodes)."""
    prov = {"file": provenance} if isinstance(provenance, str) else dict(provenance)
    if "sha256" not in prov:  # the stage passes the raw file's hash: not computed twice
        prov["sha256"] = hashlib.sha256(data).hexdigest()
    name = name or str(prov.get("file"))
    articles, wrapper = find_articles(parse_bytes_safe(data, name, max_nodes), name)
    options = options or JatsOptions()
    items: list[Item] = []
    for index, article in enumerate(articles):
        record_prov = {**prov, "record": index} if len(articles) > 1 else prov
        try:
            items.append(render_article(article, record_prov, options, wrapper))
        except Exception as exc:  # one bad article must not stop an efetch batch (error ledger)
            items.append(ArticleError(record=_record_name(article, index), error=f"{type(exc).__name__}: {exc}"))
    return items


def _record_name(article: etree._Element, index: int) -> str:
    ids = article_ids(article)
    return ids.get("pmcid") or ids.get("doi") or f"#{index}"
