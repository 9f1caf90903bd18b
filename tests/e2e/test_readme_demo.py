"""The README's demo excerpt has the shape of the demo's real output (`make readme-demo` rewrites it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts import readme_demo

pytestmark = pytest.mark.e2e


def test_readme_demo_excerpt_matches_a_real_run(tmp_path: Path) -> None:
    real = readme_demo.excerpt(readme_demo.run_demo(tmp_path))
    documented = readme_demo.readme_excerpt(readme_demo.README.read_text(encoding="utf-8"))
    assert [readme_demo.shape(line) for line in documented] == [readme_demo.shape(line) for line in real], (
        "README.md's demo excerpt no longer matches `make demo`: run `make readme-demo` and commit README.md"
    )


def test_the_shape_keeps_words_and_drops_run_dependent_values() -> None:
    """What the comparison ignores (ids, numbers, paths) and what it does not (check names, columns, wording)."""
    a = "  ALARM      outlier_ratio   score 0.7775 vs threshold 0.2  335 of 400 = 83.8%; see /tmp/x/alerts.jsonl 4c1e9f0a2b3c4d5e"
    b = "  ALARM      outlier_ratio   score 0.1 vs threshold 0.25  3 of 40 = 7.5%; see .local/demo/alerts.jsonl 0123456789abcdef"
    assert readme_demo.shape(a) == readme_demo.shape(b)
    assert readme_demo.shape(a) != readme_demo.shape(a.replace("outlier_ratio", "rejected_ratio"))
    assert readme_demo.shape(a) != readme_demo.shape(a.replace("score 0.7775 ", ""))


def test_the_excerpt_marks_every_gap() -> None:
    output = "phase 1: 4 rows\nnoise\nrows 4 -> OK\n  OK  a\n  ALARM  b\n\n=== alerts: x ===\nALARM: b\n\ndemo OK: fine"
    assert readme_demo.excerpt(output) == [
        "phase 1: 4 rows",
        "…",
        "rows 4 -> OK",
        "…",
        "  ALARM  b",
        "=== alerts: x ===",
        "ALARM: b",
        "demo OK: fine",
    ]
