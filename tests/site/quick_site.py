"""The QUICK website that the site tests build once per test session, and where it is kept.

``build_quick_site`` stages what the book needs (``_config.yml``, ``_toc.yml``, ``book/``,
``exercises/``) under ``_build/quick-site/source``, reusing the chapters that nbval executed
earlier in ``make test`` (kept in ``_build/executed/``), builds it with Jupyter Book in QUICK mode
with Sphinx warnings as errors, and keeps the HTML in ``_build/quick-site/html`` (git-ignored), where
the browser test (``test_browser.py``) and ``tools/check_site.py`` find it. The build reads the
results the chapters recorded during the nbval run from ``_build/results`` (``GENAI_RESULTS_DIR``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from notebook_pipeline import EXECUTED, ROOT, chapter_notebooks  # noqa: E402

QUICK_SITE = ROOT / "_build" / "quick-site"
QUICK_SITE_HTML = QUICK_SITE / "html"
RESULTS = ROOT / "_build" / "results"
SCREENSHOTS = ROOT / "_build" / "screenshots"
BUILD_TIMEOUT_S = 1500


def stage_book(stage: Path) -> list[Path]:
    """Copy what the book needs into ``stage``; return the chapters taken pre-executed."""
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, stage / name)
    shutil.copytree(ROOT / "book", stage / "book")
    shutil.copytree(ROOT / "exercises", stage / "exercises")  # targets of the {download} links
    # the committed benchmark runs, whose tables the results page renders
    shutil.copytree(ROOT / "benchmarks" / "results", stage / "benchmarks" / "results")
    reused = []
    for chapter in chapter_notebooks():
        executed = EXECUTED / chapter
        if executed.exists() and executed.stat().st_mtime >= (ROOT / chapter).stat().st_mtime:
            shutil.copy(executed, stage / chapter)
            reused.append(chapter)
    config = yaml.safe_load((stage / "_config.yml").read_text(encoding="utf-8"))
    # Chapters already executed by nbval are rendered as they are; any other is executed now.
    config["execute"]["execute_notebooks"] = "force"
    config["execute"]["exclude_patterns"] = [str(chapter) for chapter in reused]
    (stage / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return reused


@dataclass
class SiteBuild:
    """The outcome of one QUICK build: where the HTML is, the exit status, the log."""

    html: Path
    returncode: int
    log: str
    reused: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and (self.html / "index.html").is_file()


def build_quick_site(dest: Path = QUICK_SITE) -> SiteBuild:
    """Build the QUICK site with warnings as errors into ``dest / "html"`` (replacing an older one)."""
    if dest.exists():
        shutil.rmtree(dest)
    stage = dest / "source"
    stage.mkdir(parents=True)
    # the site's own MathJax (book/_vendor, git-ignored): a no-op when `make test` has installed it
    subprocess.run([sys.executable, str(ROOT / "tools" / "vendor_site_assets.py")], check=True, timeout=600)
    reused = stage_book(stage)
    env = dict(os.environ, GENAI_QUICK="1", GENAI_PROGRESS="text", GENAI_RESULTS_DIR=str(RESULTS))
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    started = time.monotonic()
    result = subprocess.run([str(jupyter_book), "build", str(stage), "--all", "--warningiserror", "--keep-going"],
                            capture_output=True, text=True, env=env, timeout=BUILD_TIMEOUT_S)
    html = dest / "html"
    built = stage / "_build" / "html"
    if built.is_dir():
        shutil.move(str(built), str(html))
    return SiteBuild(html, result.returncode, result.stdout + result.stderr, reused, time.monotonic() - started)
