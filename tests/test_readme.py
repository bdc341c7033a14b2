"""Every link in the README and docs/ points at a file in the repository."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "tutorials" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_links_resolve_inside_the_repository(page):
    links = re.findall(r"\]\(([^)#\s]+)", page.read_text())
    assert links or page != ROOT / "README.md"
    for link in links:
        assert not link.startswith(("http://", "https://")) or "shields" in link, link
        target = (page.parent / link).resolve()
        assert target.is_relative_to(ROOT) and target.exists(), f"{page.name}: {link}"
