"""Install the browser assets the website serves itself (MathJax) into ``book/_vendor/`` (git-ignored).

The book's pages must typeset their mathematics without reaching any other host, so
MathJax is not loaded from a CDN: this script installs the exact version pinned in
``tools/site-assets/package-lock.json`` with ``npm ci`` (which checks the tarball
against the lock file's integrity hash) and copies the browser part of it (the
``es5/`` components, fonts, extensions and licence) into ``book/_vendor/mathjax/``.
``_config.yml`` adds ``book/_vendor`` to Sphinx's static paths and points
``mathjax_path`` at the copy, so every build serves it from ``_static/mathjax/``.

Usage (``make book``, ``make book-quick`` and ``make test`` run it first)::

    python tools/vendor_site_assets.py           # install if missing or out of date
    python tools/vendor_site_assets.py --check   # exit 1 if missing or out of date, install nothing
    python tools/vendor_site_assets.py --force   # reinstall

A second run with the copy already in place does nothing and takes milliseconds.
To move to another MathJax 3.2.x: edit the version in ``tools/site-assets/package.json``,
run ``npm install --package-lock-only`` in ``tools/site-assets/``, commit both files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST_DIR = ROOT / "tools" / "site-assets"
VENDOR_DIR = ROOT / "book" / "_vendor"
PACKAGE = "mathjax"
DEST = VENDOR_DIR / PACKAGE
STAMP = DEST / ".vendored.json"
# The combined component the pages load (TeX and MathML input, CommonHTML output, menu).
ENTRY = "tex-mml-chtml.js"
# What the browser may fetch from es5/ after the entry file: TeX extensions loaded on demand
# (autoload), the fonts, the other renderer and the accessibility tools the menu can switch on.
# The other combined bundles and the Node.js entry points are left out.
BROWSER_PARTS = ("input", "output", "a11y", "ui", "sre")


class VendorError(RuntimeError):
    """Installing the site assets failed; the message says what to do."""


def pinned() -> dict[str, str]:
    """The version and integrity hash of MathJax recorded in the committed lock file."""
    lock_path = MANIFEST_DIR / "package-lock.json"
    try:
        lock = json.loads(lock_path.read_text(encoding="utf-8"))
        entry = lock["packages"][f"node_modules/{PACKAGE}"]
        return {"package": PACKAGE, "version": entry["version"], "integrity": entry["integrity"]}
    except (OSError, ValueError, KeyError) as error:
        raise VendorError(f"{lock_path} does not pin {PACKAGE} (version and integrity): {error}") from error


def up_to_date(expected: dict[str, str]) -> bool:
    """Whether ``book/_vendor/mathjax`` holds the pinned version, complete."""
    try:
        recorded = json.loads(STAMP.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return recorded == expected and (DEST / ENTRY).is_file()


def npm_install(workdir: Path) -> Path:
    """Run ``npm ci`` on a copy of the manifest in ``workdir``; return the installed package folder."""
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError(
            "npm is needed once to install MathJax for the website (the book serves it itself, offline).\n"
            "Install Node.js with npm (Debian/Ubuntu: `apt-get install npm`; macOS: `brew install node`;\n"
            "or https://nodejs.org), then run this command again.")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(MANIFEST_DIR / name, workdir / name)
    command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        raise VendorError(
            f"`npm {' '.join(command[1:])}` failed (exit {result.returncode}); it downloads MathJax from the npm "
            f"registry once and checks it against the lock file. npm says:\n"
            f"{(result.stdout + result.stderr).strip()[-3000:]}")
    return workdir / "node_modules" / PACKAGE


def copy_browser_files(package_dir: Path, expected: dict[str, str]) -> None:
    """Copy the entry file, the parts the browser loads and the licence into ``DEST``, then write the stamp."""
    installed = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))["version"]
    if installed != expected["version"]:
        raise VendorError(f"npm installed {PACKAGE} {installed}, the lock file pins {expected['version']}")
    es5 = package_dir / "es5"
    staging = VENDOR_DIR / f".{PACKAGE}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shutil.copy(es5 / ENTRY, staging / ENTRY)
    for part in BROWSER_PARTS:
        shutil.copytree(es5 / part, staging / part)
    shutil.copy(package_dir / "LICENSE", staging / "LICENSE")
    (staging / ".vendored.json").write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(DEST, ignore_errors=True)
    staging.rename(DEST)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="report whether the copy is in place; install nothing")
    group.add_argument("--force", action="store_true", help="reinstall even if the copy is up to date")
    args = parser.parse_args(argv)
    try:
        expected = pinned()
        label = f"{PACKAGE} {expected['version']}"
        where = DEST.relative_to(ROOT)
        if not args.force and up_to_date(expected):
            print(f"{label} is in place in {where}")
            return 0
        if args.check:
            print(f"{label} is missing or out of date in {where}: run `python tools/vendor_site_assets.py`",
                  file=sys.stderr)
            return 1
        with tempfile.TemporaryDirectory(prefix="site-assets-") as workdir:
            copy_browser_files(npm_install(Path(workdir)), expected)
        print(f"installed {label} into {where}")
        return 0
    except VendorError as error:
        print(f"vendor_site_assets: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
