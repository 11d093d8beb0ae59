"""Token budgets: the share arithmetic and whole-document sampling to a target."""
import pytest

from curation.budget import Budget, resolve_targets, sample_to_budget


def test_shares_are_of_the_total_including_themselves():
    budgets = {"replay": Budget.parse({"share": 0.01}), "guidelines": Budget.parse({"factor": 2}), "papers": Budget.parse({"tokens": 500})}
    targets = resolve_targets({"abstracts": 9000, "guidelines": 200, "papers": 1000, "replay": 10**6}, budgets)
    fixed = 9000 + 400 + 500
    assert targets["replay"] == pytest.approx(0.01 * (fixed + targets["replay"]))
    assert targets["abstracts"] == 9000 and targets["guidelines"] == 400 and targets["papers"] == 500


@pytest.mark.parametrize("spec", [{"share": 1.0}, {"share": -0.1}, {"ratio": 2}, "lots", {"tokens": 1, "share": 0.1}])
def test_bad_budgets_are_refused(spec):
    with pytest.raises(ValueError):
        Budget.parse(spec)


def test_sampling_repeats_whole_documents_and_lands_near_the_target():
    docs = [(i, f"doc{i}", 50 + (i * 37) % 400) for i in range(300)]
    pool = sum(t for _, _, t in docs)
    # Targets large against a document (as real budgets are): the error is under one short document.
    for target in (0.2 * pool, 0.4 * pool, 2.6 * pool):
        copies = sample_to_budget(docs, target, seed=7)
        got = sum(copies[k] * t for k, _, t in docs)
        assert abs(got - target) / target < 0.01
        if target > pool:  # every document repeated before any gets an extra copy
            assert set(copies.values()) == {int(target // pool), int(target // pool) + 1}
    assert sample_to_budget(docs, 0.4 * pool, seed=7) == sample_to_budget(list(reversed(docs)), 0.4 * pool, seed=7)
    assert sample_to_budget(docs, 0.4 * pool, seed=7) != sample_to_budget(docs, 0.4 * pool, seed=8)
