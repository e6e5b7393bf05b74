"""Rows (the hot path's findings) serialise to the very JSON of their pydantic models."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from oblige.engine.core.findings import Escalation, Obligation, Violation
from oblige.engine.core.rows import (
    MODELS,
    EscalationRow,
    ObligationRow,
    ViolationRow,
    row_json,
    to_model,
)

# any instant from 1900 to 2200, in microseconds, including sub-second ones
instants = st.integers(-2_208_988_800_000_000, 7_258_118_400_000_000)
texts = st.text(min_size=0, max_size=12)  # includes CJK, quotes, control characters, surrogates excluded
ids = st.lists(texts, max_size=3)
opt_text = st.none() | texts
opt_instant = st.none() | instants

obligations = st.builds(ObligationRow, texts, texts, st.integers(1, 38), texts, texts, opt_text, opt_text, ids,
                        instants, opt_instant, st.sampled_from(["open", "fulfilled", "fulfilled_late", "overdue", "discharged"]),
                        opt_text, opt_instant)
violations = st.builds(ViolationRow, texts, texts, st.integers(1, 38),
                       st.sampled_from(["overdue", "precondition", "prohibited", "breach"]), texts, opt_text, opt_text,
                       instants, opt_text, ids, opt_instant)
escalations = st.builds(EscalationRow, texts, st.sampled_from(["supervision_notice", "public_criticism", "one_vote_veto"]),
                        st.sampled_from(["rule", "proposed", "determined", "declined"]), texts, texts, texts, st.integers(1, 38),
                        instants, ids)


def test_rows_have_the_models_fields_in_order() -> None:
    for row, model in MODELS.items():
        assert row._fields == tuple(model.model_fields)
    assert set(MODELS.values()) == {Obligation, Violation, Escalation}


@settings(max_examples=300)
@given(row=obligations | violations | escalations)
def test_row_json_is_the_models_json(row) -> None:
    model = to_model(row)
    assert type(model) is MODELS[type(row)]
    assert row_json(row) == model.model_dump_json()
