"""Every link between the README and the docs pages leads somewhere: the file exists and the heading it points at does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.unit.docs.test_docs import DOCS, README, REPO

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def prose(path: Path) -> str:
    """The file without its fenced code blocks (a link in a code block is code, not a link)."""
    return re.sub(r"^\s*```.*?^\s*```", "", path.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(m) for m in re.findall(r"^#{1,6} (.+)$", prose(path), flags=re.MULTILINE)}


def links(path: Path) -> list[tuple[str, str]]:
    """(file part, anchor part) of every relative link."""
    found = []
    for target in LINK.findall(prose(path)):
        if re.match(r"^[a-z]+:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        found.append((file_part, anchor))
    return found


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_link_leads_to_an_existing_page_and_heading(path: Path) -> None:
    broken = []
    for file_part, anchor in links(path):
        target = (path.parent / file_part).resolve() if file_part else path
        relative = target.relative_to(REPO).as_posix() if target.is_relative_to(REPO) else str(target)
        if not target.exists():
            broken.append(f"{file_part}: no such file")
            continue
        if anchor and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(f"{file_part}#{anchor}: no such heading in {relative}")
    assert not broken, f"{path.name}: " + "; ".join(broken)


def test_the_link_check_catches_a_missing_page_and_a_missing_heading(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Real heading\n\n[a](other.md) [b](#real-heading) [c](#nowhere)\n```\n[d](code.md)\n```\n")
    assert links(page) == [("other.md", ""), ("", "real-heading"), ("", "nowhere")]
    assert anchors(page) == {"title", "real-heading"}
    assert slug("Front doors: REST or HTTP API, IAM or JWT") == "front-doors-rest-or-http-api-iam-or-jwt"


def test_the_readme_links_every_docs_page() -> None:
    linked = {(README.parent / f).resolve().relative_to(REPO).as_posix() for f, _ in links(README) if f}
    pages = {p.relative_to(REPO).as_posix() for p in (REPO / "docs").glob("*.md")}
    assert pages <= linked, f"README does not link {sorted(pages - linked)}"
