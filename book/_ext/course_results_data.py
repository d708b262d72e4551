"""The results page's data: the recorded results and benchmark JSON, read, checked and formatted.

``course_results.py`` (the Sphinx extension) turns what these functions return into the page.
They take plain data and paths and know nothing of Sphinx, so that ``tests/test_results_page.py``
tests them on small fake folders. A file that cannot be used raises :class:`ResultsPageError`,
whose message starts with the file's path.

Inputs
    ``<slug>.results.json``: schema 1 of ``genai_foundations.results`` (one entry per headline
    number: name, value, unit, target and its kind, baseline and its name, mode, machine,
    recorded_at). The package's ``load_results`` is not reused: it lets a JSON syntax error out
    without the file's name, checks less (finite numbers, modes), and importing the package
    would load PyTorch into the Sphinx process.

    ``benchmarks/results/<name>.json``: written by ``benchmarks/common.py``; the page reads its
    ``table`` (title, columns, rows of strings, note), ``date``, ``machine`` and ``versions``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

RESULTS_ENV_VAR = "GENAI_RESULTS_DIR"  # the same variable genai_foundations.results reads
QUICK_ENV_VAR = "GENAI_QUICK"
_TRUE = {"1", "true", "yes", "on"}
#: Columns of one chapter's table.
RESULT_COLUMNS = ("Result", "Value", "Target", "Met", "Baseline")
#: Entries recorded up to this many seconds before a chapter's execution started still count
#: as recorded by it (``recorded_at`` has whole seconds; clocks of kernel and builder agree).
CLOCK_SLACK_S = 2.0


class ResultsPageError(ValueError):
    """A results or benchmark file that the page cannot use; the message names the file."""


# ---------------------------------------------------------------------------------------------
# Reading the inputs: the table of contents, the results folder, the benchmark folder
# ---------------------------------------------------------------------------------------------

@dataclass
class Part:
    """One caption of the table of contents and the documents under it, in book order."""

    caption: str
    docnames: list[str] = field(default_factory=list)


def toc_parts(toc: Mapping[str, Any]) -> list[Part]:
    """The parts of a Jupyter Book table of contents (``_toc.yml`` as a dict), in book order.

    Each file (chapters and their sections, depth first) becomes a docname without its suffix.
    Files listed outside ``parts`` (the ``jb-article`` style) form one part without a caption.
    """
    if not isinstance(toc, Mapping) or "root" not in toc:
        raise ResultsPageError(f"the table of contents needs a 'root' entry, got {type(toc).__name__}")

    def docnames(entries: Iterable[Any] | None) -> list[str]:
        found: list[str] = []
        for entry in entries or []:
            if not isinstance(entry, Mapping):
                raise ResultsPageError(f"a table-of-contents entry must be a mapping, got {entry!r}")
            if "file" in entry:
                found.append(_strip_suffix(str(entry["file"])))
            found += docnames(entry.get("sections"))
            found += docnames(entry.get("chapters"))
        return found

    parts = [Part(str(part.get("caption") or ""), docnames(part.get("chapters"))) for part in toc.get("parts") or []]
    loose = docnames(toc.get("chapters")) + docnames(toc.get("sections"))
    if loose:
        parts.append(Part("", loose))
    return parts


def _strip_suffix(file: str) -> str:
    for suffix in (".ipynb", ".md", ".rst"):
        if file.endswith(suffix):
            return file[: -len(suffix)]
    return file


def slug_of(docname: str) -> str:
    """A chapter's slug: its file name without folder and suffix (``book/algorithms/ddpm`` -> ``ddpm``)."""
    return docname.rsplit("/", 1)[-1]


def results_folder(confdir: str | os.PathLike, environ: Mapping[str, str] = os.environ) -> Path:
    """Where the chapters wrote their results: ``$GENAI_RESULTS_DIR``, else ``<confdir>/_build/results``."""
    if environ.get(RESULTS_ENV_VAR):
        return Path(environ[RESULTS_ENV_VAR])
    return Path(confdir) / "_build" / "results"


def shown_path(path: str | os.PathLike, confdir: str | os.PathLike) -> str:
    """``path`` relative to the book's folder when it lies inside it (the page shows no build machine's paths)."""
    path, confdir = Path(path).resolve(), Path(confdir).resolve()
    try:
        return path.relative_to(confdir).as_posix()
    except ValueError:
        return path.as_posix()


