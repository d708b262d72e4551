"""The website builds in QUICK mode with Sphinx warnings as errors.

The chapters executed by nbval earlier in ``make test`` (kept in
``_build/executed/``) are rendered as they are (excluded from execution);
a chapter missing there is executed by Jupyter Book itself in QUICK mode. Either way a notebook that
raises, a broken reference or citation, or any other warning fails the build.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from notebook_pipeline import EXECUTED, ROOT, chapter_notebooks, toc_files  # noqa: E402


def _stage(stage: Path) -> list[Path]:
    """Copy what the book needs into ``stage``; return the chapters taken pre-executed."""
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, stage / name)
    shutil.copytree(ROOT / "book", stage / "book")
    shutil.copytree(ROOT / "exercises", stage / "exercises")  # targets of the {download} links
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


def test_quick_site_builds_without_warnings(tmp_path):
    stage = tmp_path / "site"
    stage.mkdir()
    reused = _stage(stage)
    env = dict(os.environ, GENAI_QUICK="1", GENAI_PROGRESS="text")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    jb = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run([str(jb), "build", str(stage), "--all", "--warningiserror", "--keep-going"],
                            capture_output=True, text=True, env=env, timeout=1500)
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"the book build failed (reused executed chapters: {reused}):\n{log[-6000:]}"

    html = stage / "_build" / "html"
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
