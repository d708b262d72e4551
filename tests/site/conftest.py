"""The QUICK site, built once per test session for ``test_site.py`` and ``test_browser.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quick_site import SiteBuild, build_quick_site  # noqa: E402


@pytest.fixture(scope="session")
def quick_site() -> SiteBuild:
    """The QUICK site build (``_build/quick-site/html``); its tests assert that it succeeded."""
    return build_quick_site()
