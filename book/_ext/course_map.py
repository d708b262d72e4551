"""The course map: chapter front matter, what follows from it, and the Sphinx directive that shows it.

Every notebook named in ``_toc.yml`` is a chapter, and its notebook metadata carries a ``course`` key::

    "course": {
      "short_title": "DDPM",                      # the label of its node in the graph
      "prerequisites": ["unet", "losses"],         # slugs (file names) of chapters to read first
      "objectives": ["Train a noise predictor ...", ...],   # 2 to 5 short sentences, each starting with a verb
      "study_hours": 8,                            # reading, running the code and the exercise
      "exercise": {"notebook": "exercises/ddpm/ddpm.ipynb"}
    }

Everything else is derived, never typed twice: the chapter's number and part from its place in
``_toc.yml``, its title from its first heading, the exercise's points from the nbgrader metadata of
the exercise notebook (the sum of the points of its graded cells). From these the module computes the
prerequisite graph, two reading paths (both topological orders of the graph) and a weekly schedule,
and the ``course-map`` directive renders them on ``book/course-map.md``::

    ```{course-map} graph        (or: table, paths, schedule)
    ```

A new chapter only needs its entry in ``_toc.yml`` and its front matter to appear everywhere.
Invalid front matter stops the build with a message that names every problem.
"""

from __future__ import annotations

import html
import io
import json
import posixpath
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import yaml

FRONT_MATTER_KEY = "course"
WEEKS = 13
MIN_OBJECTIVES, MAX_OBJECTIVES = 2, 5
MAX_OBJECTIVE_WORDS = 20

# Verbs an objective may start with (an objective says what the reader will be able to *do*).
# A new objective that starts with another verb: add the verb here.
OBJECTIVE_VERBS = frozenset("""
    Adapt Analyse Apply Assemble Attack Build Certify Check Choose Classify Compare Compute Condition
    Calculate Connect Construct Contrast Convert Cut Debug Decode Define Derive Describe Design Diagnose
    Discuss Distil Draw Encode Estimate
    Evaluate Explain Factorise Fine-tune Fit Identify Implement Integrate Interpret Map Measure Place
    Plan Predict Profile Prove Quantise Read Recognise Relate Run Sample Select Serve Show Simulate Solve
    Split State Summarise Test
    Trace Train Tune Unroll Use Verify Visualise Write
""".split())

# Reading order of the parts in the architectures-first path: networks before the methods that use them.
ARCHITECTURES_FIRST_PART_ORDER = ("Architectures", "Algorithms", "Appendices")


class FrontMatterError(ValueError):
    """The chapters' front matter is missing or invalid; the message lists every problem found."""


@dataclass(frozen=True)
class Chapter:
    """One chapter as the course map sees it (front matter plus what is derived from the book)."""

    slug: str  # file name without suffix, e.g. "ddpm"
    docname: str  # Sphinx document name, e.g. "book/algorithms/ddpm"
    number: int  # position among the chapters of _toc.yml, from 1
    part: str  # caption of its part in _toc.yml, e.g. "Part I: Algorithms"
    title: str
    short_title: str
    prerequisites: tuple[str, ...]
    objectives: tuple[str, ...]
    study_hours: float
    exercise: str  # path of the exercise notebook, relative to the book root
    exercise_points: int

    @property
    def label(self) -> str:
        return f"{self.number}. {self.short_title}"


# --------------------------------------------------------------------------- reading the book

def chapter_entries(root: Path) -> list[tuple[str, str]]:
    """(docname, part caption) of every notebook in ``root/_toc.yml``, in book order."""
    toc_path = root / "_toc.yml"
    if not toc_path.exists():
        raise FrontMatterError(f"no table of contents at {toc_path}")
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    found: list[tuple[str, str]] = []

    def walk(entries, caption):
        for entry in entries or []:
            name = entry.get("file")
            if name and (root / f"{name}.ipynb").exists():
                found.append((posixpath.normpath(name), caption))
            walk(entry.get("sections"), caption)
            walk(entry.get("chapters"), caption)

    for part in toc.get("parts") or []:
        walk(part.get("chapters"), part.get("caption", ""))
    walk(toc.get("chapters"), "")
    return found


