"""The external sort of phase 2: items in any order and any budget come back merged in order."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from oblige.engine.batch.runs import RunWriter, merge_runs

items = st.lists(st.tuples(st.integers(-10**15, 10**15), st.text(max_size=6), st.text(max_size=30)),
                 unique_by=lambda item: (item[0], item[1]), max_size=300)


@settings(max_examples=60, deadline=None)
@given(first=items, second=items, budget=st.integers(1, 5000), batches=st.integers(1, 20))
def test_runs_merge_in_order(first, second, budget: int, batches: int, tmp_path_factory) -> None:
    folder = str(tmp_path_factory.mktemp("runs"))
    second = [i for i in second if (i[0], i[1]) not in {(a, b) for a, b, _ in first}]
    paths = []
    for name, chunk in (("a", first), ("b", second)):
        writer = RunWriter(folder, name, budget)
        step = max(1, len(chunk) // batches)
        for start in range(0, len(chunk), step):
            writer.extend(chunk[start:start + step])
        paths += writer.close()
    extra = sorted([(10**16, "last", "x")])
    assert list(merge_runs(paths, extra)) == sorted(first + second) + extra


def test_a_tiny_budget_writes_many_runs(tmp_path) -> None:
    writer = RunWriter(str(tmp_path), "t", 1)
    for n in range(5):
        writer.extend([(5 - n, "id", "{}")])
    assert len(writer.close()) == 5
    assert [at for at, _, _ in merge_runs(writer.paths)] == [1, 2, 3, 4, 5]
