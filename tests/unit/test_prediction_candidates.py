"""Which reference columns the upload's warning suggests as the prediction."""

from __future__ import annotations

import pytest

from exporter.window.reference_data import prediction_candidates


@pytest.mark.parametrize(
    ("names", "candidates"),
    [
        (["age", "score"], ["score"]),
        (["y_pred", "yPred", "predicted_proba", "model_output", "Label"], None),
        (["age", "country", "predator_count", "scoreboard"], []),
        (["credit_score"], ["credit_score"]),  # a suggestion, not a decision
    ],
)
def test_prediction_candidates_are_names_with_an_output_word(
    names: list[str], candidates: list[str] | None
) -> None:
    assert prediction_candidates(names) == (names if candidates is None else candidates)