def exercise_points(notebook: Path) -> int:
    """Sum of the ``points`` of the nbgrader-graded cells of ``notebook``."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    total = 0
    for cell in nb["cells"]:
        grading = cell.get("metadata", {}).get("nbgrader", {})
        if grading.get("grade"):
            total += grading.get("points", 0)
    return total


def _heading_title(nb: dict) -> tuple[int | None, str | None]:
    """(number, title) from a first heading that reads ``# <number>. <title>``."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = "".join(cell.get("source", []))
        match = re.match(r"\s*#\s+(?:(\d+)\.\s+)?(.+)", source)
        if match:
            return (int(match.group(1)) if match.group(1) else None), match.group(2).strip()
        break
    return None, None


def validate_front_matter(slug: str, front: object, chapter_slugs: set[str], root: Path) -> list[str]:
    """Problems with one chapter's front matter (an empty list when it is valid)."""
    where = f"chapter '{slug}'"
    if front is None:
        return [f"{where}: its notebook metadata has no '{FRONT_MATTER_KEY}' key (the front matter)"]
    if not isinstance(front, dict):
        return [f"{where}: '{FRONT_MATTER_KEY}' must be a mapping, got {type(front).__name__}"]
    problems = []
    expected = {"short_title", "prerequisites", "objectives", "study_hours", "exercise"}
    for key in sorted(expected - front.keys()):
        problems.append(f"{where}: front matter lacks '{key}'")
    for key in sorted(front.keys() - expected):
        problems.append(f"{where}: unknown front-matter key '{key}' (expected {sorted(expected)})")

    short = front.get("short_title")
    if "short_title" in front and (not isinstance(short, str) or not short.strip() or len(short) > 30):
        problems.append(f"{where}: short_title must be a non-empty string of at most 30 characters")

    prereqs = front.get("prerequisites", [])
    if not isinstance(prereqs, list) or not all(isinstance(p, str) for p in prereqs):
        problems.append(f"{where}: prerequisites must be a list of chapter slugs")
    else:
        for name in prereqs:
            if name == slug:
                problems.append(f"{where}: lists itself as a prerequisite")
            elif name not in chapter_slugs:
                problems.append(f"{where}: prerequisite '{name}' is not a chapter of _toc.yml "
                                f"(chapters: {', '.join(sorted(chapter_slugs))})")
        if len(set(prereqs)) != len(prereqs):
            problems.append(f"{where}: a prerequisite is listed twice")

    objectives = front.get("objectives", [])
    if not isinstance(objectives, list) or not all(isinstance(o, str) for o in objectives):
        problems.append(f"{where}: objectives must be a list of sentences")
    else:
        if not MIN_OBJECTIVES <= len(objectives) <= MAX_OBJECTIVES and "objectives" in front:
            problems.append(f"{where}: has {len(objectives)} objectives, expected "
                            f"{MIN_OBJECTIVES} to {MAX_OBJECTIVES}")
        for sentence in objectives:
            words = sentence.split()
            first = words[0].rstrip(",;:") if words else ""
            if first not in OBJECTIVE_VERBS:
                problems.append(f"{where}: objective {sentence!r} must start with a verb such as 'Explain' "
                                f"(got {first!r}; known verbs are listed in OBJECTIVE_VERBS)")
            if not sentence.endswith("."):
                problems.append(f"{where}: objective {sentence!r} must be a sentence ending with '.'")
            if len(words) > MAX_OBJECTIVE_WORDS:
                problems.append(f"{where}: objective {sentence!r} has {len(words)} words, "
                                f"at most {MAX_OBJECTIVE_WORDS}")

    hours = front.get("study_hours")
    if "study_hours" in front and (isinstance(hours, bool) or not isinstance(hours, (int, float))
                                   or not hours > 0):
        problems.append(f"{where}: study_hours must be a positive number, got {hours!r}")

    exercise = front.get("exercise")
    if "exercise" in front:
        notebook = exercise.get("notebook") if isinstance(exercise, dict) else None
        if not isinstance(notebook, str):
            problems.append(f"{where}: exercise must be a mapping with a 'notebook' path")
        elif not (root / notebook).is_file():
            problems.append(f"{where}: exercise notebook {notebook} does not exist")
    return problems