def quick_from_environment(environ: Mapping[str, str] = os.environ) -> bool:
    """True when ``GENAI_QUICK`` asks for QUICK mode (the same values the package accepts)."""
    return environ.get(QUICK_ENV_VAR, "").strip().lower() in _TRUE


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ResultsPageError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsPageError(f"{path}: cannot be read ({exc})") from exc


_ENTRY_KEYS = ("name", "value", "unit", "mode", "machine")


def load_chapter_results(path: str | os.PathLike) -> dict[str, Any]:
    """Read one ``<slug>.results.json`` (schema 1 of ``genai_foundations.results``) and check it.

    Raises :class:`ResultsPageError` naming the file when it is not JSON, has another schema
    version, or has an entry without a name, a finite number, a unit, a mode or a machine.
    """
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ResultsPageError(f"{path}: expected a JSON object, got {type(data).__name__}")
    if data.get("schema_version") != 1:
        raise ResultsPageError(f"{path}: expected schema_version 1, got {data.get('schema_version')!r}")
    if not isinstance(data.get("results"), list):
        raise ResultsPageError(f"{path}: 'results' must be a list of entries")
    for i, entry in enumerate(data["results"]):
        if not isinstance(entry, dict):
            raise ResultsPageError(f"{path}: entry {i} is not an object")
        missing = [key for key in _ENTRY_KEYS if key not in entry]
        if missing:
            raise ResultsPageError(f"{path}: entry {i} ({entry.get('name', 'unnamed')!r}) lacks {missing}")
        for key in ("value", "target", "baseline"):
            value = entry.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value)):
                raise ResultsPageError(f"{path}: entry {entry['name']!r} has a {key} that is not a finite "
                                       f"number: {value!r}")
        if entry.get("target_kind") not in (None, "at most", "at least"):
            raise ResultsPageError(f"{path}: entry {entry['name']!r} has target_kind {entry['target_kind']!r}; "
                                   "expected 'at most', 'at least' or null")
        if entry["mode"] not in ("QUICK", "full"):
            raise ResultsPageError(f"{path}: entry {entry['name']!r} has mode {entry['mode']!r}; expected "
                                   "'QUICK' or 'full'")
    return data


