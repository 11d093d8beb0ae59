"""The funnel plot: stages that share a name (one parse per guideline site) get one bar, and every
number label sits on its own bar."""
from collections import Counter

from curation.card_plots import _funnel_rows
from curation.card_stats import StageFunnel


def test_same_named_stages_and_reasons_are_summed_in_order():
    stages = [
        StageFunnel("pubmed.parse", "a", documents_out=424, reasons=Counter(no_abstract=142)),
        StageFunnel("guidelines.parse", "b", documents_out=3, reasons=Counter(listing_page=3)),
        StageFunnel("guidelines.parse", "c", documents_out=1, reasons=Counter(listing_page=2, error_page=1)),
        StageFunnel("filter", "d", documents_out=400, reasons=Counter(too_short_chars=29)),
    ]
    rows, drops = _funnel_rows(stages)
    assert rows == [("pubmed.parse", 566, 424), ("guidelines.parse", 10, 4), ("filter", 429, 400)]
    assert drops == [("guidelines.parse: error_page", 1), ("guidelines.parse: listing_page", 5),
                     ("filter: too_short_chars", 29), ("pubmed.parse: no_abstract", 142)]
    assert len({label for label, _ in drops}) == len(drops)
