"""The pure parts of the website checker (tools/check_site.py): no browser, a few milliseconds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import check_site as cs  # noqa: E402


@pytest.mark.parametrize("text, found", [
    (r"the mean \(\mu_t\) of the step", [r"\(\mu_t\)"]),
    (r"display \[ x = y \] here", [r"\[ x = y \]"]),
    (r"an \begin{aligned} block", [r"\begin{aligned}"]),
    ("inline $x$ and $\\beta_t$ and $a^2$", ["$x$", "$\\beta_t$", "$a^2$"]),
    ("$$p(x) = 1$$", ["$$p(x) = 1$$"]),
])
def test_untypeset_maths_is_found(text, found):
    assert cs.find_untypeset_maths(text) == found


@pytest.mark.parametrize("text", [
    "it costs $5 and $10 to run",      # prices: a space just inside the dollars
    "between $5-$10 per hour",          # no TeX between them
    "an escaped \\$ sign and $ alone",
    "plain prose with (parentheses) and [brackets]",
    "",
])
def test_prose_is_not_maths(text):
    assert cs.find_untypeset_maths(text) == []


def test_alt_text_must_describe_the_image():
    src = "../../_images/9bdb46d2.png"
    assert not cs.is_meaningful_alt(src, src)                      # myst-nb's default: the path
    assert not cs.is_meaningful_alt("9bdb46d2.png", src)
    assert not cs.is_meaningful_alt("  ", src) and not cs.is_meaningful_alt(None, src)
    assert cs.is_meaningful_alt("samples of the trained DDPM", src)


def test_caption_paragraphs():
    assert cs.is_caption_text("Figure: left, the variance of x_t")
    assert cs.is_caption_text("  figure 3. The U-Net") and cs.is_caption_text("Fig. 2 samples")
    assert not cs.is_caption_text("Figures are drawn below") and not cs.is_caption_text("{'name': 'x'}")
    assert not cs.is_caption_text(None)


def test_dark_ink_on_transparent_background():
    assert cs.dark_ink_on_transparent(0.6, 0.02)
    assert not cs.dark_ink_on_transparent(0.0, 0.3)       # opaque figure: readable on any page
    assert not cs.dark_ink_on_transparent(0.6, 0.0)       # transparent, light ink only
    with pytest.raises(ValueError, match="fraction"):
        cs.dark_ink_on_transparent(1.5, 0.1)


def test_local_urls():
    origin = "http://127.0.0.1:8123"
    assert cs.is_local_url(origin + "/book/intro.html", origin)
    assert cs.is_local_url("data:image/png;base64,AAAA", origin)
    assert not cs.is_local_url("http://127.0.0.1:9999/x.js", origin)
    assert not cs.is_local_url("https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js", origin)


def test_internal_targets():
    page = "book/algorithms/ddpm.html"
    assert cs.internal_target("../architectures/unet.html#skip", page) == ("book/architectures/unet.html", "skip")
    assert cs.internal_target("#forward", page) == (page, "forward")
    assert cs.internal_target("../../_downloads/a/ddpm.ipynb", page) == ("_downloads/a/ddpm.ipynb", "")
    assert cs.internal_target("../../search.html?q=x", page) == ("search.html", "")
    assert cs.internal_target("../../", page) == ("index.html", "")
    assert cs.internal_target("../../../outside.html", page)[0].startswith("../")
    for outside in ("https://arxiv.org/abs/2006.11239", "mailto:a@b.c", "#", "//cdn.example/x.js"):
        assert cs.internal_target(outside, page) is None


def test_links_are_checked_against_files_and_ids(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "a.html").write_text(
        '<h1 id="top">A</h1><a href="b.html#part">ok</a><a href="b.html#gone">no id</a>'
        '<a href="c.html">no file</a><a href="c.html">again</a><a href="#top">self</a>'
        '<a href="https://example.org">out</a>', encoding="utf-8")
    (tmp_path / "book" / "b.html").write_text('<section id="part"></section>', encoding="utf-8")
    failures, checked = cs.check_links(tmp_path, ["book/a.html"])
    assert checked == 5
    assert sorted(f.message for f in failures) == [
        "broken link b.html#gone (no id 'gone' in book/b.html)",
        "broken link c.html (no file book/c.html), 2 times",
    ]
    assert {f.check for f in failures} == {"link"} and {f.page for f in failures} == {"book/a.html"}


def test_toc_pages_and_names(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text("format: jb-book\nroot: book/intro\nparts:\n  - caption: One\n    chapters:\n"
                   "      - file: book/a/x\n        sections:\n          - file: book/a/y\n", encoding="utf-8")
    assert cs.toc_pages(toc) == ["book/intro.html", "book/a/x.html", "book/a/y.html"]
    assert cs.page_path("book/a/x.ipynb") == cs.page_path("/book/a/x.html") == "book/a/x.html"
    assert cs.page_label("book/algorithms/ddpm.html") == "algorithms-ddpm"
    toc.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(ValueError, match="table of contents"):
        cs.toc_pages(toc)
    with pytest.raises(ValueError):
        cs.page_path("  ")


def test_the_book_toc_is_read():
    pages = cs.toc_pages(ROOT / "_toc.yml")
    assert pages[0] == "book/intro.html" and "book/algorithms/ddpm.html" in pages and len(pages) == len(set(pages))


def test_contact_sheet(tmp_path):
    from PIL import Image

    shots = []
    for index, (colour, height) in enumerate((("red", 300), ("green", 300), ("blue", 1000))):
        path = tmp_path / f"{index}.png"
        Image.new("RGB", (200, height), colour).save(path)
        shots.append((f"page-{index}", path))
    sheet = cs.contact_sheet(shots, tmp_path / "sheet.png", columns=2, thumb_width=100, max_ratio=2.5)
    with Image.open(sheet) as image:
        # two columns of 100 px thumbnails with 8 px gaps; rows as tall as the tallest thumbnail
        # (the blue page, cut at 2.5 times its width: 500 px, scaled to 250) plus a 20 px label
        assert image.size == (2 * 108 + 8, 2 * (250 + 20 + 8) + 8)
        assert image.getpixel((8 + 50, 8 + 60))[:3] == (255, 0, 0)            # first thumbnail, top left
        assert image.getpixel((8 + 108 + 50, 8 + 60))[:3] == (0, 128, 0)      # second, top right
        assert image.getpixel((8 + 50, 8 + 278 + 240))[:3] == (0, 0, 255)     # third, second row, cut at 250
        assert image.getpixel((8 + 50, 8 + 200)) != (255, 0, 0)               # below the first (150 px tall)
    with pytest.raises(ValueError, match="no screenshots"):
        cs.contact_sheet([], tmp_path / "none.png")


def test_failures_and_report():
    failure = cs.Failure("book/intro.html", "console", "Uncaught SyntaxError")
    assert str(failure) == "book/intro.html: [console] Uncaught SyntaxError"
    with pytest.raises(ValueError, match="unknown check"):
        cs.Failure("x.html", "spelling", "?")
    report = cs.Report(failures=[failure], pages=2, local_requests=40, blocked_requests=1, search_word="gradient",
                       search_results=3)
    assert report.by_check("console") == [failure] and report.by_check("maths") == []
    summary = report.summary()
    assert "2 pages" in summary and "40 local requests" in summary and "1 to other hosts" in summary
    assert "3 search results for 'gradient'" in summary and summary.endswith("1 failures")


def test_missing_site_and_browser_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no built site"):
        cs.check_site(tmp_path)
    with pytest.raises(FileNotFoundError, match="chromium-driver"):
        cs.find_browser(chromium=str(tmp_path / "no-chromium"))
    assert cs.main([str(tmp_path)]) == 2
