"""Project metadata: environment.yml and pyproject.toml name the same dependencies."""

import re
import sys
from pathlib import Path

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def _normalise(requirement: str) -> tuple[str, str]:
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    return re.sub(r"[-_.]+", "-", name).lower(), spec.replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(entry["pip"] for entry in conda["dependencies"] if isinstance(entry, dict))
    from_conda = dict(_normalise(r) for r in pip_section if not r.startswith("-e"))
    from_pyproject = dict(_normalise(r) for r in project["dependencies"])
    assert from_conda == from_pyproject, (
        f"only in environment.yml: {sorted(set(from_conda.items()) - set(from_pyproject.items()))}; "
        f"only in pyproject.toml: {sorted(set(from_pyproject.items()) - set(from_conda.items()))}"
    )
    assert "-e ." in [r.split("#")[0].strip() for r in pip_section]


def test_required_packages_are_declared_and_importable():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_normalise(r)[0] for r in project["dependencies"]}
    for required in ["jupyter-book", "torch", "torchvision", "nbgrader", "papermill", "pytest", "nbval"]:
        assert required in names, f"{required} is missing from pyproject.toml"
    jb_spec = dict(_normalise(r) for r in project["dependencies"])["jupyter-book"]
    assert "<2" in jb_spec, "the book is a Jupyter Book 1.x project (it reads _config.yml)"
    import jupyter_book
    import torchvision  # the regular build imports; the local CPU-only torch wheel would break this

    assert jupyter_book.__version__.startswith("1.")
    assert torchvision.__version__


def test_ci_calls_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in ci and "make test" in readme
