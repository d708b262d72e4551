"""The results page's tables (book/_ext/course_results.py), built from small fake results folders.

These tests run the page's functions without building the book (well under a second); the site
build in tests/site/ renders the page from the results of the real chapters.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest
import yaml
from docutils import nodes

ROOT = Path(__file__).resolve().parent.parent


EXT = ROOT / "book" / "_ext"
sys.path.insert(0, str(EXT))  # as Sphinx does for the book's local extensions

import course_results as cr  # noqa: E402 - the page (docutils nodes, Sphinx glue)
import course_results_data as data  # noqa: E402 - reading, checking, formatting

MACHINE = {"cpu": "Test CPU 9000", "cores": 2, "gpu": None, "torch": "2.9.0", "device": "cpu"}


def entry(name, value, unit="ratio", *, target=None, kind=None, baseline=None, baseline_name=None,
          mode="QUICK", when="2026-12-06T01:00:00+00:00", machine=MACHINE):
    met = None if target is None else (value <= target if kind == "at most" else value >= target)
    return {"name": name, "value": value, "unit": unit, "target": target, "target_kind": kind,
            "baseline": baseline, "baseline_name": baseline_name, "mode": mode, "machine": machine,
            "recorded_at": when, "meets_target": met}


def write(folder: Path, slug: str, entries) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{slug}.results.json"
    path.write_text(json.dumps({"schema_version": 1, "chapter": slug, "results": entries}), encoding="utf-8")
    return path


def texts(node_list) -> str:
    return "\n".join(node.astext() for node in node_list)


def test_rows_show_value_unit_target_verdict_and_baseline(tmp_path):
    write(tmp_path, "ddpm", [
        entry("Fréchet ratio", 1.4236, target=2.0, kind="at most", baseline=2.5886, baseline_name="real vs real"),
        entry("accuracy", 0.1417, "fraction", target=0.8, kind="at least"),
        entry("parameters", 124439808.0, "parameters"),
    ])
    chapter = data.collect_chapter(tmp_path, "book/algorithms/ddpm", "DDPM", None, quick=True)
    assert chapter.problem is None
    assert data.result_rows(chapter.entries) == [
        ["Fréchet ratio", "1.424 ratio", "at most 2", "✓ met", "real vs real: 2.589"],
        ["accuracy", "0.1417 fraction", "at least 0.8", "✗ not met", "–"],
        ["parameters", "124,439,808 parameters", "–", "no target", "–"],
    ]
    assert chapter.targets_met() == "1 of 2"


def test_the_verdict_is_recomputed_not_copied(tmp_path):
    wrong = entry("loss", 3.0, "nats", target=2.0, kind="at most")
    wrong["meets_target"] = True  # a file that claims the impossible
    assert data.result_rows([wrong])[0][3] == "✗ not met"


@pytest.mark.parametrize("value, shown", [(0.14166, "0.1417"), (71.6228, "71.62"), (2.0, "2"),
                                          (124439808.0, "124,439,808"), (12345.6, "12,346"),
                                          (3.2e-05, "3.2e-05"), (None, "–")])
def test_number_format(value, shown):
    assert data.format_number(value) == shown


def test_toc_parts_keep_book_order_and_captions():
    sys.path.insert(0, str(ROOT / "tests"))
    from notebook_pipeline import toc_files

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    parts = data.toc_parts(toc)
    assert [p.caption for p in parts] == [p["caption"] for p in toc["parts"]]
    assert [doc for p in parts for doc in p.docnames] == [f for f in toc_files() if f != toc["root"]]
    fake = {"root": "intro", "parts": [{"caption": "One", "chapters": [
        {"file": "a.ipynb", "sections": [{"file": "a1.md"}]}, {"file": "b"}]}]}
    assert [(p.caption, p.docnames) for p in data.toc_parts(fake)] == [("One", ["a", "a1", "b"])]


def test_toc_parts_reject_a_toc_without_root():
    with pytest.raises(data.ResultsPageError, match="root"):
        data.toc_parts({"parts": []})


def test_a_chapter_without_a_file_is_listed_not_dropped(tmp_path):
    write(tmp_path, "flows", [entry("W2 ratio", 1.1, target=2.0, kind="at most")])
    flows = data.collect_chapter(tmp_path, "book/algorithms/flows", "Flows", None, quick=True)
    vae = data.collect_chapter(tmp_path, "book/algorithms/vae", "VAE", None, quick=True)
    assert vae.entries == [] and vae.problem_kind == "missing" and "vae.results.json" in vae.problem
    body = page([("Part I", [flows, vae])])
    text = texts(body)
    assert "Recorded nothing in this build: vae." in text
    assert "vae: recorded no result in this build" in text
    overview = next(n for n in body if isinstance(n, nodes.section) and n["ids"] == ["results-overview"])
    rows = [row.astext().split("\n\n") for row in overview.findall(nodes.row)]
    assert rows[1] == ["Flows", "1", "1 of 1", "executed by the test suite (nbval), not timed here"]
    assert rows[2][:2] == ["VAE", "none recorded"]


def test_entries_older_than_the_chapters_execution_are_not_from_this_build(tmp_path):
    start = dt.datetime(2026, 12, 6, 2, 0, 0, tzinfo=dt.timezone.utc)
    write(tmp_path, "gans", [entry("old name", 1.0, when="2026-12-05T10:00:00+00:00"),
                             entry("new name", 2.0, when=(start + dt.timedelta(seconds=30)).isoformat())])
    exec_data = {"mtime": (start + dt.timedelta(seconds=40)).timestamp(), "runtime": 40.0, "method": "force",
                 "succeeded": True}
    chapter = data.collect_chapter(tmp_path, "book/algorithms/gans", "GANs", exec_data, quick=False)
    assert [e["name"] for e in chapter.entries] == ["new name"] and chapter.older == 1
    assert chapter.execution == "40.0 s (full mode)"
    only_old = write(tmp_path, "gans", [entry("old name", 1.0, when="2026-12-05T10:00:00+00:00")])
    chapter = data.collect_chapter(tmp_path, "book/algorithms/gans", "GANs", exec_data, quick=False)
    assert chapter.entries == [] and "1 older entry" in chapter.problem, only_old


def test_execution_text():
    assert data.execution_text(None, quick=True) == "executed by the test suite (nbval), not timed here"
    assert "not timed here" in data.execution_text(None, quick=False)
    assert data.execution_text({"runtime": 185.2, "method": "force", "succeeded": True}, quick=False) \
        == "3 min 05 s (full mode)"
    assert data.execution_text({"runtime": 3.0, "method": "force", "succeeded": False, "error": "CellExecutionError"},
                             quick=True) == "execution failed (CellExecutionError)"


def test_quick_note_appears_for_quick_entries_and_for_genai_quick(tmp_path):
    write(tmp_path, "flows", [entry("W2 ratio", 1.1, mode="QUICK")])
    write(tmp_path, "vae", [entry("bits/dim", 0.4, "bits/dim", mode="full")])
    quick = data.collect_chapter(tmp_path, "book/algorithms/flows", "Flows", None, quick=False)
    full = data.collect_chapter(tmp_path, "book/algorithms/vae", "VAE", None, quick=False)
    assert data.site_is_quick([quick], environ={})
    assert not data.site_is_quick([full], environ={})
    assert data.site_is_quick([full], environ={"GENAI_QUICK": "1"})
    assert "QUICK mode" in texts(page([("Part", [quick])], quick=True))
    assert "QUICK mode" not in texts(page([("Part", [full])], quick=False))


def test_machine_and_mixed_modes_are_shown(tmp_path):
    gpu = dict(MACHINE, gpu="NVIDIA H100", device="cuda")
    write(tmp_path, "ddpm", [entry("a", 1.0, mode="full"), entry("b", 2.0, mode="QUICK", machine=gpu)])
    chapter = data.collect_chapter(tmp_path, "book/algorithms/ddpm", "DDPM", None, quick=False)
    text = texts(page([("Part", [chapter])], quick=True))
    assert "Test CPU 9000, 2 cores, no GPU, torch 2.9.0; computed on cpu" in text
    assert "GPU NVIDIA H100" in text
    assert data.result_rows(chapter.entries, show_mode=True)[1][0] == "b (QUICK)"


def test_a_malformed_results_file_names_the_file(tmp_path):
    bad = tmp_path / "ddpm.results.json"
    bad.write_text('{"schema_version": 1, "chapter": "ddpm", "results": [', encoding="utf-8")
    with pytest.raises(data.ResultsPageError, match="ddpm.results.json: not valid JSON"):
        data.load_chapter_results(bad)
    chapter = data.collect_chapter(tmp_path, "book/algorithms/ddpm", "DDPM", None, quick=True)
    assert chapter.entries == [] and chapter.problem_kind == "file" and "ddpm.results.json" in chapter.problem
    write(tmp_path, "ddpm", [{"name": "x", "value": 1.0}])
    with pytest.raises(data.ResultsPageError, match=r"ddpm.results.json: entry 0 \('x'\) lacks \['unit'"):
        data.load_chapter_results(bad)
    write(tmp_path, "ddpm", [entry("x", float("nan"))])
    with pytest.raises(data.ResultsPageError, match="ddpm.results.json: entry 'x' has a value"):
        data.load_chapter_results(bad)


def test_benchmark_tables_and_files_without_one(tmp_path):
    (tmp_path / "ddpm_vs_diffusers.json").write_text(json.dumps({
        "benchmark": "ddpm_vs_diffusers", "quick": False, "date": "2026-12-06T02:00:00+00:00",
        "machine": MACHINE, "versions": {"python": "3.11.7", "torch": "2.9.0", "diffusers": "0.31.0"},
        "table": {"title": "DDPM: ours vs diffusers", "columns": ["Model", "Fréchet"],
                  "rows": [["ours", "1.2 ± 0.1"], ["diffusers", "1.3 ± 0.2"]], "note": "3 seeds"}}))
    (tmp_path / "grading.json").write_text(json.dumps({"benchmark": "grading", "speed_up": 1.8}))
    tables, without = data.load_benchmarks(tmp_path)
    assert [t.title for t in tables] == ["DDPM: ours vs diffusers"]
    assert tables[0].rows == [["ours", "1.2 ± 0.1"], ["diffusers", "1.3 ± 0.2"]]
    assert tables[0].versions == "python 3.11.7, torch 2.9.0, diffusers 0.31.0"
    assert [name for name, _ in without] == ["grading.json"]
    text = texts(page([], benchmarks=(tables, without)))
    assert "date 2026-12-06 02:00 UTC" in text and "Test CPU 9000" in text and "diffusers 0.31.0" in text
    assert "grading.json: no 'table' key" in text


def test_a_malformed_benchmark_file_names_the_file(tmp_path):
    (tmp_path / "flows_vs_zuko.json").write_text(json.dumps({"table": {"title": "t", "columns": ["a", "b"],
                                                                       "rows": [["only one"]]}}))
    with pytest.raises(data.ResultsPageError, match="flows_vs_zuko.json: table row 0 has 1 cells"):
        data.load_benchmarks(tmp_path)
    (tmp_path / "flows_vs_zuko.json").write_text("not json")
    with pytest.raises(data.ResultsPageError, match="flows_vs_zuko.json: not valid JSON"):
        data.load_benchmarks(tmp_path)


def test_the_committed_benchmark_results_load():
    tables, without = data.load_benchmarks(ROOT / "benchmarks" / "results")
    names = {t.name for t in tables} | {name[:-len(".json")] for name, _ in without}
    assert names == {p.stem for p in (ROOT / "benchmarks" / "results").glob("*.json")}


def test_section_ids_are_unique_and_results_folder_from_environment(tmp_path):
    write(tmp_path, "flows", [entry("a", 1.0)])
    chapter = data.collect_chapter(tmp_path, "book/algorithms/flows", "Machine", None, quick=True)
    taken = {"results-machine"}  # an id the page already holds
    body = page([("Part I", [chapter]), ("Part II", [])], taken=taken)
    ids = [sid for node in body for s in node.findall(nodes.section) for sid in s["ids"]]
    assert len(ids) == len(set(ids)) and "results-machine" not in ids
    assert data.results_folder("/book", environ={"GENAI_RESULTS_DIR": str(tmp_path)}) == tmp_path
    assert data.results_folder("/book", environ={}) == Path("/book/_build/results")


def page(parts, *, quick=True, benchmarks=([], []), taken=None):
    return cr.build_page_nodes(parts, quick=quick, other_files=[], benchmarks=benchmarks,
                               benchmarks_folder="benchmarks/results", results_dir="_build/results",
                               link=lambda docname: docname + ".html", taken_ids=set() if taken is None else taken)


def test_every_chapter_notebook_records_its_results():
    """The page lists a chapter that records nothing; this catches it before any build runs."""
    import nbformat

    sys.path.insert(0, str(ROOT / "tests"))
    from notebook_pipeline import chapter_notebooks

    silent = []
    for chapter in chapter_notebooks():
        nb = nbformat.read(ROOT / chapter, as_version=4)
        code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
        if "record_result(" not in code:
            silent.append(str(chapter))
    assert not silent, f"chapters that never call record_result (the results page would list them empty): {silent}"


def _notebook(title: str, code: str) -> str:
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {title}"),
                                         nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nbformat.writes(nb)


_RECORD = """import datetime, json, os, pathlib
folder = pathlib.Path(os.environ["GENAI_RESULTS_DIR"])
path = folder / "zz-chapter.results.json"
data = json.loads(path.read_text())
data["results"].append({"name": "late chapter's number", "value": 0.25, "unit": "nats", "target": 0.5,
    "target_kind": "at most", "baseline": None, "baseline_name": None, "mode": "full",
    "machine": {"cpu": "Test CPU", "cores": 2, "gpu": None, "torch": "0", "device": "cpu"},
    "recorded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "meets_target": True})
path.write_text(json.dumps(data))
"""


def test_the_page_sees_chapters_read_after_it_and_warns_about_a_silent_one(tmp_path):
    """A tiny book built by Sphinx with myst-nb: 'zz-chapter' sorts after 'results' and is executed in
    the build, so the page sees its number only if the tables are made after every document was read.
    'a-chapter' records nothing: the build warns (a -W build fails) and the page lists it."""
    import subprocess

    src, results = tmp_path / "src", tmp_path / "results"
    src.mkdir()
    results.mkdir()
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(EXT)!r})\n"
        "extensions = ['myst_nb', 'course_results']\nnb_execution_mode = 'force'\n"
        "exclude_patterns = ['_build']\nhtml_theme = 'basic'\n", encoding="utf-8")
    (src / "_toc.yml").write_text(yaml.safe_dump({"root": "index", "parts": [
        {"caption": "Part A", "chapters": [{"file": "a-chapter"}, {"file": "zz-chapter"}]},
        {"caption": "Back matter", "chapters": [{"file": "results"}]}]}), encoding="utf-8")
    (src / "index.md").write_text("# Book\n\n```{toctree}\na-chapter\nzz-chapter\nresults\n```\n", encoding="utf-8")
    (src / "results.md").write_text("# Results\n\n```{course-results}\n```\n", encoding="utf-8")
    (src / "a-chapter.ipynb").write_text(_notebook("A chapter", "x = 1"), encoding="utf-8")
    (src / "zz-chapter.ipynb").write_text(_notebook("Late chapter", _RECORD), encoding="utf-8")
    # an entry from an earlier run, recorded before this build: not shown as this build's
    write(results, "zz-chapter", [entry("old number", 9.0, mode="full", when="2020-01-01T00:00:00+00:00")])
    env = {**__import__("os").environ, "GENAI_RESULTS_DIR": str(results), "GENAI_QUICK": "0"}
    out = tmp_path / "html"
    run = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", str(src), str(out)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "a-chapter recorded no result in this build" in run.stderr
    assert "zz-chapter" not in run.stderr, run.stderr

    from bs4 import BeautifulSoup

    text = BeautifulSoup((out / "results.html").read_text(encoding="utf-8"), "html.parser").get_text(" ")
    text = " ".join(text.split())
    assert "late chapter's number 0.25 nats at most 0.5 ✓ met" in text
    assert "old number" not in text and "1 older entry from an earlier run not shown" in text
    assert "a-chapter: recorded no result in this build" in text
    assert "s (full mode)" in text  # the execution time myst-nb measured in this build
    assert "QUICK mode" not in text
    assert "Test CPU, 2 cores, no GPU" in text
