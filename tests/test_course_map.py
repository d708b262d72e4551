"""The course map (``book/_ext/course_map.py``, rendered on ``book/course-map.md``).

Every chapter carries valid front matter; the validator rejects what it must (missing front matter,
unknown prerequisites, self-loops, cycles, bad objectives, hours or exercise paths); both reading paths
and the weekly schedule respect the prerequisites; and the rendered page links every chapter and shows
the exercise points that the solution notebooks grade.
"""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "book" / "_ext"))

import course_map as cm  # noqa: E402
from notebook_pipeline import chapter_notebooks  # noqa: E402


@pytest.fixture(scope="module")
def chapters():
    return cm.load_chapters(ROOT)


def graded_points(notebook: Path) -> int:
    """Points of the nbgrader-graded cells, read here independently of the extension."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return sum(c["metadata"]["nbgrader"]["points"] for c in cells
               if c.get("metadata", {}).get("nbgrader", {}).get("grade"))


# --------------------------------------------------------------------------- the book's own front matter

def test_every_chapter_notebook_has_valid_front_matter(chapters):
    assert [c.docname + ".ipynb" for c in chapters] == [str(p) for p in chapter_notebooks()]
    assert len(chapters) == 27
    for c in chapters:
        assert c.number == chapters.index(c) + 1
        assert c.exercise == f"exercises/{c.slug}/{c.slug}.ipynb"


def test_exercise_points_are_those_the_solution_notebooks_grade(chapters):
    for c in chapters:
        solution = ROOT / "solutions" / c.slug / f"{c.slug}.ipynb"
        assert c.exercise_points == graded_points(solution) > 0, c.slug


def test_front_matter_states_the_prerequisites_the_chapters_name(chapters):
    needs = {c.slug: set(c.prerequisites) for c in chapters}
    assert {"unet", "losses"} <= needs["ddpm"]
    assert {"ddpm", "vae"} <= needs["latent-diffusion"]
    assert {"flows"} <= needs["flow-matching"]
    assert {"deep-rl", "transformers"} <= needs["rlhf-imitation"]
    assert needs["mlp"] == set()


# --------------------------------------------------------------------------- the validator on bad input

def _notebook(title: str, front) -> dict:
    metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    if front is not None:
        metadata["course"] = front
    return {"cells": [{"cell_type": "markdown", "metadata": {}, "source": [f"# {title}\n"]}],
            "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def _front(slug: str, prerequisites=()) -> dict:
    return {"short_title": slug.upper(), "prerequisites": list(prerequisites),
            "objectives": ["Explain the first idea.", "Train the second model."], "study_hours": 3,
            "exercise": {"notebook": f"exercises/{slug}/{slug}.ipynb"}}


def make_book(root: Path, fronts: dict[str, dict | None], titles: dict[str, str] | None = None) -> Path:
    """A three-chapter book (a, b in part one, c in part two) with the given front matter."""
    toc = {"format": "jb-book", "root": "intro", "parts": [
        {"caption": "Part I: Algorithms", "chapters": [{"file": "book/one/a"}, {"file": "book/one/b"}]},
        {"caption": "Part II: Architectures", "chapters": [{"file": "book/two/c"}, {"file": "book/notes"}]}]}
    (root / "_toc.yml").write_text(json.dumps(toc), encoding="utf-8")  # JSON is valid YAML
    (root / "book").mkdir()
    (root / "book" / "notes.md").write_text("# Notes\n", encoding="utf-8")  # a page, not a chapter
    for number, (folder, slug) in enumerate([("one", "a"), ("one", "b"), ("two", "c")], start=1):
        (root / "book" / folder).mkdir(exist_ok=True)
        title = (titles or {}).get(slug, f"{number}. Chapter {slug}")
        (root / "book" / folder / f"{slug}.ipynb").write_text(json.dumps(_notebook(title, fronts[slug])),
                                                              encoding="utf-8")
        exercise = root / "exercises" / slug / f"{slug}.ipynb"
        exercise.parent.mkdir(parents=True)
        cell = {"cell_type": "code", "metadata": {"nbgrader": {"grade": True, "points": number}}, "source": []}
        exercise.write_text(json.dumps({"cells": [cell], "metadata": {}}), encoding="utf-8")
    return root


def valid_fronts() -> dict[str, dict]:
    return {"a": _front("a"), "b": _front("b", ["a"]), "c": _front("c", ["a", "b"])}


def test_a_valid_book_loads(tmp_path):
    chapters = cm.load_chapters(make_book(tmp_path, valid_fronts()))
    assert [(c.slug, c.number, c.exercise_points) for c in chapters] == [("a", 1, 1), ("b", 2, 2), ("c", 3, 3)]
    assert [c.part for c in chapters] == ["Part I: Algorithms"] * 2 + ["Part II: Architectures"]
    # c needs a and b, b needs a: the edge a -> c is implied by a -> b -> c and is not drawn
    assert cm.drawn_edges(chapters) == [("a", "b"), ("b", "c")]


def _broken(change):
    fronts = valid_fronts()
    change(fronts)
    return fronts


@pytest.mark.parametrize("change, message", [
    (lambda f: f.update(b=None), "chapter 'b': its notebook metadata has no 'course' key"),
    (lambda f: f["c"]["prerequisites"].append("nope"), "prerequisite 'nope' is not a chapter"),
    (lambda f: f["b"]["prerequisites"].append("b"), "chapter 'b': lists itself as a prerequisite"),
    (lambda f: f["a"]["prerequisites"].append("c"), "the prerequisites form a cycle: a needs c needs"),
    (lambda f: f["a"].pop("objectives"), "chapter 'a': front matter lacks 'objectives'"),
    (lambda f: f["a"].update(objectives=["Explain one thing."]), "has 1 objectives, expected 2 to 5"),
    (lambda f: f["a"].update(objectives=["Explain it."] * 6), "has 6 objectives, expected 2 to 5"),
    (lambda f: f["a"]["objectives"].append("The chain rule."), "must start with a verb"),
    (lambda f: f["a"]["objectives"].append("Explain the chain rule"), "must be a sentence ending with '.'"),
    (lambda f: f["a"]["objectives"].append("Explain " + "very " * 25 + "much."), "at most 20"),
    (lambda f: f["a"].update(study_hours=0), "study_hours must be a positive number"),
    (lambda f: f["a"].update(study_hours="6"), "study_hours must be a positive number"),
    (lambda f: f["a"].update(study_hours=True), "study_hours must be a positive number"),
    (lambda f: f["c"].update(exercise={"notebook": "exercises/zz/zz.ipynb"}), "exercises/zz/zz.ipynb does not exist"),
    (lambda f: f["c"].update(level="hard"), "unknown front-matter key 'level'"),
])
def test_invalid_front_matter_is_rejected_with_a_clear_message(tmp_path, change, message):
    with pytest.raises(cm.FrontMatterError, match=re.escape(message)):
        cm.load_chapters(make_book(tmp_path, _broken(change)))


def test_a_heading_numbered_differently_from_the_toc_is_rejected(tmp_path):
    book = make_book(tmp_path, valid_fronts(), titles={"c": "4. Chapter c"})
    with pytest.raises(cm.FrontMatterError, match="numbered 4, but it is chapter 3"):
        cm.load_chapters(book)


# --------------------------------------------------------------------------- paths and schedule

def test_both_reading_paths_respect_every_prerequisite(chapters):
    number = {c.slug: c.number for c in chapters}
    part = {c.slug: c.part for c in chapters}
    first = cm.algorithms_first_path(chapters)
    second = cm.architectures_first_path(chapters)
    for path in (first, second):
        assert cm.is_topological(path, chapters)
    # algorithms first: Part I in the book's order, each Part II chapter only where a later chapter needs it
    part_one = [s for s in first if "Algorithms" in part[s]]
    assert [number[s] for s in part_one] == sorted(number[s] for s in part_one) == list(range(1, 9))
    needed = cm.ancestors(chapters)
    for i, slug in enumerate(first):
        if any(number[later] < number[slug] for later in first[i + 1:]):
            assert any(slug in needed[later] for later in first[i + 1:]), slug
    # architectures first: it opens with Part II and reads no algorithm while an architecture chapter is ready
    assert "Architectures" in part[second[0]]
    assert second.index("flows") > second.index("transformers")


def test_is_topological_detects_a_broken_order(chapters):
    order = cm.architectures_first_path(chapters)
    assert cm.is_topological(order, chapters)
    swapped = order[:]
    i, j = swapped.index("unet"), swapped.index("ddpm")
    swapped[i], swapped[j] = swapped[j], swapped[i]
    assert not cm.is_topological(swapped, chapters)
    assert not cm.is_topological(order[:-1], chapters)


def test_the_schedule_places_every_chapter_once_after_its_prerequisites(chapters):
    order = cm.algorithms_first_path(chapters)
    weeks = cm.weekly_schedule(order, chapters)
    assert len(weeks) == cm.WEEKS == 13
    assert [s for week in weeks for s in week] == order
    week_of = {s: w for w, week in enumerate(weeks) for s in week}
    for c in chapters:
        assert all(week_of[p] <= week_of[c.slug] for p in c.prerequisites)
    hours = {c.slug: c.study_hours for c in chapters}
    loads = [sum(hours[s] for s in week) for week in weeks]
    assert max(loads) - min(loads) <= max(hours.values()), loads  # about equal weeks
    with pytest.raises(ValueError, match="cannot spread"):
        cm.weekly_schedule(order[:3], chapters, weeks=4)


def test_the_graph_links_every_chapter_on_an_opaque_background(chapters):
    href = {c.slug: f"{c.docname}.html" for c in chapters}
    svg = cm.graph_svg(chapters, href, "Prerequisite graph")
    assert svg.startswith("<svg") and 'role="img"' in svg and 'aria-label="Prerequisite graph"' in svg
    for c in chapters:
        assert f'xlink:href="{href[c.slug]}"' in svg, c.slug
    assert "fill: #ffffff" in svg  # the figure's white background patch


# --------------------------------------------------------------------------- the rendered page

@pytest.fixture(scope="module")
def rendered_page(tmp_path_factory, chapters):
    """Build book/course-map.md with the extension and stub chapter pages (a few seconds)."""
    from sphinx.application import Sphinx

    src = tmp_path_factory.mktemp("course-map-site")
    (src / "conf.py").write_text("extensions = ['myst_parser', 'course_map']\n"
                                 f"course_map_root = {str(ROOT)!r}\n", encoding="utf-8")
    (src / "index.md").write_text("# Index\n", encoding="utf-8")
    for c in chapters:
        page = src / f"{c.docname}.md"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"# {c.title}\n", encoding="utf-8")
    for c in chapters:  # the targets of the exercises' download links
        target = src / c.exercise
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((ROOT / c.exercise).read_bytes())
    (src / "book" / "course-map.md").write_text((ROOT / "book" / "course-map.md").read_text(encoding="utf-8"),
                                               encoding="utf-8")
    out = src / "_build"
    app = Sphinx(str(src), str(src), str(out), str(out / ".doctrees"), "html", status=None, warning=None,
                 freshenv=True)
    app.build()
    return out, (out / "book" / "course-map.html").read_text(encoding="utf-8")


def test_the_page_shows_each_chapter_with_its_graded_points_and_working_links(rendered_page, chapters):
    out, page = rendered_page
    # rows as text, with the entities and Sphinx's typographic apostrophes turned back
    rows = [html.unescape(r).replace("\u2019", "'")
            for r in re.findall(r"<tr[^>]*>(.*?)</tr>", page, flags=re.S)]
    for c in chapters:
        solution_points = graded_points(ROOT / "solutions" / c.slug / f"{c.slug}.ipynb")
        link = f'href="{Path(c.docname).relative_to("book").as_posix()}.html"'
        row = [r for r in rows if link in r and c.objectives[0] in r]
        assert len(row) == 1, f"{c.slug}: no single table row with its link and objectives"
        exercise = re.search(r'<a class="reference download internal" download="" href="([^"]+)">'
                             r'<span>(\d+) points</span></a>', row[0])
        assert exercise, f"{c.slug}: the row shows no downloadable exercise with its points"
        href, points = exercise.groups()
        assert int(points) == solution_points and href.endswith("/" + Path(c.exercise).name), c.slug
        assert (out / "book" / href).resolve().read_bytes() == (ROOT / c.exercise).read_bytes()
    hrefs = set(re.findall(r'(?:xlink:)?href="([^"#]+\.html)', page))
    assert len(hrefs) >= len(chapters)
    for h in hrefs:
        assert (out / "book" / h).resolve().exists(), f"broken link {h}"
    assert page.count("xlink:href=") >= len(chapters)  # the graph's nodes
    assert "<figcaption>" in page and "overflow-x:auto" in page


def test_the_page_shows_thirteen_weeks_and_two_paths(rendered_page, chapters):
    _, page = rendered_page
    tables = re.findall(r"<table.*?</table>", page, flags=re.S)
    assert len(tables) == 3  # chapters, paths, schedule
    paths, schedule = tables[1], tables[2]
    assert len(re.findall(r"<tr", paths)) == len(chapters) + 1
    assert len(re.findall(r"<tr", schedule)) == 13 + 1
    # the note names exactly the chapters that the algorithms-first path reads before their place in the book
    first = cm.algorithms_first_path(chapters)
    number = {c.slug: c.number for c in chapters}
    early = [s for i, s in enumerate(first) if any(number[t] < number[s] for t in first[i + 1:])]
    assert {number[s] for s in early} == {9, 10, 11, 12, 13, 14, 15, 16}
    note = re.search(r"<p>Both paths read.*?</p>", page, flags=re.S).group(0)
    shown = [int(n) for n in re.findall(r"<span[^>]*>(\d+)\. ", note)]
    assert shown == [number[s] for s in early]
    for c in chapters:  # every chapter and its exercise placed exactly once in the schedule
        assert schedule.count(f">{html.escape(c.label)}<") == 1, c.slug
        assert schedule.count(f'<span class="pre">{Path(c.exercise).name}</span>') == 1, c.slug
