"""The screenshots' font: Chinese text in the UI is drawn, not boxes, or the script says why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from afs.devstack import browser


def test_without_fontconfig_no_chinese_font_is_known(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not browser.has_cjk_font()


def test_a_missing_font_is_installed_once_and_then_found(monkeypatch: pytest.MonkeyPatch) -> None:
    installed: list[str] = []
    monkeypatch.setattr(browser, "has_cjk_font", lambda: bool(installed))
    monkeypatch.setattr(browser, "_apt_get_install", installed.append)
    browser.ensure_cjk_font()
    assert installed == [browser.CJK_FONT_PACKAGE]


def test_a_font_that_cannot_be_installed_is_an_error_naming_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(browser, "has_cjk_font", lambda: False)
    monkeypatch.setattr(browser, "_apt_get_install", lambda package: None)
    with pytest.raises(browser.BrowserMissing, match=f"apt-get install {browser.CJK_FONT_PACKAGE}"):
        browser.ensure_cjk_font()