def find_cycle(prerequisites: dict[str, tuple[str, ...]]) -> list[str] | None:
    """A cycle of the prerequisite relation as a list of slugs (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in prerequisites.get(node, ()):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        state[node] = 2
        path.pop()
        return None

    for node in prerequisites:
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def load_chapters(root: Path) -> list[Chapter]:
    """Read and validate the front matter of every chapter of the book rooted at ``root``."""
    root = Path(root)
    entries = chapter_entries(root)
    if not entries:
        raise FrontMatterError(f"_toc.yml in {root} names no notebook")
    slugs = [posixpath.basename(doc) for doc, _ in entries]
    duplicates = sorted({s for s in slugs if slugs.count(s) > 1})
    if duplicates:
        raise FrontMatterError(f"two chapters share a file name: {duplicates}")
    problems, chapters = [], []
    for number, ((docname, part), slug) in enumerate(zip(entries, slugs), start=1):
        nb = json.loads((root / f"{docname}.ipynb").read_text(encoding="utf-8"))
        front = nb.get("metadata", {}).get(FRONT_MATTER_KEY)
        found = validate_front_matter(slug, front, set(slugs), root)
        heading_number, title = _heading_title(nb)
        if title is None:
            found.append(f"chapter '{slug}': the notebook does not start with a '# <number>. <title>' heading")
        elif heading_number != number:
            found.append(f"chapter '{slug}': its heading is numbered {heading_number}, but it is chapter "
                         f"{number} in _toc.yml")
        problems += found
        if found:
            continue
        chapters.append(Chapter(
            slug=slug, docname=docname, number=number, part=part, title=title,
            short_title=front["short_title"], prerequisites=tuple(front["prerequisites"]),
            objectives=tuple(front["objectives"]), study_hours=float(front["study_hours"]),
            exercise=front["exercise"]["notebook"],
            exercise_points=exercise_points(root / front["exercise"]["notebook"])))
    if not problems:
        cycle = find_cycle({c.slug: c.prerequisites for c in chapters})
        if cycle:
            problems.append("the prerequisites form a cycle: " + " needs ".join(cycle))
    if problems:
        raise FrontMatterError("invalid course front matter:\n  " + "\n  ".join(problems))
    return chapters


# --------------------------------------------------------------------------- the graph and the paths

def ancestors(chapters: list[Chapter]) -> dict[str, set[str]]:
    """Every chapter's direct and indirect prerequisites."""
    direct = {c.slug: c.prerequisites for c in chapters}
    memo: dict[str, set[str]] = {}

    def collect(slug):
        if slug not in memo:
            memo[slug] = set()
            for p in direct[slug]:
                memo[slug] |= {p} | collect(p)
        return memo[slug]

    return {c.slug: collect(c.slug) for c in chapters}


def drawn_edges(chapters: list[Chapter]) -> list[tuple[str, str]]:
    """(prerequisite, chapter) pairs of the transitive reduction: an edge implied by a longer path is left out."""
    anc = ancestors(chapters)
    edges = []
    for c in chapters:
        for p in c.prerequisites:
            if not any(p in anc[q] for q in c.prerequisites if q != p):
                edges.append((p, c.slug))
    return edges


def is_topological(order: list[str], chapters: list[Chapter]) -> bool:
    """True when ``order`` lists every chapter once and each after all its prerequisites."""
    position = {slug: i for i, slug in enumerate(order)}
    if sorted(order) != sorted(c.slug for c in chapters):
        return False
    return all(position[p] < position[c.slug] for c in chapters for p in c.prerequisites)


def algorithms_first_path(chapters: list[Chapter]) -> list[str]:
    """The book's order, with each chapter's unread prerequisites read just before it (depth first)."""
    by_slug = {c.slug: c for c in chapters}
    order: list[str] = []

    def place(slug):
        if slug in order:
            return
        for p in sorted(by_slug[slug].prerequisites, key=lambda s: by_slug[s].number):
            place(p)
        order.append(slug)

    for c in chapters:
        place(c.slug)
    return order


def _part_rank(part: str) -> int:
    for rank, word in enumerate(ARCHITECTURES_FIRST_PART_ORDER):
        if word.lower() in part.lower():
            return rank
    return len(ARCHITECTURES_FIRST_PART_ORDER)


