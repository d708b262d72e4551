"""Sphinx extension: the book's results page, generated at build time from the recorded results.

Every chapter records its headline numbers with ``genai_foundations.results.record_result``,
which writes ``<slug>.results.json`` into the results folder (``$GENAI_RESULTS_DIR`` when it is
set, else ``<confdir>/_build/results``). The benchmark scripts under ``benchmarks/`` write
``benchmarks/results/<name>.json`` with a ``table`` key. This extension turns both into a page;
no number on it is typed by hand.

Usage, in a MyST page::

    ```{course-results}
    ```

When the page is produced
    Sphinx reads documents in name order and myst-nb executes each notebook while reading it,
    so while ``book/results.md`` is being read, chapters whose names sort after it have not run
    yet and their results files are missing or stale. The directive therefore only leaves a
    placeholder node. The tables are built in the ``doctree-resolved`` handler, which Sphinx
    calls in the writing phase, after every document has been read (and so executed), whatever
    the reading order and also with parallel reading. The directive also marks its page to be
    re-read on every build, so that an incremental build never serves tables from an older run.
    Because the sections are created after Sphinx collected the page's table of contents, the
    handler adds them to that table of contents too (the "On this page" sidebar).

What counts as "recorded in this build"
    A chapter that this build executed (myst-nb keeps ``runtime``, ``mtime`` and ``succeeded``
    per document) shows only the entries recorded while it ran; older entries in its file are
    from an earlier run and are left out (the page says how many). A chapter rendered from a
    pre-executed notebook (the test suite's QUICK build reuses the notebooks nbval executed, and
    excludes them from execution) has no execution data: its file is shown as it is, with the
    time it was recorded, and the page says it was not timed here.

Which pages are listed
    Every notebook of ``_toc.yml``, by Part and in book order (a text page runs no code and is
    listed only if a results file bears its slug). Results files of slugs outside the table of
    contents are named at the end, not shown.

Where the benchmarks are
    ``<confdir>/benchmarks/results/*.json``, or the folder in the Sphinx setting
    ``course_results_benchmarks_dir`` (a build from a staged copy of the book must copy that
    folder or name it). Every JSON with a ``table`` is rendered with its date, machine and
    library versions; every other one is named with the reason it is not. A missing folder is
    said on the page (not a warning).

Warnings (which fail a build run with ``-W``, as ``make book`` and the test suite do)
    * a notebook of the table of contents with no result recorded in this build, or a results
      folder that does not exist (``course_results.missing``);
    * a results or benchmark file that cannot be read (``course_results.file``).
    A malformed file raises :class:`ResultsPageError`, naming the file, in ``course_results_data``;
    the page shows the message in place of that file's table. ``suppress_warnings =
    ["course_results.missing"]`` silences the first kind for a build that runs no chapter.

Reading, checking and formatting the files is in ``course_results_data.py`` (no Sphinx there); this
module builds the docutils nodes and holds the Sphinx glue. ``tests/test_results_page.py`` tests
both on small fake folders, and builds a tiny book to test the ordering.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import yaml
from docutils import nodes

from course_results_data import (  # noqa: E402 - book/_ext is on sys.path (Sphinx's local extensions)
    BenchmarkTable,
    ChapterResults,
    Part,
    RESULTS_ENV_VAR,
    RESULT_COLUMNS,
    ResultsPageError,
    collect_chapter,
    format_when,
    load_benchmarks,
    machines_used,
    met_cell,
    quick_from_environment,
    result_rows,
    results_folder,
    shown_path,
    site_is_quick,
    slug_of,
    toc_parts,
)

#: Columns of the overview table.
OVERVIEW_COLUMNS = ("Chapter", "Numbers", "Targets met", "Execution in this build")
QUICK_NOTE = ("This site was built in QUICK mode (small data, few training steps, the same code paths), "
              "as the test suite and `make book-quick` do. The numbers below come from QUICK runs: "
              "they show that every chapter runs and records its results, and they do not meet the "
              "full-mode targets by design. `make book` executes every chapter in full mode.")


# ---------------------------------------------------------------------------------------------
# Docutils nodes
# ---------------------------------------------------------------------------------------------

def _paragraph(*children: nodes.Node | str) -> nodes.paragraph:
    """A paragraph of text and inline nodes; text between backticks becomes inline code."""
    para = nodes.paragraph()
    for child in children:
        if not isinstance(child, str):
            para += child
            continue
        for i, piece in enumerate(child.split("`")):
            if piece:
                para += nodes.literal(piece, piece) if i % 2 else nodes.Text(piece)
    return para



def _bullets(lines: list[str]) -> nodes.bullet_list:
    """A bullet list with one paragraph per line of text."""
    items = nodes.bullet_list()
    for line in lines:
        item = nodes.list_item()
        item += _paragraph(line)
        items += item
    return items


def table_node(columns: Sequence[str], rows: Sequence[Sequence[nodes.Node | str]], *,
               classes: Sequence[str] = ()) -> nodes.table:
    """A docutils table with a header row; cells are strings or inline nodes.

    The HTML theme (pydata-sphinx-theme) wraps every table in a horizontally scrollable container,
    so that a wide table scrolls inside itself instead of widening the page on a phone.
    """
    table = nodes.table(classes=["course-results-table", *classes])
    group = nodes.tgroup(cols=len(columns))
    table += group
    for _ in columns:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    group += head
    head += _row(columns)
    body = nodes.tbody()
    group += body
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"a row has {len(row)} cells, the table has {len(columns)} columns: {row}")
        body += _row(row)
    return table


def _row(cells: Sequence[nodes.Node | str]) -> nodes.row:
    row = nodes.row()
    for cell in cells:
        entry = nodes.entry()
        entry += _paragraph(cell)
        row += entry
    return row


def _section(title: str, section_id: str) -> nodes.section:
    section = nodes.section(ids=[section_id], names=[section_id])
    section += nodes.title(title, title)
    return section


def _unique_id(base: str, taken: set[str]) -> str:
    candidate = nodes.make_id(base) or "results"
    i = 1
    while candidate in taken:
        i += 1
        candidate = f"{nodes.make_id(base)}-{i}"
    taken.add(candidate)
    return candidate


class results_placeholder(nodes.General, nodes.Element):
    """Left by the ``course-results`` directive; replaced by the tables in ``doctree-resolved``."""


def build_page_nodes(parts: Sequence[tuple[str, Sequence[ChapterResults]]], *, quick: bool,
                     other_files: Sequence[str], benchmarks: tuple[list[BenchmarkTable], list[tuple[str, str]]] | str,
                     benchmarks_folder: str, results_dir: str, link: Callable[[str], str],
                     taken_ids: set[str]) -> list[nodes.Node]:
    """The page's body: QUICK note, machine, overview, one section per Part, the benchmarks.

    ``link(docname)`` gives the URI of a chapter's page; ``taken_ids`` holds the ids already on
    the page (new section ids are added to it and never collide).
    """
    out: list[nodes.Node] = []
    chapters = [c for _, cs in parts for c in cs]
    if quick:
        note = nodes.note()
        note += _paragraph(QUICK_NOTE)
        out.append(note)

    machine = _section("Machine", _unique_id("results-machine", taken_ids))
    used = machines_used(chapters)
    if not used:
        machine += _paragraph("No chapter recorded a result in this build, so no machine is known.")
    elif len(used) == 1:
        machine += _paragraph(f"Every number below was measured on: {used[0][0]}.")
    else:
        machine += _paragraph("The numbers below were measured on more than one machine:")
        machine += _bullets([f"{where}: {', '.join(slugs)}" for where, slugs in used])
    machine += _paragraph(f"Results folder read by this build: {results_dir}.")
    out.append(machine)

    chapter_ids = {c.docname: _unique_id(f"results-{c.slug}", taken_ids) for c in chapters}
    overview = _section("Overview", _unique_id("results-overview", taken_ids))
    rows = []
    for caption, cs in parts:
        for c in cs:
            ref = nodes.reference("", c.title, internal=True, refid=chapter_ids[c.docname])
            numbers = str(len(c.entries)) if c.entries else "none recorded"
            rows.append([ref, numbers, c.targets_met() if c.entries else "–", c.execution])
    overview += table_node(OVERVIEW_COLUMNS, rows, classes=["course-results-overview"])
    n_entries = sum(len(c.entries) for c in chapters)
    n_target = sum(1 for c in chapters for e in c.entries if e.get("target") is not None)
    n_met = sum(1 for c in chapters for e in c.entries if met_cell(e).startswith("✓"))
    missing = [c.slug for c in chapters if not c.entries]
    summary = (f"{len(chapters)} chapters, {n_entries} recorded numbers, {n_target} with a target, "
               f"{n_met} of them met.")
    if missing:
        summary += f" Recorded nothing in this build: {', '.join(missing)}."
    overview += _paragraph(summary)
    out.append(overview)

    for caption, cs in parts:
        if not cs:
            continue
        part = _section(caption or "Chapters", _unique_id(f"results-{caption or 'chapters'}", taken_ids))
        for c in cs:
            section = _section(c.title, chapter_ids[c.docname])
            chapter_link = nodes.reference("", "the chapter", internal=True, refuri=link(c.docname))
            line = [f"Execution in this build: {c.execution}. "]
            if c.entries:
                modes = " and ".join(c.modes)
                line.append(f"Mode: {modes}. Recorded {format_when(c.entries)}. ")
            if c.older:
                line.append(f"{c.older} older entr{'y' if c.older == 1 else 'ies'} from an earlier run not shown. ")
            line += ["Read ", chapter_link, "."]
            section += _paragraph(*line)
            if c.entries:
                section += table_node(RESULT_COLUMNS, result_rows(c.entries, show_mode=len(c.modes) > 1))
            else:
                warning = nodes.warning()
                warning += _paragraph(f"{c.slug}: {c.problem}")
                section += warning
            part += section
        out.append(part)

    if other_files:
        extra = _section("Results of pages outside the table of contents",
                         _unique_id("results-other-files", taken_ids))
        extra += _paragraph("These results files match no page of this book's table of contents "
                            f"and are not shown: {', '.join(other_files)}.")
        out.append(extra)

    bench = _section("Benchmarks: the course's code next to the libraries",
                     _unique_id("results-benchmarks", taken_ids))
    bench += _paragraph(f"The committed full runs of the scripts under benchmarks/ (`make bench`), read from "
                        f"{benchmarks_folder}. Each table states when and where it was measured.")
    if isinstance(benchmarks, str):
        warning = nodes.warning()
        warning += _paragraph(benchmarks)
        bench += warning
    else:
        tables, without = benchmarks
        if not tables and not without:
            bench += _paragraph(f"No benchmark results found in {benchmarks_folder} (see the setting "
                                "`course_results_benchmarks_dir`).")
        for t in tables:
            section = _section(t.title, _unique_id(f"benchmark-{t.name}", taken_ids))
            section += _paragraph(f"{t.name}.json · {'QUICK run (not a full run) · ' if t.quick else ''}"
                                  f"date {t.date} · {t.machine} · {t.versions}.")
            section += table_node(t.columns, t.rows, classes=["course-results-benchmark"])
            if t.note:
                section += _paragraph(t.note)
            bench += section
        if without:
            bench += _paragraph("Benchmark files without a table (not rendered):")
            bench += _bullets([f"{name}: {why}." for name, why in without])
    out.append(bench)
    return out


# ---------------------------------------------------------------------------------------------
# Sphinx glue
# ---------------------------------------------------------------------------------------------

def setup(app):  # noqa: C901 - the Sphinx registration only
    from sphinx.util import logging
    from sphinx.util.docutils import SphinxDirective

    logger = logging.getLogger(__name__)

    class CourseResultsDirective(SphinxDirective):
        """``{course-results}``: leaves a placeholder that ``doctree-resolved`` fills."""

        has_content = False

        def run(self):
            # Re-read this page on every build, so that its tables always reflect the latest run.
            self.env.note_reread()
            return [results_placeholder()]

    def read_toc() -> list[Part]:
        toc_path = Path(app.srcdir) / str(getattr(app.config, "external_toc_path", "_toc.yml") or "_toc.yml")
        try:
            toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ResultsPageError(f"{toc_path}: cannot read the table of contents ({exc})") from exc
        return toc_parts(toc)

    def is_notebook(docname: str) -> bool:
        return Path(app.env.doc2path(docname)).suffix == ".ipynb"

    def exec_data_of(docname: str) -> Mapping[str, Any] | None:
        return (getattr(app.env, "nb_metadata", {}).get(docname) or {}).get("exec_data")

    def fill(app_, doctree: nodes.document, docname: str) -> None:
        placeholders = list(doctree.findall(results_placeholder))
        if not placeholders:
            return
        folder = results_folder(app.confdir)
        bench_folder = Path(app.confdir) / (app.config.course_results_benchmarks_dir or "benchmarks/results")
        if not folder.is_dir():
            logger.warning(f"results page: the results folder {folder} does not exist; the chapters write to "
                           f"${RESULTS_ENV_VAR} when it is set, else to <repository>/_build/results",
                           type="course_results", subtype="missing", location=docname)
        quick_env = quick_from_environment()
        parts = []
        shown = set()
        for part in read_toc():
            chapters = []
            for doc in part.docnames:
                if doc == docname or doc not in app.env.all_docs:
                    continue
                has_file = (folder / f"{slug_of(doc)}.results.json").exists()
                if not (is_notebook(doc) or has_file):
                    continue  # a text page runs no code
                title = app.env.titles[doc].astext() if doc in app.env.titles else slug_of(doc)
                chapter = collect_chapter(folder, doc, title, exec_data_of(doc), quick=quick_env)
                shown.add(slug_of(doc))
                if chapter.problem:
                    what = f"{chapter.slug} {chapter.problem}" if chapter.problem_kind == "missing" else chapter.problem
                    logger.warning(f"results page: {what}", type="course_results", subtype=chapter.problem_kind,
                                   location=docname)
                chapters.append(chapter)
            parts.append((part.caption, chapters))
        others = sorted(p.name for p in folder.glob("*.results.json")
                        if p.name[: -len(".results.json")] not in shown) if folder.is_dir() else []
        try:
            benchmarks: Any = load_benchmarks(bench_folder)
        except ResultsPageError as exc:
            logger.warning(f"results page: {exc}", type="course_results", subtype="file", location=docname)
            benchmarks = str(exc)
        quick = site_is_quick([c for _, cs in parts for c in cs])
        taken = set(doctree.ids)

        def link(target: str) -> str:
            return app.builder.get_relative_uri(docname, target)

        body = build_page_nodes(parts, quick=quick, other_files=others, benchmarks=benchmarks,
                                benchmarks_folder=shown_path(bench_folder, app.confdir),
                                results_dir=shown_path(folder, app.confdir), link=link, taken_ids=taken)
        for node in body:
            for section in node.findall(nodes.section):
                for sid in section["ids"]:
                    doctree.ids[sid] = section
        placeholders[0].replace_self(body)
        for extra in placeholders[1:]:
            extra.parent.remove(extra)
        _add_to_page_toc(app.env, docname, body)

    app.add_config_value("course_results_benchmarks_dir", None, "env")
    app.add_node(results_placeholder)
    app.add_directive("course-results", CourseResultsDirective)
    app.connect("doctree-resolved", fill)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}


def _add_to_page_toc(env, docname: str, body: Sequence[nodes.Node]) -> None:
    """Add the generated top-level sections (and their subsections) to the page's local TOC.

    Sphinx collected ``env.tocs[docname]`` while reading, before the sections existed; the theme's
    "On this page" sidebar is drawn from it when the page is written, right after this handler.
    """
    from sphinx import addnodes

    toc = env.tocs.get(docname)
    if toc is None or not len(toc) or not isinstance(toc[0], nodes.list_item):
        return
    page_item = toc[0]
    sub = next((child for child in page_item.children if isinstance(child, nodes.bullet_list)), None)
    if sub is None:
        sub = nodes.bullet_list()
        page_item += sub

    def item(section: nodes.section) -> nodes.list_item:
        title = section[0].astext()
        ref = nodes.reference("", "", nodes.Text(title), internal=True, refuri=docname,
                              anchorname="#" + section["ids"][0])
        entry = nodes.list_item("", addnodes.compact_paragraph("", "", ref))
        children = [item(s) for s in section.children if isinstance(s, nodes.section)]
        if children:
            entry += nodes.bullet_list("", *children)
        return entry

    for node in body:
        if isinstance(node, nodes.section):
            sub += item(node)