@dataclass
class BenchmarkTable:
    """One benchmark JSON that carries a ``table`` (see ``benchmarks/common.py``)."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str
    date: str
    machine: str
    versions: str
    quick: bool


def load_benchmarks(folder: str | os.PathLike) -> tuple[list[BenchmarkTable], list[tuple[str, str]]]:
    """The benchmark tables in ``folder/*.json`` (by file name) and the files without one.

    Returns ``(tables, without_table)`` where ``without_table`` lists ``(file name, why)`` for
    every JSON that has no ``table`` key. A file that is not JSON, or whose table is malformed,
    raises :class:`ResultsPageError` naming it.
    """
    tables: list[BenchmarkTable] = []
    without: list[tuple[str, str]] = []
    for path in sorted(Path(folder).glob("*.json")):
        data = _read_json(path)
        if not isinstance(data, dict):
            raise ResultsPageError(f"{path}: expected a JSON object, got {type(data).__name__}")
        table = data.get("table")
        if table is None:
            without.append((path.name, "no 'table' key: the script that wrote it predates the common "
                                       "table format (benchmarks/common.py)"))
            continue
        if not isinstance(table, dict) or not isinstance(table.get("columns"), list) \
                or not isinstance(table.get("rows"), list):
            raise ResultsPageError(f"{path}: 'table' must be an object with 'columns' and 'rows' lists")
        columns = [str(c) for c in table["columns"]]
        rows = []
        for i, row in enumerate(table["rows"]):
            if not isinstance(row, list) or len(row) != len(columns):
                raise ResultsPageError(f"{path}: table row {i} has {len(row) if isinstance(row, list) else 'no'} "
                                       f"cells, the table has {len(columns)} columns")
            rows.append([str(c) for c in row])
        tables.append(BenchmarkTable(
            name=path.stem, title=str(table.get("title") or path.stem), columns=columns, rows=rows,
            note=str(table.get("note") or ""), date=format_date(data.get("date")),
            machine=describe_machine(_benchmark_machine(data)),
            versions=describe_versions(data.get("versions")), quick=bool(data.get("quick"))))
    return tables, without


def _benchmark_machine(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``machine`` of a benchmark JSON; older scripts wrote ``cpu_model`` and ``cpu_count`` instead."""
    if data.get("machine"):
        return data["machine"]
    if data.get("cpu_model"):
        return {"cpu": data["cpu_model"], "cores": data.get("cpu_count")}
    return None


# ---------------------------------------------------------------------------------------------
# Formatting: numbers, dates, machines, one chapter's rows
# ---------------------------------------------------------------------------------------------

def format_number(value: float | None) -> str:
    """A recorded number as the page prints it: 4 significant digits, integers in full.

    ``0.14166`` -> ``"0.1417"``, ``71.6228`` -> ``"71.62"``, ``124439808.0`` -> ``"124,439,808"``,
    ``2.0`` -> ``"2"``, ``3.2e-05`` -> ``"3.2e-05"``, ``None`` -> ``"–"``.
    """
    if value is None:
        return "–"
    value = float(value)
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1e4:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def format_date(value: Any) -> str:
    """An ISO 8601 time as ``2026-12-06 03:21 UTC``; anything else as it is, or ``no date recorded``."""
    if not value:
        return "no date recorded"
    try:
        when = _dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return when.astimezone(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def describe_machine(machine: Mapping[str, Any] | None) -> str:
    """``"Intel(R) Xeon(R) Processor, 2 cores, no GPU, torch 2.4.1"`` from a recorded ``machine``."""
    if not machine:
        return "machine not recorded"
    parts = [str(machine.get("cpu") or "unknown CPU")]
    if machine.get("cores"):
        parts[0] += f", {machine['cores']} cores"
    parts.append(f"GPU {machine['gpu']}" if machine.get("gpu") else "no GPU")
    if machine.get("torch"):
        parts.append(f"torch {machine['torch']}")
    return ", ".join(parts)


def describe_versions(versions: Mapping[str, Any] | None) -> str:
    """``"python 3.11.7, torch 2.4.1, zuko 1.2"`` (in the recorded order), or a note that none were."""
    if not versions:
        return "library versions not recorded"
    return ", ".join(f"{name} {version}" for name, version in versions.items())


def target_cell(entry: Mapping[str, Any]) -> str:
    """``"at most 2"`` / ``"at least 0.8"``, or ``"–"`` without a target."""
    if entry.get("target") is None:
        return "–"
    return f"{entry['target_kind']} {format_number(entry['target'])}"


def met_cell(entry: Mapping[str, Any]) -> str:
    """Whether the value meets its target, computed again from value, target and direction."""
    if entry.get("target") is None:
        return "no target"
    value, target = float(entry["value"]), float(entry["target"])
    met = value <= target if entry["target_kind"] == "at most" else value >= target
    return "✓ met" if met else "✗ not met"


def baseline_cell(entry: Mapping[str, Any]) -> str:
    """``"real vs real: 2.589"`` (the baseline's name first: names often carry their own brackets)."""
    if entry.get("baseline") is None:
        return "–"
    name = entry.get("baseline_name")
    return f"{name}: {format_number(entry['baseline'])}" if name else format_number(entry["baseline"])


def result_rows(entries: Sequence[Mapping[str, Any]], *, show_mode: bool = False) -> list[list[str]]:
    """One row per recorded entry, cells in the order of :data:`RESULT_COLUMNS`.

    With ``show_mode`` (a chapter whose entries mix QUICK and full runs) the mode follows the name.
    """
    rows = []
    for entry in entries:
        name = f"{entry['name']} ({entry['mode']})" if show_mode else str(entry["name"])
        value = format_number(entry["value"])
        unit = str(entry.get("unit") or "")
        rows.append([name, f"{value} {unit}".strip(), target_cell(entry), met_cell(entry), baseline_cell(entry)])
    return rows


def _recorded_at(entry: Mapping[str, Any]) -> _dt.datetime | None:
    try:
        when = _dt.datetime.fromisoformat(str(entry.get("recorded_at")))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=_dt.timezone.utc)


def entries_of_this_build(entries: Sequence[Mapping[str, Any]], exec_data: Mapping[str, Any] | None
                          ) -> tuple[list[Mapping[str, Any]], int]:
    """Split a chapter's entries into those recorded by this build's execution and the older ones.

    ``exec_data`` is myst-nb's execution record of the chapter (``mtime`` at the end of the run,
    ``runtime`` in seconds). Without one (a pre-executed notebook) every entry is kept.
    Returns ``(kept, number of older entries left out)``.
    """
    if not exec_data or exec_data.get("mtime") is None:
        return list(entries), 0
    start = float(exec_data["mtime"]) - float(exec_data.get("runtime") or 0.0) - CLOCK_SLACK_S
    kept = [e for e in entries if (when := _recorded_at(e)) is not None and when.timestamp() >= start]
    return kept, len(entries) - len(kept)


def execution_text(exec_data: Mapping[str, Any] | None, *, quick: bool) -> str:
    """What the page says about a chapter's execution in this build."""
    if not exec_data:
        if quick:
            return "executed by the test suite (nbval), not timed here"
        return "not executed by this build (pre-executed notebook), not timed here"
    if not exec_data.get("succeeded", True):
        return f"execution failed ({exec_data.get('error') or 'error'})"
    runtime = exec_data.get("runtime")
    if runtime is None:
        return f"executed ({exec_data.get('method', 'unknown method')}), time not recorded"
    mode = "QUICK mode" if quick else "full mode"
    if exec_data.get("method") == "cache":
        return f"{format_duration(runtime)} ({mode}, run taken from the execution cache)"
    return f"{format_duration(runtime)} ({mode})"


def format_when(entries: Iterable[Mapping[str, Any]]) -> str:
    """When the latest of ``entries`` was recorded, as ``2026-12-06 03:21 UTC`` (or ``at an unknown time``)."""
    times = [when for e in entries if (when := _recorded_at(e)) is not None]
    return format_date(max(times).isoformat()) if times else "at an unknown time"


def format_duration(seconds: float) -> str:
    """``42.3 s`` below two minutes, ``3 min 05 s`` above."""
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


@dataclass
class ChapterResults:
    """What the page shows for one chapter: its entries of this build and how it ran."""

    docname: str
    title: str
    entries: list[Mapping[str, Any]]
    older: int
    execution: str
    problem: str | None = None  # why there is nothing to show (no file, unreadable file, ...)
    problem_kind: str | None = None  # "missing" (nothing recorded) or "file" (unreadable file)

    @property
    def slug(self) -> str:
        return slug_of(self.docname)

    @property
    def modes(self) -> list[str]:
        return sorted({str(e["mode"]) for e in self.entries})

    def targets_met(self) -> str:
        with_target = [e for e in self.entries if e.get("target") is not None]
        if not with_target:
            return "no targets"
        met = sum(met_cell(e).startswith("✓") for e in with_target)
        return f"{met} of {len(with_target)}"


def collect_chapter(folder: Path, docname: str, title: str, exec_data: Mapping[str, Any] | None, *,
                    quick: bool) -> ChapterResults:
    """Read one chapter's results file and keep what this build recorded; never raises for a bad file."""
    path = folder / f"{slug_of(docname)}.results.json"
    execution = execution_text(exec_data, quick=quick)
    if not path.exists():
        return ChapterResults(docname, title, [], 0, execution, problem_kind="missing",
                              problem=f"recorded no result in this build (no {path.name} in {folder})")
    try:
        data = load_chapter_results(path)
    except ResultsPageError as exc:
        return ChapterResults(docname, title, [], 0, execution, problem=str(exc), problem_kind="file")
    kept, older = entries_of_this_build(data["results"], exec_data)
    if not kept:
        why = (f"recorded no result in this build ({path.name} holds only {older} older "
               f"entr{'y' if older == 1 else 'ies'} from an earlier run)") if older else \
              f"recorded no result in this build ({path.name} has no entries)"
        return ChapterResults(docname, title, [], older, execution, problem=why, problem_kind="missing")
    return ChapterResults(docname, title, kept, older, execution)


def site_is_quick(chapters: Iterable[ChapterResults], environ: Mapping[str, str] = os.environ) -> bool:
    """A QUICK site: ``GENAI_QUICK`` is set, or any shown entry was recorded in QUICK mode."""
    return quick_from_environment(environ) or any("QUICK" in c.modes for c in chapters)


def machines_used(chapters: Iterable[ChapterResults]) -> list[tuple[str, list[str]]]:
    """Each distinct machine (described) with the slugs of the chapters whose entries ran on it."""
    seen: dict[str, list[str]] = {}
    for chapter in chapters:
        for entry in chapter.entries:
            where = describe_machine(entry.get("machine"))
            device = (entry.get("machine") or {}).get("device")
            if device:
                where += f"; computed on {device}"
            slugs = seen.setdefault(where, [])
            if chapter.slug not in slugs:
                slugs.append(chapter.slug)
    return list(seen.items())