def architectures_first_path(chapters: list[Chapter]) -> list[str]:
    """Bottom-up: of the chapters whose prerequisites are read, always the next architecture chapter
    if there is one, then the next algorithm, then the next appendix (Kahn's algorithm with priorities)."""
    remaining = {c.slug: set(c.prerequisites) for c in chapters}
    key = {c.slug: (_part_rank(c.part), c.number) for c in chapters}
    order: list[str] = []
    while remaining:
        ready = [s for s, needs in remaining.items() if not needs]
        nxt = min(ready, key=key.__getitem__)  # never empty: load_chapters rejects cycles
        order.append(nxt)
        del remaining[nxt]
        for needs in remaining.values():
            needs.discard(nxt)
    return order


def weekly_schedule(order: list[str], chapters: list[Chapter], weeks: int = WEEKS) -> list[list[str]]:
    """Split ``order`` into ``weeks`` consecutive groups whose study hours are as equal as possible
    (least squares around the mean, by dynamic programming). Consecutive groups of a topological
    order keep every prerequisite in an earlier week or earlier in the same week."""
    if not 1 <= weeks <= len(order):
        raise ValueError(f"cannot spread {len(order)} chapters over {weeks} weeks")
    hours = {c.slug: c.study_hours for c in chapters}
    prefix = [0.0]
    for slug in order:
        prefix.append(prefix[-1] + hours[slug])
    mean = prefix[-1] / weeks
    n, inf = len(order), float("inf")
    cost = [[inf] * (n + 1) for _ in range(weeks + 1)]  # cost[w][i]: first i chapters in w weeks
    cut = [[0] * (n + 1) for _ in range(weeks + 1)]
    cost[0][0] = 0.0
    for w in range(1, weeks + 1):
        for i in range(w, n + 1):
            for j in range(w - 1, i):
                c = cost[w - 1][j] + (prefix[i] - prefix[j] - mean) ** 2
                if c < cost[w][i]:
                    cost[w][i], cut[w][i] = c, j
    groups, i = [], n
    for w in range(weeks, 0, -1):
        j = cut[w][i]
        groups.append(order[j:i])
        i = j
    return groups[::-1]


# --------------------------------------------------------------------------- the figure

PART_COLOURS = {0: "#d9ead3", 1: "#cfe2f3", 2: "#fce5cd", 3: "#eeeeee"}  # by _part_rank
NODE_W, NODE_H, GAP_X, GAP_Y, MARGIN = 112.0, 44.0, 12.0, 40.0, 12.0


def _layers(chapters: list[Chapter]) -> dict[str, int]:
    """Depth of each chapter: the length of the longest chain of prerequisites below it."""
    by_slug = {c.slug: c for c in chapters}
    depth: dict[str, int] = {}

    def visit(slug):
        if slug not in depth:
            depth[slug] = 1 + max((visit(p) for p in by_slug[slug].prerequisites), default=-1)
        return depth[slug]

    for c in chapters:
        visit(c.slug)
    return depth


