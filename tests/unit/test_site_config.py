"""The website's configuration keeps the site self-contained (issue 13).

Checks of ``_config.yml`` and the MathJax pin that need no build: the browser test
(``tests/site/test_browser.py``) checks the built pages themselves.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
SPHINX = CONFIG["sphinx"]["config"]


def _vendor_tool():
    spec = importlib.util.spec_from_file_location("vendor_site_assets", ROOT / "tools" / "vendor_site_assets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_local_extension_is_in_the_extension_list():
    # sphinx.config.extensions replaces Jupyter Book's list (to drop sphinx_thebe), so a local
    # extension that is not repeated there would silently not load.
    listed = SPHINX["extensions"]
    missing = [name for name in CONFIG["sphinx"].get("local_extensions") or {} if name not in listed]
    assert not missing, f"add {missing} to sphinx.config.extensions in _config.yml"
    assert "sphinx_thebe" not in listed, "sphinx_thebe writes `const THEBE_JS_URL` twice per page (a console error)"
    assert "sphinxcontrib.bibtex" in listed, "the bibliography needs sphinxcontrib.bibtex"


def test_the_pages_load_nothing_from_another_host():
    assert "://" not in SPHINX["mathjax_path"], "MathJax must be served by the site itself"
    for name in SPHINX.get("html_css_files", []) + SPHINX.get("html_js_files", []):
        assert "://" not in name and (ROOT / "book" / "_static" / name).is_file(), name
    assert not CONFIG["repository"]["url"], "no repository URL by default (see the comment in _config.yml)"
    assert "launch_buttons" not in CONFIG, "no launch buttons by default"


def test_mathjax_path_is_what_the_vendor_tool_installs():
    tool = _vendor_tool()
    assert SPHINX["mathjax_path"] == f"{tool.PACKAGE}/{tool.ENTRY}"
    assert "book/_vendor" in SPHINX["html_static_path"]
    assert tool.VENDOR_DIR == ROOT / "book" / "_vendor"


def test_mathjax_is_pinned_to_an_exact_3_2_release():
    lock = json.loads((ROOT / "tools" / "site-assets" / "package-lock.json").read_text(encoding="utf-8"))
    manifest = json.loads((ROOT / "tools" / "site-assets" / "package.json").read_text(encoding="utf-8"))
    entry = lock["packages"]["node_modules/mathjax"]
    assert re.fullmatch(r"3\.2\.\d+", entry["version"]), entry["version"]
    assert entry["integrity"].startswith("sha512-")
    assert manifest["dependencies"]["mathjax"] == entry["version"], "package.json and the lock file disagree"
