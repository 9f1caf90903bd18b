"""The README's demo excerpt keeps the concept-drift phase: the quality verdict and its confusion matrix."""

from __future__ import annotations

from scripts import readme_demo

OUTPUT = """phase 4: 30 held-out rows in 30 requests
=== monitor: held-out traffic (inputs like training) ===
rows 30, requests 30, rejected 0, outliers 0 -> OK
  OK         outlier_ratio  fine

=== quality: realized accuracy on the labelled rows ===
=== ALERT: ALARM: iris model realized_accuracy
Model: iris
Realized quality of model iris (version 0783ded3d366): ALARM
Version 0783ded3d366 (judged)
  predicted rows 1230, labelled 30 (2.4%)
  accuracy 76.7%
             predicted ->
  actual           setosa  versicolor
  setosa                3           0
  versicolor            7          10
  class: precision / recall (rows labelled)
    setosa: 30.0% / 100.0% (3)
  ALARM             realized_accuracy: accuracy 0.767
  OK                realized_recall:virginica: fine
concept drift: per-minute monitor OK, realized quality ALARM"""


def test_the_excerpt_keeps_the_quality_verdict_and_the_whole_confusion_matrix() -> None:
    assert readme_demo.excerpt(OUTPUT) == [
        "phase 4: 30 held-out rows in 30 requests",
        "=== monitor: held-out traffic (inputs like training) ===",
        "rows 30, requests 30, rejected 0, outliers 0 -> OK",
        "…",
        "=== quality: realized accuracy on the labelled rows ===",
        "…",
        "Realized quality of model iris (version 0783ded3d366): ALARM",
        "…",
        "  accuracy 76.7%",
        "             predicted ->",
        "  actual           setosa  versicolor",
        "  setosa                3           0",
        "  versicolor            7          10",
        "…",
        "  ALARM             realized_accuracy: accuracy 0.767",
        "…",
        "concept drift: per-minute monitor OK, realized quality ALARM",
    ]