def graph_layout(chapters: list[Chapter]):
    """Layered layout: rows by depth, an edge spanning several rows routed through waypoints,
    rows ordered by the barycentre heuristic to reduce crossings.
    Returns (node centres {slug: (x, y)}, edge polylines [(src, dst, [(x, y), ...])], width, height)."""
    depth = _layers(chapters)
    number = {c.slug: c.number for c in chapters}
    rows: dict[int, list[str]] = {}
    for c in chapters:
        rows.setdefault(depth[c.slug], []).append(c.slug)
    routes = []  # (src, dst, [ids of the vertices along the edge])
    for src, dst in drawn_edges(chapters):
        ids = [src]
        for level in range(depth[src] + 1, depth[dst]):
            waypoint = f"{src}>{dst}@{level}"
            rows[level].append(waypoint)
            ids.append(waypoint)
        routes.append((src, dst, ids + [dst]))
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for _, _, ids in routes:
        for a, b in zip(ids, ids[1:]):
            down.setdefault(a, []).append(b)
            up.setdefault(b, []).append(a)
    levels = sorted(rows)
    for level in levels:
        rows[level].sort(key=lambda v: number.get(v, 0))
    for sweep in range(8):  # alternate downward and upward barycentre sweeps
        forward = sweep % 2 == 0
        for level in (levels[1:] if forward else levels[-2::-1]):
            neighbours = up if forward else down
            reference = rows[level - 1] if forward else rows[level + 1]
            pos = {v: i for i, v in enumerate(reference)}
            current = {v: i for i, v in enumerate(rows[level])}

            def bary(v):
                linked = [pos[u] for u in neighbours.get(v, []) if u in pos]
                return sum(linked) / len(linked) if linked else current[v]

            rows[level].sort(key=lambda v: (bary(v), current[v]))

    def width_of(v):
        return NODE_W if v in number else 6.0

    # x: start from evenly packed rows, then pull every vertex towards the mean x of its neighbours
    # while keeping each row's order and spacing (a few relaxation passes).
    x: dict[str, float] = {}
    for lv in levels:
        pos = 0.0
        for v in rows[lv]:
            x[v] = pos + width_of(v) / 2
            pos += width_of(v) + GAP_X
    for _ in range(30):
        for lv in levels:
            row = rows[lv]
            want = []
            for v in row:
                linked = [x[u] for u in up.get(v, []) + down.get(v, [])]
                want.append(sum(linked) / len(linked) if linked else x[v])
            seps = [(width_of(a) + width_of(b)) / 2 + GAP_X for a, b in zip(row, row[1:])]
            placed = want[:]  # keep the order: push right where two vertices come too close
            for i in range(1, len(row)):
                placed[i] = max(placed[i], placed[i - 1] + seps[i - 1])
            drift = sum(p - w for p, w in zip(placed, want)) / len(row)  # then re-centre the row
            for v, p in zip(row, placed):
                x[v] = p - drift
    shift = MARGIN - min(x[v] - width_of(v) / 2 for v in x)
    total_w = max(x[v] + width_of(v) / 2 for v in x) + shift + MARGIN
    xy: dict[str, tuple[float, float]] = {}
    for lv in levels:
        y = MARGIN + NODE_H / 2 + lv * (NODE_H + GAP_Y)
        for v in rows[lv]:
            xy[v] = (x[v] + shift, y)
    total_h = 2 * MARGIN + len(levels) * NODE_H + (len(levels) - 1) * GAP_Y
    polylines = []
    for src, dst, ids in routes:
        points = [(xy[src][0], xy[src][1] + NODE_H / 2)]
        points += [xy[v] for v in ids[1:-1]]
        points.append((xy[dst][0], xy[dst][1] - NODE_H / 2))
        polylines.append((src, dst, points))
    nodes = {v: p for v, p in xy.items() if v in number}
    return nodes, polylines, total_w, total_h


def graph_svg(chapters: list[Chapter], href: dict[str, str], title: str) -> str:
    """The prerequisite graph as an inline SVG (opaque white background), each node a link to ``href[slug]``."""
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot: no global figure state, no backend switch
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
    from matplotlib.path import Path as MplPath

    nodes, polylines, width, height = graph_layout(chapters)
    legend_h = 30.0
    height += legend_h
    dpi = 100
    with matplotlib.rc_context({"svg.hashsalt": "course-map", "svg.fonttype": "path"}):
        fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor="white")
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, width)
        ax.set_ylim(height - legend_h, -legend_h)  # y grows downwards, the legend above row 0
        ax.axis("off")
        for src, dst, points in polylines:
            codes = [MplPath.MOVETO] + [MplPath.LINETO] * (len(points) - 1)
            ax.add_patch(FancyArrowPatch(path=MplPath(points, codes), arrowstyle="-|>", mutation_scale=10,
                                         color="#555555", linewidth=0.9, zorder=1))
        for c in chapters:
            x, y = nodes[c.slug]
            box = FancyBboxPatch((x - NODE_W / 2, y - NODE_H / 2), NODE_W, NODE_H,
                                 boxstyle="round,pad=0,rounding_size=6", linewidth=1.0,
                                 facecolor=PART_COLOURS[_part_rank(c.part)], edgecolor="#333333", zorder=2)
            box.set_url(href[c.slug])
            ax.add_patch(box)
            text = ax.text(x, y, textwrap.fill(c.label, 17), ha="center", va="center", fontsize=9,
                           color="#111111", zorder=3)
            text.set_url(href[c.slug])
        parts = list(dict.fromkeys(c.part for c in chapters))  # in book order
        ax.legend(handles=[Patch(facecolor=PART_COLOURS[_part_rank(p)], edgecolor="#333333", label=p)
                           for p in parts],
                  loc="upper center", bbox_to_anchor=(0.5, 1.0), ncol=len(parts), frameon=False, fontsize=9,
                  labelcolor="#111111")
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", facecolor="white", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{html.escape(title)}" '
                               'style="display:block; width:100%; min-width:640px; height:auto" ', 1)
    return svg


