"""Check the built website the way a reader sees it, in headless Chromium, offline.

    python tools/check_site.py _build/html [--screenshots _build/screenshots] [--pages book/intro ...]

The folder is served on 127.0.0.1 and every page of ``_toc.yml`` is opened in Debian's
Chromium driven by Selenium (``/usr/bin/chromium`` and its matching ``/usr/bin/chromedriver``;
``make browser-deps`` installs both). Requests to any other host are blocked, as on a machine
without internet, and recorded. A page fails when it shows

- ``console``: a console error or an uncaught exception (browser log level SEVERE);
- ``offline``: a request to a host other than the local server;
- ``maths``: maths left untypeset (raw ``$...$``, ``\\(``, ``\\[`` or ``\\begin{`` in the text
  outside code) or a MathJax error node, once MathJax has finished;
- ``image``: an image that did not load (``naturalWidth == 0``);
- ``figure``: a figure in the content with neither alt text nor a caption (the book's
  captions are the paragraph starting with "Figure" after the cell that draws it);
- ``link``: an internal link to a missing file or to a missing ``#anchor`` (read from the
  built HTML, no browser needed);
- ``phone``: a page wider than a 390-pixel phone viewport (the whole page scrolls sideways);
- ``dark``: the dark theme not taking effect, or a figure with dark ink on a transparent
  background (unreadable on the dark page);
- ``search``: ``search.html?q=gradient`` finding nothing.

It prints one line per failure (page, check, what and where) and a summary of what it looked
at, and exits with status 1 when anything failed. With ``--screenshots DIR`` it saves a
full-page screenshot of every page in the light theme and one in the dark theme (height
capped), and ``contact-sheet.png`` / ``contact-sheet-dark.png``: all pages at a glance.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import json
import re
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator
from urllib.parse import unquote, urlsplit

REPO = Path(__file__).resolve().parent.parent
DESKTOP = (1280, 900)
PHONE = (390, 844)
SEARCH_WORD = "gradient"
MAX_SCREENSHOT_HEIGHT = 6000  # pixels of a full-page screenshot, so long chapters stay reasonable
WAIT_S = 30  # the longest wait for any one condition (MathJax, images, search results)
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHECKS = ("console", "offline", "maths", "image", "figure", "link", "phone", "dark", "search", "page")


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Failure:
    """One problem found: the page (relative to the site root), the check, and what is wrong."""

    page: str
    check: str
    message: str

    def __post_init__(self):
        if self.check not in CHECKS:
            raise ValueError(f"unknown check {self.check!r}; expected one of {CHECKS}")

    def __str__(self) -> str:
        return f"{self.page}: [{self.check}] {self.message}"


@dataclass
class Report:
    """Everything one run found and counted."""

    failures: list[Failure] = field(default_factory=list)
    pages: int = 0
    local_requests: int = 0
    blocked_requests: int = 0
    images: int = 0
    figures: int = 0
    links: int = 0
    maths: int = 0
    search_word: str | None = None
    search_results: int = 0
    screenshots: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    def by_check(self, check: str) -> list[Failure]:
        return [f for f in self.failures if f.check == check]

    def summary(self) -> str:
        searched = f"{self.search_results} search results for {self.search_word!r}, " if self.search_word else ""
        return (f"checked {self.pages} pages in {self.seconds:.0f} s: {self.local_requests} local requests, "
                f"{self.blocked_requests} to other hosts (blocked), {self.images} images "
                f"({self.figures} content figures), {self.links} internal links, {self.maths} typeset "
                f"maths nodes, {searched}{len(self.screenshots)} screenshots; {len(self.failures)} failures")


# --------------------------------------------------------------------------------------------
# Pure helpers (unit-tested without a browser)
# --------------------------------------------------------------------------------------------

def toc_pages(toc: Path) -> list[str]:
    """The HTML page of every file in a Jupyter Book ``_toc.yml``, in book order."""
    return [page_path(f) for f in toc_files(toc)]


def toc_files(toc: Path) -> list[str]:
    """Every file named in a Jupyter Book ``_toc.yml`` (as written there, without suffix), in book order."""
    import yaml

    data = yaml.safe_load(toc.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "root" not in data:
        raise ValueError(f"{toc} is not a Jupyter Book table of contents (no 'root' entry)")
    files = [data["root"]]

    def walk(entries) -> None:
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(data.get("parts"))
    walk(data.get("chapters"))
    walk(data.get("sections"))
    return files


def page_path(name: str) -> str:
    """``book/intro``, ``book/intro.md`` or ``book/intro.html`` -> ``book/intro.html``."""
    name = name.strip().lstrip("/")
    if not name:
        raise ValueError("empty page name")
    stem = re.sub(r"\.(html|md|ipynb|rst)$", "", name)
    return stem + ".html"


def page_label(page: str) -> str:
    """A short name for a page, for file names and the contact sheet: ``algorithms-ddpm``."""
    stem = page.removesuffix(".html")
    stem = stem.removeprefix("book/")
    return stem.replace("/", "-")


_TEX_PATTERNS = (
    re.compile(r"\\begin\{[A-Za-z*]+\}"),
    re.compile(r"\\\((?:.{0,80}?\\\)|.{0,40})"),
    re.compile(r"\\\[(?:.{0,80}?\\\]|.{0,40})"),
    re.compile(r"\$\$[^$]{1,300}?\$\$"),
    # $...$ as dollarmath writes it: no space just inside the dollars, so "$5 and $10" is prose.
    re.compile(r"(?<![\\$])\$(?=[^\s$])([^$\n]{1,200}?)(?<=[^\s\\])\$(?![\d$])"),
)


def _looks_like_tex(inline: str) -> bool:
    return bool(re.search(r"[\\^_{}=]", inline)) or bool(re.fullmatch(r"[A-Za-z]{1,2}", inline))


def find_untypeset_maths(text: str) -> list[str]:
    """The fragments of raw TeX in rendered text: ``\\(``, ``\\[``, ``\\begin{``, ``$$..$$``, ``$..$``.

    A single-dollar pair counts only when what it encloses looks like TeX (a backslash, ``^``,
    ``_``, braces, ``=``, or one or two letters such as ``$x$``), so prices in prose do not.
    """
    found: list[tuple[int, str]] = []
    for pattern in _TEX_PATTERNS[:4]:
        found += [(m.start(), m.group(0)) for m in pattern.finditer(text)]
    for m in _TEX_PATTERNS[4].finditer(text):
        if _looks_like_tex(m.group(1)):
            found.append((m.start(), m.group(0)))
    return [fragment.split("\n")[0] for _, fragment in sorted(found)]


def is_meaningful_alt(alt: str | None, src: str) -> bool:
    """Whether ``alt`` describes the image, rather than being empty or its own file name.

    myst-nb gives a notebook's output image its path as alt text
    (``alt="../../_images/9bdb...png"``), which tells a reader nothing.
    """
    alt = (alt or "").strip()
    if not alt:
        return False
    name = PurePosixPath(urlsplit(src).path).name
    alt_name = PurePosixPath(alt).name
    return not (alt == src or (name and alt_name == name))


def is_caption_text(text: str | None) -> bool:
    """Whether a paragraph reads as a figure caption: it starts with "Figure" or "Fig."."""
    return bool(re.match(r"\s*(figure|fig\.)(\s|:|\d|$)", text or "", re.IGNORECASE))


def dark_ink_on_transparent(transparent: float, dark_ink: float) -> bool:
    """A figure that the dark theme makes unreadable: a transparent background (at least 5% of
    its pixels) together with dark opaque pixels (at least 0.1%, e.g. black axes and text)."""
    for value, name in ((transparent, "transparent"), (dark_ink, "dark_ink")):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be a fraction in [0, 1], got {value}")
    return transparent >= 0.05 and dark_ink >= 0.001


def is_local_url(url: str, origin: str) -> bool:
    """Whether a request stays on the local server (or needs no network: data:, blob:, about:)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome", "devtools", ""):
        return True
    return f"{parts.scheme}://{parts.netloc}" == origin.rstrip("/")


class _LinkParser(HTMLParser):
    """Collects the ``href`` of every ``<a>`` and every ``id``/``name`` anchor of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"])
        if tag == "a" and values.get("name"):
            self.ids.add(values["name"])
        if tag in ("a", "area") and values.get("href") is not None:
            self.hrefs.append(values["href"])


@functools.lru_cache(maxsize=512)
def _parse_html(path: Path) -> tuple[tuple[str, ...], frozenset[str]]:
    parser = _LinkParser()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return tuple(parser.hrefs), frozenset(parser.ids)


def internal_target(href: str, page: str) -> tuple[str, str] | None:
    """Resolve ``href`` on ``page`` to (file relative to the site root, fragment), or None when
    it leaves the site (another host, mailto:, javascript:) or is a bare ``#``.

    A target above the site root resolves to a path starting with ``../``.
    """
    parts = urlsplit(href.strip())
    if parts.scheme or parts.netloc:
        return None
    fragment = unquote(parts.fragment)
    if not parts.path:
        return (page, fragment) if fragment else None
    base = PurePosixPath(page).parent
    target = PurePosixPath(base, unquote(parts.path))
    resolved: list[str] = []
    for piece in target.parts:
        if piece == "..":
            if resolved and resolved[-1] != "..":
                resolved.pop()
            else:
                resolved.append("..")
        elif piece != ".":
            resolved.append(piece)
    path = "/".join(resolved)
    if parts.path.endswith("/") or not path:
        path = (path + "/index.html").lstrip("/")
    return path, fragment


def check_links(site: Path, pages: Iterable[str]) -> tuple[list[Failure], int]:
    """Every internal link of ``pages`` must reach an existing file and, with a #fragment, an
    element with that id on the target page. Returns the failures and the links checked."""
    failures: list[Failure] = []
    checked = 0
    for page in pages:
        source = site / page
        if not source.exists():
            continue  # reported by the browser pass as a missing page
        hrefs, _ = _parse_html(source)
        broken: dict[str, int] = {}
        for href in hrefs:
            target = internal_target(href, page)
            if target is None:
                continue
            checked += 1
            path, fragment = target
            file = site / path
            if path.startswith("../") or not file.is_file():
                problem = f"{href} (no file {path})"
            elif fragment and file.suffix == ".html" and fragment not in _parse_html(file)[1]:
                problem = f"{href} (no id {fragment!r} in {path})"
            else:
                continue
            broken[problem] = broken.get(problem, 0) + 1
        for problem, times in broken.items():
            failures.append(Failure(page, "link", f"broken link {problem}" + (f", {times} times" if times > 1 else "")))
    return failures, checked


def contact_sheet(shots: list[tuple[str, Path]], dest: Path, *, columns: int = 11, thumb_width: int = 200,
                  max_ratio: float = MAX_SCREENSHOT_HEIGHT / DESKTOP[0]) -> Path:
    """Tile the screenshots, each scaled to ``thumb_width`` (its height capped at ``max_ratio`` times
    the width, the rest cut off), with its number and label under it, into one PNG at ``dest``."""
    from PIL import Image, ImageDraw, ImageFont

    if not shots:
        raise ValueError("no screenshots to put on a contact sheet")
    thumbs = []
    for label, path in shots:
        with Image.open(path) as image:
            image = image.convert("RGB")
            image = image.crop((0, 0, image.width, min(image.height, int(image.width * max_ratio))))
            image.thumbnail((thumb_width, image.height), Image.LANCZOS, reducing_gap=2.0)  # fast, sharp enough
            thumbs.append((label, image))
    cell_height = max(thumb.height for _, thumb in thumbs)
    label_height, gap = 20, 8
    rows = -(-len(thumbs) // columns)
    sheet = Image.new("RGB", (min(columns, len(thumbs)) * (thumb_width + gap) + gap,
                              rows * (cell_height + label_height + gap) + gap), "#b0b0b0")
    draw = ImageDraw.Draw(sheet)
    try:
        font = ImageFont.load_default(size=12)
    except TypeError:  # Pillow without FreeType
        font = ImageFont.load_default()
    for index, (label, thumb) in enumerate(thumbs):
        x = gap + (index % columns) * (thumb_width + gap)
        y = gap + (index // columns) * (cell_height + label_height + gap)
        sheet.paste(thumb, (x, y))
        draw.text((x + 1, y + cell_height + 3), f"{index + 1}. {label}"[:32], fill="black", font=font)
    dest.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(dest)
    return dest


# --------------------------------------------------------------------------------------------
# The local server
# --------------------------------------------------------------------------------------------

class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@contextlib.contextmanager
def serve(site: Path) -> Iterator[str]:
    """Serve ``site`` on 127.0.0.1 (a free port) in a thread; yield its origin URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------------------------
# The browser
# --------------------------------------------------------------------------------------------

def find_browser(chromium: str | None = None, chromedriver: str | None = None) -> tuple[str, str]:
    """The Chromium binary and its matching chromedriver; a clear error when either is missing."""
    found = []
    for given, default, name in ((chromium, CHROMIUM, "chromium"), (chromedriver, CHROMEDRIVER, "chromedriver")):
        path = given or (default if Path(default).exists() else shutil.which(name))
        if not path or not Path(path).exists():
            raise FileNotFoundError(
                f"{name} not found (looked for {given or default} and on PATH): install Debian's 'chromium' "
                "and 'chromium-driver' packages (`make browser-deps`), or pass --chromium/--chromedriver")
        found.append(str(path))
    return found[0], found[1]


def start_browser(origin: str, chromium: str, chromedriver: str):
    """Headless Chromium that can reach only ``origin``: every other URL is blocked (and logged)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={DESKTOP[0]},{DESKTOP[1]}", "--hide-scrollbars", "--force-color-profile=srgb",
                     "--no-first-run", "--disable-extensions", "--disable-background-networking", "--disable-sync",
                     "--disable-component-update", "--disable-default-apps", "--mute-audio",
                     "--disable-features=Translate,OptimizationHints,MediaRouter"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    options.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True, "enablePage": False})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(WAIT_S)
    driver.set_script_timeout(WAIT_S + 10)  # the scripts give up after WAIT_S themselves
    driver.execute_cdp_cmd("Network.enable", {})
    # Patterns apply in order: the local server is allowed, anything else blocked.
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urlPatterns": [
        {"urlPattern": f"{origin}/*", "block": False},
        {"urlPattern": "*://*/*", "block": True},
    ]})
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                           {"features": [{"name": "prefers-color-scheme", "value": "light"}]})
    return driver


_WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
const mj = window.MathJax;
if (!mj || !mj.startup || !mj.startup.promise) { done(mj ? 'configured, not loaded' : 'absent'); return; }
const timer = setTimeout(() => done('timeout'), arguments[0]);
mj.startup.promise.then(() => { clearTimeout(timer); done('typeset'); },
                        (e) => { clearTimeout(timer); done('error: ' + e); });
"""

_WAIT_FOR_IMAGES = """
const done = arguments[arguments.length - 1];
const pending = Array.from(document.images).filter((img) => {
  if (img.loading === 'lazy') img.loading = 'eager';
  return !img.complete;
});
const timer = setTimeout(() => done(pending.filter((img) => !img.complete).length), arguments[0]);
Promise.all(pending.map((img) => new Promise((resolve) => {
  img.addEventListener('load', resolve, {once: true});
  img.addEventListener('error', resolve, {once: true});
}))).then(() => { clearTimeout(timer); done(0); });
"""

_PAGE_FACTS = """
const skip = 'pre, code, kbd, samp, script, style, textarea, noscript, template, svg, '
           + 'mjx-container, .MathJax, .highlight';
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const texts = [];
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const parent = node.parentElement;
  if (parent && !parent.closest(skip) && node.nodeValue.trim()) texts.push(node.nodeValue);
}
const errors = Array.from(document.querySelectorAll('mjx-merror, .MathJax_Error'));
const sources = new Map();  // MathJax 3 keeps the TeX of each typeset expression
try { for (const item of window.MathJax.startup.document.math) sources.set(item.typesetRoot, item.math); } catch (e) {}
const describeError = (e) => {
  const message = e.getAttribute('data-mjx-error') || e.getAttribute('title') || e.textContent.trim();
  const tex = sources.get(e.closest('mjx-container'));
  return message.slice(0, 80) + (tex ? ' in: ' + tex.trim().replace(/\\s+/g, ' ').slice(0, 100) : '');
};
const content = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
const images = Array.from(document.images).map((img) => {
  const figure = img.closest('figure');
  const caption = figure && figure.querySelector('figcaption');
  const holder = img.closest('div.cell') || img.closest('.cell_output') || img.parentElement;
  // The caption is the first block after the figure's cell that is not a code cell without a figure
  // of its own (a check cell that prints a line may come between a figure and its caption).
  const skip = (el) => (!el.textContent.trim() && !el.querySelector('img'))
    || (el.matches('div.cell') && !el.querySelector('img'));
  let next = holder && holder.nextElementSibling;
  while (next && skip(next)) next = next.nextElementSibling;
  return {src: img.getAttribute('src') || '', alt: img.getAttribute('alt'), natural: img.naturalWidth,
          inContent: content.contains(img), figcaption: caption ? caption.textContent.trim() : '',
          following: next ? next.textContent.trim().slice(0, 120) : ''};
});
return {text: texts.join('\\n'), mathjaxErrors: errors.map(describeError),
        maths: document.querySelectorAll('mjx-container').length,
        mathSources: document.querySelectorAll('span.math, div.math').length, images: images};
"""

_SET_THEME = """
const mode = arguments[0];
localStorage.setItem('mode', mode);
localStorage.setItem('theme', mode);
document.documentElement.dataset.mode = mode;
document.documentElement.dataset.theme = mode;
const done = arguments[arguments.length - 1];
requestAnimationFrame(() => requestAnimationFrame(() => {
  const rgb = getComputedStyle(document.body).backgroundColor.match(/[\\d.]+/g).map(Number);
  done({theme: document.documentElement.dataset.theme,
        luminance: (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255});
}));
"""

_FIGURE_INK = """
const content = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
const out = [];
for (const img of content.querySelectorAll('img')) {
  if (!img.naturalWidth) continue;
  const scale = Math.min(1, 600 / img.naturalWidth);
  const w = Math.max(1, Math.round(img.naturalWidth * scale)), h = Math.max(1, Math.round(img.naturalHeight * scale));
  const canvas = document.createElement('canvas');
  canvas.width = w; canvas.height = h;
  const context = canvas.getContext('2d');
  try { context.drawImage(img, 0, 0, w, h); } catch (e) { continue; }
  let data;
  try { data = context.getImageData(0, 0, w, h).data; } catch (e) { continue; }
  let transparent = 0, dark = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] < 32) transparent++;
    else if (data[i + 3] > 200 && 0.2126 * data[i] + 0.7152 * data[i + 1] + 0.0722 * data[i + 2] < 64) dark++;
  }
  const n = data.length / 4;
  out.push({src: img.getAttribute('src') || '', transparent: transparent / n, dark: dark / n});
}
return out;
"""

_PAGE_WIDTH = """
const done = arguments[arguments.length - 1];
const limit = arguments[0];
requestAnimationFrame(() => requestAnimationFrame(() => {
  const width = document.documentElement.scrollWidth;
  const culprits = [];
  if (width > limit) {
    // The elements that stick out of the screen and are not inside something that scrolls or
    // clips sideways (a code block, a table wrapper) or is fixed (an off-canvas sidebar).
    const contained = new Map();
    const isContained = (el) => {
      if (!el || el === document.body || el === document.documentElement) return false;
      if (contained.has(el)) return contained.get(el);
      const style = getComputedStyle(el);
      const value = style.position === 'fixed' || style.overflowX !== 'visible' || isContained(el.parentElement);
      contained.set(el, value);
      return value;
    };
    const sticksOut = (el) => el.getBoundingClientRect().right > limit + 1;
    const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + Array.from(el.classList).slice(0, 2).map((c) => '.' + c).join('');
    for (const el of document.body.querySelectorAll('*')) {
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.right <= limit + 1 || isContained(el.parentElement)) continue;
      if (getComputedStyle(el).position === 'fixed') continue;
      const parent = el.parentElement;
      if (parent && parent !== document.body && sticksOut(parent)) continue;  // report the outermost
      const section = el.closest('section[id]');
      culprits.push({what: describe(el), right: Math.round(box.right), section: section ? section.id : ''});
    }
    culprits.sort((a, b) => b.right - a.right);
  }
  done({width: width, culprits: culprits.slice(0, 4)});
}));
"""

_SEARCH_DONE = """
const summary = document.querySelector('#search-results .search-summary');
return {results: document.querySelectorAll('#search-results ul.search > li').length,
        finished: !!(summary && summary.textContent.trim()),
        summary: summary ? summary.textContent.trim().slice(0, 120) : ''};
"""


# Displayed equations whose MathJax box starts left of the block that holds them: a scrolling box
# cannot scroll left of 0, so that part of the equation cannot be read (the page itself stays narrow).
_CUT_EQUATIONS = """
const cut = [];
for (const maths of document.querySelectorAll('div.math mjx-container[display="true"]')) {
  const box = maths.closest('div.math');
  if (maths.getBoundingClientRect().left < box.getBoundingClientRect().left - 1) {
    cut.push((maths.textContent || '').trim().slice(0, 40));
  }
}
return cut;
"""


def _wait_until(probe, timeout: float = WAIT_S, interval: float = 0.05):
    """Call ``probe`` until it returns something truthy or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


class SiteChecker:
    """One browser session over a served site; ``check_page`` runs every per-page check."""

    def __init__(self, driver, origin: str, screenshots: Path | None = None,
                 max_height: int = MAX_SCREENSHOT_HEIGHT) -> None:
        self.driver = driver
        self.origin = origin
        self.screenshots = screenshots
        self.max_height = max_height
        self.report = Report()
        self.shots: dict[str, list[tuple[str, Path]]] = {"light": [], "dark": []}

    # ---- logs ------------------------------------------------------------------------------
    def _drain_logs(self) -> tuple[list[dict], list[dict]]:
        return self.driver.get_log("browser"), self.driver.get_log("performance")

    def check_console(self, page: str, entries: list[dict], blocked: set[str]) -> list[Failure]:
        """Console errors and uncaught exceptions (SEVERE), except the load failures of the blocked
        requests that ``check_offline`` reports already."""
        messages: list[str] = []
        for entry in entries:
            if entry.get("level") != "SEVERE":
                continue
            message = entry.get("message", "")
            if any(message.startswith(url) for url in blocked):
                continue
            message = message.replace(self.origin, "")
            if message not in messages:
                messages.append(message)
        return [Failure(page, "console", m[:300]) for m in messages]

    def check_offline(self, page: str, events: list[dict]) -> tuple[list[Failure], set[str]]:
        """Requests to any host but the local server (all were blocked; each is a failure)."""
        external: list[str] = []
        for entry in events:
            message = json.loads(entry["message"])["message"]
            if message.get("method") != "Network.requestWillBeSent":
                continue
            url = message["params"]["request"]["url"]
            if is_local_url(url, self.origin):
                self.report.local_requests += 1
            else:
                self.report.blocked_requests += 1
                if url not in external:
                    external.append(url)
        return [Failure(page, "offline", f"request to another host (blocked): {url[:200]}") for url in external], \
            set(external)

    # ---- content ---------------------------------------------------------------------------
    def check_maths(self, page: str, facts: dict, mathjax: str) -> list[Failure]:
        """Raw TeX left in the text once MathJax has finished (``mathjax``: how it ended), maths
        elements without MathJax, and MathJax's own error nodes (shown with the TeX they came from)."""
        failures = []
        raw = find_untypeset_maths(facts["text"])
        if raw:
            examples = "; ".join(repr(r[:50]) for r in raw[:3])
            failures.append(Failure(page, "maths", f"{len(raw)} untypeset TeX fragments (MathJax: {mathjax}), "
                                                   f"e.g. {examples}"))
        elif facts["mathSources"] and mathjax != "typeset":
            failures.append(Failure(page, "maths", f"{facts['mathSources']} maths elements but MathJax {mathjax}"))
        if facts["mathjaxErrors"]:
            errors = list(dict.fromkeys(facts["mathjaxErrors"]))
            failures.append(Failure(page, "maths", f"{len(facts['mathjaxErrors'])} MathJax errors: "
                                                   + "; ".join(errors[:3]) + (" ..." if len(errors) > 3 else "")))
        self.report.maths += facts["maths"]
        return failures

    def check_images(self, page: str, facts: dict) -> list[Failure]:
        """Images that did not load, and content figures with neither alt text nor a caption."""
        failures = []
        uncaptioned = []
        for image in facts["images"]:
            self.report.images += 1
            if image["natural"] == 0:
                failures.append(Failure(page, "image", f"image did not load: {image['src']}"))
            if not image["inContent"]:
                continue
            self.report.figures += 1
            if not (is_meaningful_alt(image["alt"], image["src"]) or image["figcaption"]
                    or is_caption_text(image["following"])):
                uncaptioned.append(PurePosixPath(image["src"]).name)
        if uncaptioned:
            failures.append(Failure(page, "figure", f"{len(uncaptioned)} figures without alt text or caption "
                                                    f"(first: {', '.join(uncaptioned[:3])})"))
        return failures

    # ---- layout and themes -----------------------------------------------------------------
    def check_phone(self, page: str) -> list[Failure]:
        """The page at a 390-px phone viewport must not be wider than the screen. The viewport stays
        at phone size until the next ``open`` (resetting it here would lay the page out once more)."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True})
        result = self.driver.execute_async_script(_PAGE_WIDTH, PHONE[0])  # ``open`` resets the viewport
        failures = []
        cut = self.driver.execute_script(_CUT_EQUATIONS)
        if cut:
            failures.append(Failure(page, "phone", f"{len(cut)} displayed equations start left of their box at a "
                                                   f"{PHONE[0]}-px viewport, out of reach (first: {cut[0]!r})"))
        if result["width"] <= PHONE[0]:
            return failures
        culprits = ", ".join(f"{c['what']} to {c['right']} px" + (f" in #{c['section']}" if c["section"] else "")
                             for c in result["culprits"])
        return failures + [Failure(page, "phone", f"{result['width']} px wide at a {PHONE[0]}-px viewport "
                                                  f"(widest: {culprits or 'unknown'})")]

    def set_theme(self, mode: str) -> dict:
        return self.driver.execute_async_script(_SET_THEME, mode)

    def check_dark(self, page: str) -> list[Failure]:
        """Switch to the dark theme as the theme's button does; it must take effect, and no figure
        may put dark ink on a transparent background. Leaves the page in the dark theme."""
        state = self.set_theme("dark")
        failures = []
        if state["theme"] != "dark" or state["luminance"] > 0.35:
            failures.append(Failure(page, "dark", "the dark theme did not take effect (data-theme="
                                    f"{state['theme']!r}, background luminance {state['luminance']:.2f})"))
        unreadable = [PurePosixPath(f["src"]).name for f in self.driver.execute_script(_FIGURE_INK)
                      if dark_ink_on_transparent(f["transparent"], f["dark"])]
        if unreadable:
            failures.append(Failure(page, "dark", f"{len(unreadable)} figures with dark ink on a transparent "
                                                  f"background (first: {', '.join(unreadable[:3])})"))
        return failures

    def full_page_viewport(self) -> None:
        """Make the viewport as tall as the page (at most ``max_height``), so that a screenshot of
        the viewport is a full-page screenshot with the sidebars and header where a reader sees them."""
        height = self.driver.execute_script("window.scrollTo(0, 0); return document.documentElement.scrollHeight")
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": DESKTOP[0], "height": max(DESKTOP[1], min(height, self.max_height)),
            "deviceScaleFactor": 1, "mobile": False})

    def screenshot(self, page: str, theme: str) -> Path:
        """Save the viewport (see ``full_page_viewport``) as ``<label>[-dark].png``."""
        if self.screenshots is None:
            raise ValueError("no screenshot folder was given")
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "optimizeForSpeed": True})
        label = page_label(page)
        path = self.screenshots / (label + ("-dark" if theme == "dark" else "") + ".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        self.shots[theme].append((label, path))
        self.report.screenshots.append(path)
        return path

    # ---- one page --------------------------------------------------------------------------
    def open(self, url: str) -> None:
        """Load ``url`` at desktop size as a first-time reader (nothing stored by an earlier page),
        after reading out the logs of the previous page."""
        self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        self.driver.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": self.origin,
                                                                    "storageTypes": "local_storage"})
        self._drain_logs()
        self.driver.get(url)

    def check_page(self, page: str, site: Path) -> list[Failure]:
        """Open one page and run every browser check on it."""
        self.report.pages += 1
        if not (site / page).is_file():
            return [Failure(page, "page", "the page is missing from the built site")]
        failures: list[Failure] = []
        self.open(f"{self.origin}/{page}")
        mathjax = self.driver.execute_async_script(_WAIT_FOR_MATHJAX, WAIT_S * 1000)
        still_loading = self.driver.execute_async_script(_WAIT_FOR_IMAGES, WAIT_S * 1000)
        if still_loading:
            failures.append(Failure(page, "image", f"{still_loading} images still loading after {WAIT_S} s"))
        facts = self.driver.execute_script(_PAGE_FACTS)
        failures += self.check_maths(page, facts, mathjax)
        failures += self.check_images(page, facts)
        if self.screenshots:
            self.full_page_viewport()
            self.screenshot(page, "light")
        failures += self.check_dark(page)
        if self.screenshots:
            self.screenshot(page, "dark")
        failures += self.check_phone(page)
        console, events = self._drain_logs()
        offline, blocked = self.check_offline(page, events)
        return self.check_console(page, console, blocked) + offline + failures

    def check_search(self, word: str = SEARCH_WORD) -> list[Failure]:
        """``search.html?q=<word>`` must list at least one page (and load cleanly)."""
        page = "search.html"
        self.open(f"{self.origin}/{page}?q={word}")

        def finished():
            state = self.driver.execute_script(_SEARCH_DONE)
            return state if state["finished"] else None

        state = _wait_until(finished) or self.driver.execute_script(_SEARCH_DONE)
        failures = []
        self.report.search_word, self.report.search_results = word, state["results"]
        if not state["results"]:
            failures.append(Failure(page, "search", f"no result for {word!r} "
                                                    f"({state['summary'] or 'the search did not finish'})"))
        console, events = self._drain_logs()
        offline, blocked = self.check_offline(page, events)
        return self.check_console(page, console, blocked) + offline + failures


def check_site(site: Path, pages: list[str] | None = None, *, toc: Path | None = None,
               screenshots: Path | None = None, search_word: str | None = SEARCH_WORD,
               max_height: int = MAX_SCREENSHOT_HEIGHT, chromium: str | None = None,
               chromedriver: str | None = None, progress=None) -> Report:
    """Run every check on ``pages`` (default: every page of ``toc``, the repository's ``_toc.yml``)
    of the built site in ``site``; return the report (``report.failures`` empty when all pass)."""
    site = Path(site)
    if not (site / "index.html").is_file() and not any(site.glob("*.html")):
        raise FileNotFoundError(f"{site} holds no built site (no HTML files); build it first (make book)")
    pages = [page_path(p) for p in pages] if pages else toc_pages(toc or REPO / "_toc.yml")
    chromium, chromedriver = find_browser(chromium, chromedriver)
    started = time.monotonic()
    if screenshots:
        screenshots = Path(screenshots)
        for old in screenshots.glob("*.png"):
            old.unlink()
    link_failures, links = check_links(site, pages)
    with serve(site) as origin:
        driver = start_browser(origin, chromium, chromedriver)
        checker = SiteChecker(driver, origin, screenshots, max_height)
        try:
            for page in pages:
                failures = checker.check_page(page, site)
                checker.report.failures += failures
                if progress:
                    progress(page, failures)
            if search_word:
                checker.report.failures += checker.check_search(search_word)
        finally:
            driver.quit()
    report = checker.report
    report.failures += link_failures
    report.links = links
    if screenshots and checker.shots["light"]:
        report.screenshots.append(contact_sheet(checker.shots["light"], screenshots / "contact-sheet.png"))
        report.screenshots.append(contact_sheet(checker.shots["dark"], screenshots / "contact-sheet-dark.png"))
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("site", type=Path, help="the built HTML folder (e.g. _build/html)")
    parser.add_argument("--screenshots", type=Path, help="save screenshots and contact sheets in this folder")
    parser.add_argument("--pages", nargs="+", help="check only these pages (e.g. book/algorithms/ddpm)")
    parser.add_argument("--toc", type=Path, default=REPO / "_toc.yml",
                        help="the table of contents (default: %(default)s)")
    parser.add_argument("--search-word", default=SEARCH_WORD, help="the word the search page must find ('' skips the search check)")
    parser.add_argument("--max-height", type=int, default=MAX_SCREENSHOT_HEIGHT, help="screenshot height cap (px)")
    parser.add_argument("--chromium", help=f"Chromium binary (default {CHROMIUM})")
    parser.add_argument("--chromedriver", help=f"chromedriver binary (default {CHROMEDRIVER})")
    parser.add_argument("--verbose", action="store_true", help="print each page as it is checked")
    args = parser.parse_args(argv)

    def progress(page: str, failures: list[Failure]) -> None:
        print(f"  {page}: {len(failures)} failures", file=sys.stderr, flush=True)

    try:
        report = check_site(args.site, args.pages, toc=args.toc, screenshots=args.screenshots,
                            search_word=args.search_word, max_height=args.max_height, chromium=args.chromium,
                            chromedriver=args.chromedriver, progress=progress if args.verbose else None)
    except (FileNotFoundError, ValueError) as error:
        print(f"check_site: {error}", file=sys.stderr)
        return 2
    for failure in report.failures:
        print(failure)
    print(report.summary())
    if args.screenshots:
        print(f"screenshots in {args.screenshots}/, contact sheet {args.screenshots / 'contact-sheet.png'}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
