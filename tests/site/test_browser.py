"""The QUICK website as a reader sees it: every page of the table of contents in headless Chromium.

``tools/check_site.py`` serves the site built by the session fixture ``quick_site`` on 127.0.0.1,
blocks every other host, and checks each page (console errors, requests to other hosts, untypeset
maths, images and captions, internal links, the dark theme, a 390-px phone viewport) and the search
page. Each kind of check is one test here, failing with the list of pages and what is wrong. The
screenshots and contact sheets go to ``_build/screenshots/``. A small site with one problem of each
kind shows that every check can fail.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

import check_site  # noqa: E402
from quick_site import ROOT, SCREENSHOTS  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(quick_site) -> check_site.Report:
    if not quick_site.ok:
        pytest.fail("the QUICK site did not build, so there is nothing to check (see test_site.py)")
    result = check_site.check_site(quick_site.html, toc=ROOT / "_toc.yml", screenshots=SCREENSHOTS)
    print(result.summary())
    return result


@pytest.mark.parametrize("check", check_site.CHECKS)
def test_every_page_passes(report, check):
    failures = report.by_check(check)
    assert not failures, f"{len(failures)} failures of the {check!r} check:\n" + "\n".join(map(str, failures))


def test_every_page_was_opened_and_photographed(report):
    pages = check_site.toc_pages(ROOT / "_toc.yml")
    assert report.pages == len(pages)
    assert report.local_requests >= 10 * len(pages) and report.links > 0 and report.images > 0
    assert report.maths > 0, "no maths typeset anywhere"
    assert report.search_results > 0
    for page in pages:
        for suffix in ("", "-dark"):
            assert (SCREENSHOTS / f"{check_site.page_label(page)}{suffix}.png").stat().st_size > 10_000
    assert (SCREENSHOTS / "contact-sheet.png").is_file() and (SCREENSHOTS / "contact-sheet-dark.png").is_file()


# ------------------------------------------------------------------------------------------------
# The checker finds planted problems (and none on a clean page)
# ------------------------------------------------------------------------------------------------

_HEAD = """<!DOCTYPE html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style>body {{ background: #fff; margin: 8px; }} {dark}</style>{scripts}</head>"""
_DARK_CSS = "html[data-theme=dark] body { background: #121212; color: #eee; }"


def _page(body: str, *, dark: bool = True, scripts: str = "") -> str:
    return (_HEAD.format(dark=_DARK_CSS if dark else "", scripts=scripts)
            + f'<body><article class="bd-article">{body}</article></body></html>')


def _planted_site(root: Path) -> None:
    from PIL import Image, ImageDraw

    opaque = Image.new("RGB", (120, 80), "white")
    ImageDraw.Draw(opaque).line((0, 0, 119, 79), fill="navy", width=3)
    opaque.save(root / "plot.png")
    ink = Image.new("RGBA", (120, 80), (0, 0, 0, 0))  # black axes on a transparent background
    ImageDraw.Draw(ink).rectangle((10, 10, 110, 70), outline=(0, 0, 0, 255), width=3)
    ink.save(root / "ink.png")
    (root / "index.html").write_text(_page("<p>index</p>"), encoding="utf-8")
    (root / "good.html").write_text(_page(
        '<section id="top"><h1>Good</h1><p>Plain prose costs $5 and $10.</p>'
        '<div class="cell"><img src="plot.png" alt="plot.png"></div><p><em>Figure: a line.</em></p>'
        '<div class="cell"><img src="plot.png" alt="plot.png"></div>'
        '<div class="cell"><div class="cell_output"><pre>a check prints a line</pre></div></div>'
        '<p>Figure: the caption after a check cell.</p>'
        '<figure><img src="plot.png"><figcaption>The same line.</figcaption></figure>'
        '<img src="plot.png" alt="a navy diagonal line"><pre>\\(x\\) in code is fine</pre>'
        '<a href="bad.html#trap">a link</a> <a href="#top">up</a> <a href="https://example.org/">out</a>'
        "</section>"), encoding="utf-8")
    (root / "bad.html").write_text(_page(
        '<h1 id="trap">Bad</h1><p>Raw maths \\(x^2\\) and $\\alpha_t$ left as TeX.</p>'
        '<img src="missing.png" alt="a picture that is not there">'
        '<div class="cell"><img src="plot.png" alt="plot.png"></div><p>No caption here.</p>'
        '<div class="cell"><img src="ink.png" alt="ink.png"></div><p>Figure: black on transparent.</p>'
        '<a href="nowhere.html">gone</a> <a href="good.html#no-such-id">no anchor</a>'
        '<div style="width: 600px">wider than a phone</div>'
        "<script>console.error('planted console error'); throw new Error('planted uncaught');</script>",
        dark=False, scripts='<script src="http://example.invalid/library.js"></script>'), encoding="utf-8")


def test_checker_finds_planted_problems(tmp_path):
    _planted_site(tmp_path)
    report = check_site.check_site(tmp_path, ["good", "bad", "absent"], search_word=None,
                                   screenshots=tmp_path / "shots")
    good = [f for f in report.failures if f.page == "good.html"]
    assert not good, "false alarms on the clean page:\n" + "\n".join(map(str, good))
    found = {}
    for failure in report.failures:
        found.setdefault(failure.check, []).append(failure.message)
    listing = "\n".join(map(str, report.failures))
    assert any("planted console error" in m for m in found.get("console", [])), listing
    assert any("planted uncaught" in m for m in found.get("console", [])), listing
    assert any("example.invalid" in m for m in found.get("offline", [])), listing
    assert report.blocked_requests >= 1
    assert any("2 untypeset" in m for m in found.get("maths", [])), listing
    assert any("missing.png" in m for m in found.get("image", [])), listing
    assert found.get("figure") == ["1 figures without alt text or caption (first: plot.png)"], listing
    assert sorted(m.split(" (")[0] for m in found.get("link", [])) == [
        "broken link good.html#no-such-id", "broken link nowhere.html"], listing
    assert any(m.startswith("6") and "div" in m for m in found.get("phone", [])), listing
    dark = found.get("dark", [])
    assert any("did not take effect" in m for m in dark) and any("ink.png" in m for m in dark), listing
    assert found.get("page") == ["the page is missing from the built site"], listing
    assert {f.page for f in report.failures} == {"bad.html", "absent.html"}
    assert (tmp_path / "shots" / "contact-sheet.png").is_file()