# --------------------------------------------------------------------------- Sphinx

def _book_root(app) -> Path:
    configured = app.config.course_map_root
    return Path(configured) if configured else Path(app.srcdir)


def _sphinx_directive():
    from docutils import nodes
    from sphinx import addnodes
    from sphinx.errors import ExtensionError, NoUri
    from sphinx.util.docutils import SphinxDirective

    def chapter_link(chapter: Chapter, label: str | None = None):
        ref = addnodes.pending_xref("", refdomain="std", reftype="doc", reftarget="/" + chapter.docname,
                                    refexplicit=True, refwarn=True)
        ref += nodes.inline("", label or chapter.label)
        return ref

    def exercise_link(chapter: Chapter, docname: str, label: str | None = None):
        """A download link to the exercise notebook (what the chapter pages' {download} role makes),
        showing the notebook's file name or ``label``."""
        ref = addnodes.download_reference("", "", refdoc=docname, reftarget="/" + chapter.exercise,
                                          refexplicit=True, refdomain="", reftype="download", refwarn=True)
        ref += nodes.inline("", label) if label else nodes.literal("", posixpath.basename(chapter.exercise))
        return ref

    def hours(value: float) -> str:
        return f"{value:g}"

    def table(headers, rows, widths):
        tgroup = nodes.tgroup(cols=len(headers))
        for w in widths:
            tgroup += nodes.colspec(colwidth=w)
        head = nodes.thead()
        row = nodes.row()
        for h in headers:
            row += nodes.entry("", nodes.paragraph("", h))
        head += row
        tgroup += head
        body = nodes.tbody()
        for cells in rows:
            row = nodes.row()
            for cell in cells:  # a list of inline nodes (one paragraph) or one block node (a list)
                content = nodes.paragraph("", "", *cell) if isinstance(cell, list) else cell
                row += nodes.entry("", content)
            body += row
        tgroup += body
        result = nodes.table(classes=["course-map-table", "colwidths-given"])
        result += tgroup
        return result

    def text(value: str):
        return nodes.Text(value)

    def links(chapters: list[Chapter], separator: str = ", "):
        out = []
        for i, c in enumerate(chapters):
            if i:
                out.append(text(separator))
            out.append(chapter_link(c))
        return out

    class CourseMapDirective(SphinxDirective):
        """``{course-map} graph|table|paths|schedule``: one generated part of the course-map page."""

        required_arguments = 1
        has_content = False

        def run(self):
            what = self.arguments[0]
            root = _book_root(self.env.app)
            try:
                chapters = load_chapters(root)
            except FrontMatterError as error:
                raise ExtensionError(str(error)) from None
            for c in chapters:  # rebuild this page when a chapter's front matter or exercise changes
                self.env.note_dependency(str(root / f"{c.docname}.ipynb"))
                self.env.note_dependency(str(root / c.exercise))
            by_slug = {c.slug: c for c in chapters}
            render = {"graph": self.graph, "table": self.table, "paths": self.paths,
                      "schedule": self.schedule}.get(what)
            if render is None:
                raise self.error(f"course-map: unknown part {what!r}; expected one of graph, table, paths, "
                                 "schedule")
            return render(chapters, by_slug)

        def graph(self, chapters, by_slug):
            builder = self.env.app.builder
            href = {}
            for c in chapters:
                try:
                    href[c.slug] = builder.get_relative_uri(self.env.docname, c.docname)
                except NoUri:  # a builder without pages for documents: the links are not used
                    href[c.slug] = c.docname
            title = (f"Prerequisite graph of the {len(chapters)} chapters: an arrow runs from a chapter to "
                     "one that builds on it; each box links to its chapter.")
            svg = graph_svg(chapters, href, title)
            box = ('<div class="course-map-graph" style="overflow-x:auto; max-width:100%; background:#ffffff; '
                   f'border-radius:4px; padding:4px">{svg}</div>')
            figure = nodes.figure(classes=["course-map-figure"])
            figure += nodes.raw("", box, format="html")
            caption = nodes.caption("", "")
            caption += text(f"The prerequisites of the {len(chapters)} chapters. An arrow runs from a chapter "
                            "to one that builds on it (an arrow implied by a longer chain is left out); rows "
                            "go from chapters that need nothing at the top to those that need the most at the "
                            "bottom, coloured by part. Select a box to open its chapter. On a narrow screen, "
                            "scroll the figure sideways.")
            figure += caption
            return [figure]

        def table(self, chapters, by_slug):
            rows = []
            for c in chapters:
                goals = nodes.bullet_list()
                for sentence in c.objectives:
                    goals += nodes.list_item("", nodes.paragraph("", sentence))
                needs = links([by_slug[p] for p in c.prerequisites]) or [text("none")]
                rows.append([[chapter_link(c, f"{c.number}. {c.title}")], needs, goals,
                             [text(hours(c.study_hours))],
                             [exercise_link(c, self.env.docname, f"{c.exercise_points} points")]])
            total_hours = sum(c.study_hours for c in chapters)
            total_points = sum(c.exercise_points for c in chapters)
            intro = nodes.paragraph("", f"{len(chapters)} chapters, {hours(total_hours)} study hours and "
                                        f"{total_points} exercise points in all. Select the points to download "
                                        "a chapter's exercise notebook.")
            return [intro, table(["Chapter", "Read first", "You will be able to", "Hours", "Exercise"],
                                 rows, [20, 18, 46, 6, 10])]

        def paths(self, chapters, by_slug):
            first = algorithms_first_path(chapters)
            second = architectures_first_path(chapters)
            for name, order in (("algorithms first", first), ("architectures first", second)):
                if not is_topological(order, chapters):
                    raise ExtensionError(f"course map: the {name} path breaks a prerequisite: {order}")
            book_position = {c.slug: c.number for c in chapters}
            early = [by_slug[s] for i, s in enumerate(first)
                     if any(book_position[t] < book_position[s] for t in first[i + 1:])]
            note = nodes.paragraph()
            note += text("Both paths read every chapter after its prerequisites. In the first, these "
                         "chapters come before their place in the book, just before the first chapter "
                         "that needs them: ")
            note += links(early)
            note += text(".")
            rows = [[[text(str(i))], [chapter_link(by_slug[a])], [chapter_link(by_slug[b])]]
                    for i, (a, b) in enumerate(zip(first, second), start=1)]
            return [note, table(["Step", "Algorithms first (the book's order)", "Architectures first (bottom-up)"],
                                rows, [8, 46, 46])]

        def schedule(self, chapters, by_slug):
            order = algorithms_first_path(chapters)
            weeks = weekly_schedule(order, chapters)
            loads = [sum(by_slug[s].study_hours for s in week) for week in weeks]
            intro = nodes.paragraph("", (
                f"The algorithms-first path in {len(weeks)} weeks of {hours(min(loads))} to {hours(max(loads))} "
                f"study hours (mean {sum(loads) / len(weeks):.1f}); each week's exercises belong to its "
                "chapters, and a chapter's prerequisites come in an earlier week or earlier in the same week."))
            rows = []
            for number, (week, load) in enumerate(zip(weeks, loads), start=1):
                exercises = []
                for i, slug in enumerate(week):
                    c = by_slug[slug]
                    if i:
                        exercises.append(text("; "))
                    exercises += [exercise_link(c, self.env.docname), text(f" ({c.exercise_points} points)")]
                rows.append([[text(str(number))], links([by_slug[s] for s in week], "; "), exercises,
                             [text(hours(load))]])
            return [intro, table(["Week", "Chapters", "Exercises", "Hours"], rows, [8, 40, 42, 10])]

    return CourseMapDirective


def setup(app):
    app.add_config_value("course_map_root", "", "env")
    app.add_directive("course-map", _sphinx_directive())
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
