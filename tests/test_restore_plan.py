"""The pure restore planner: path order, caps, never paying twice."""

from __future__ import annotations

from glacierlib.restore_plan import (
    RETRIEVE_JOB_FRESH_SECONDS,
    RestoreCandidate,
    plan_restore,
)
from glacierlib.treehash import TreeHash

NOW = 2_000_000_000
H = TreeHash(b"\x00" * 32)


def _cands(**sizes: int) -> list[RestoreCandidate]:
    return [RestoreCandidate(name, f"id-{name}", size, H) for name, size in sizes.items()]


def test_path_order_and_count_cap() -> None:
    plan = plan_restore(_cands(c=1, a=1, b=1), now=NOW, max_number_of_files=2, tier="Bulk")
    assert [r.name for r in plan.retrievals] == ["a", "b"]
    assert (plan.deferred, plan.deferred_bytes, plan.tier) == (1, 1, "Bulk")


def test_size_cap_stops_at_first_file_that_does_not_fit() -> None:
    plan = plan_restore(_cands(a=60, b=50, c=10), now=NOW, max_size=100)
    assert [r.name for r in plan.retrievals] == ["a"]
    assert plan.total_bytes == 60
    assert plan.deferred == 2  # c would fit, but the order is kept for the next run


def test_never_pays_twice() -> None:
    fresh = NOW - RETRIEVE_JOB_FRESH_SECONDS + 60
    stale = NOW - RETRIEVE_JOB_FRESH_SECONDS - 60
    plan = plan_restore(
        _cands(a=1, b=1, c=1, d=1), now=NOW,
        journal_jobs={"id-a": fresh, "id-b": stale},
        vault_jobs={"id-c": "in progress (job J)"},
    )
    assert [r.name for r in plan.retrievals] == ["b", "d"]
    assert {s.name for s in plan.skipped} == {"a", "c"}
    assert "in progress" in next(s.reason for s in plan.skipped if s.name == "c")
