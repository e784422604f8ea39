"""Headless Chromium (the distribution's package) looking at the Prefect UI as a person would:
the page's text after its scripts ran, or a screenshot of it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from afs.errors import ConfigurationError

CHROMIUM_NAMES = ("chromium", "chromium-browser")
# The UI is a single-page app: its scripts fetch from Prefect's API before the page says much.
_RENDER_BUDGET_MS = 20_000


class BrowserMissing(ConfigurationError):
    """No Chromium on this machine, and it could not be installed."""


# A small font with Chinese glyphs: the request's rules (the API specification's) quote Chinese
# punctuation, which a machine without such a font draws as boxes.
CJK_FONT_PACKAGE = "fonts-wqy-zenhei"


def _apt_get_install(package: str) -> None:
    """Install `package` with apt-get (as `make` does), if this machine has apt-get."""
    if shutil.which("apt-get"):
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", package],
        ):
            subprocess.run(command, capture_output=True, check=False, timeout=900)


def chromium(install: bool = True) -> str:
    """The Chromium binary; installed with apt-get when missing and allowed."""
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name):
            return found
    if install:
        _apt_get_install("chromium")
        return chromium(install=False)
    raise BrowserMissing("Chromium is not installed: apt-get install chromium")


def has_cjk_font() -> bool:
    """fontconfig knows a font with Chinese glyphs (without fontconfig, no font is known)."""
    if shutil.which("fc-list") is None:
        return False
    listed = subprocess.run(
        ["fc-list", ":lang=zh"], capture_output=True, text=True, check=False, timeout=60
    )
    return bool(listed.stdout.strip())


def ensure_cjk_font() -> None:
    """A font that draws Chinese text, installed with apt-get (with fontconfig) when missing."""
    if not has_cjk_font():
        _apt_get_install(CJK_FONT_PACKAGE)
    if not has_cjk_font():
        raise BrowserMissing(f"no font with Chinese glyphs: apt-get install {CJK_FONT_PACKAGE}")


def _headless(*arguments: str) -> list[str]:
    return [
        chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--hide-scrollbars", f"--virtual-time-budget={_RENDER_BUDGET_MS}", *arguments,
    ]  # fmt: skip


def page_dom(url: str) -> str:
    """The page's DOM once its scripts have rendered it."""
    with tempfile.TemporaryDirectory(prefix="afs-chromium-") as profile:
        shown = subprocess.run(
            _headless(f"--user-data-dir={profile}", "--dump-dom", url),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    return shown.stdout


def screenshot(url: str, path: Path, width: int = 1440, height: int = 1000) -> Path:
    """A PNG of the page as rendered in a `width` x `height` window."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="afs-chromium-") as profile:
        subprocess.run(
            _headless(
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={path}",
                url,
            ),
            capture_output=True,
            timeout=120,
            check=True,
        )
    return path
