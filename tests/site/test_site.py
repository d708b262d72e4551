"""The website builds in QUICK mode with Sphinx warnings as errors.

The chapters executed by nbval earlier in ``make test`` (kept in
``_build/executed/``) are rendered as they are (excluded from execution);
a chapter missing there is executed by Jupyter Book itself in QUICK mode. Either way a notebook that
raises, a broken reference or citation, or any other warning fails the build. The build itself is
the session fixture ``quick_site`` (``conftest.py``, ``quick_site.py``); it keeps the HTML in
``_build/quick-site/html`` for the browser test.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from notebook_pipeline import ROOT, chapter_notebooks, toc_files  # noqa: E402
from quick_site import stage_book  # noqa: E402

_stage = stage_book  # the name that scripts staging the book by hand import


def test_quick_site_builds_without_warnings(quick_site):
    assert quick_site.returncode == 0, \
        f"the book build failed (reused executed chapters: {quick_site.reused}):\n{quick_site.log[-6000:]}"

    html = quick_site.html
    for page in toc_files():
        assert (html / (page + ".html")).exists(), f"{page}.html is missing from the built site"
    for chapter in chapter_notebooks():
        page = (html / chapter.with_suffix(".html")).read_text(encoding="utf-8")
        figures = re.findall(r'<img[^>]+src="[^"]+\.png"', page)
        assert figures, f"{chapter}: the built page shows no figure"
        assert "Traceback" not in page, f"{chapter}: the built page shows a traceback"
        assert ".ipynb" in page, f"{chapter}: no notebook download link on the page"
        assert "QUICK" in page
    bibliography = (html / "book" / "appendices" / "bibliography.html").read_text(encoding="utf-8")
    assert bibliography.count('class="citation"') + bibliography.count("<dt") >= 5, "the bibliography is (nearly) empty"
    results = (html / "book" / "results.html").read_text(encoding="utf-8")
    for bench in sorted((ROOT / "benchmarks" / "results").glob("*.json")):
        assert bench.stem in results, f"the results page does not show the benchmark {bench.name}"
