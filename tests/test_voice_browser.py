"""Speaking to Navigator in JupyterLab, as a person would: Chromium's fake microphone plays a spoken request into the
chat's 🎤 button, and the page shows what was heard, the pins and a player with the spoken answer.

`pinsandbox lab` over a copy of the session world, its confined kernel running the real recogniser and Navigator;
Chromium from Debian (/usr/bin/chromium) with `--use-fake-device-for-media-stream
--use-file-for-fake-audio-capture=FILE.wav`. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re

import nbformat
import numpy as np
import pytest

from pinsandbox.lab import LabProcess
from tests.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.slow

REQUEST = "show me boho planters under one hundred dollars"
CELLS = [
    "from pinsandbox.catalog import load_catalog\n"
    "from pinsandbox.serving import Navigator\n"
    "from pinsandbox.voice import Voice, answer_spoken\n"
    "from pinsandbox.widgets import NavigatorChat\n"
    "catalog = load_catalog()\n"
    "navigator, voice = Navigator.load(None, catalog), Voice.load()",
    "chat = NavigatorChat(catalog, ask=navigator.ask, voice=lambda wav: answer_spoken(voice, navigator, wav, k=4),\n"
    "                     display_mode='widget')\n"
    "chat.show()",
]


def microphone_file(path) -> float:
    """The request spoken by espeak-ng at 48 kHz (the fake microphone's rate), after 0.5 s of quiet and followed by
    2 s of it; returns the length in seconds."""
    from scipy.signal import resample_poly

    from pinsandbox.voice import synthesize
    from pinsandbox.voice.audio import to_wav

    samples, rate = synthesize(REQUEST)
    samples = resample_poly(samples, 48_000 // 50, rate // 50).astype(np.float32)  # 22,050 Hz → 48 kHz
    quiet = np.random.default_rng(0).normal(0, 1e-3, 48_000 // 2).astype(np.float32)
    audio = np.concatenate([quiet, samples, quiet, quiet, quiet, quiet])
    path.write_bytes(to_wav(audio, 48_000))
    return len(audio) / 48_000


def run_all(page, notebook, tries: int = 3) -> None:
    """Run → Run All Cells, again if no cell started (a menu click can land while the page is still settling)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(tries):
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        try:
            notebook.locator(".jp-InputPrompt", has_text=re.compile(r"\[(\*|\d+)\]")).first.wait_for(timeout=15_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    raise AssertionError(f"Run All Cells started no cell in {tries} tries")


def test_a_spoken_request_through_the_browser_microphone(world, tmp_path):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install chromium`) for the browser test")
    from playwright.sync_api import expect, sync_playwright

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS], metadata={"kernelspec": {
        "name": "pinsandbox", "display_name": "pinsandbox", "language": "python"}})  # the sandbox's confined kernel
    nbformat.write(nb, world.path("notebooks/voice.ipynb"))
    wav = tmp_path / "request.wav"
    seconds = microphone_file(wav)
    ARTIFACTS.mkdir(exist_ok=True)
    with LabProcess("world", timeout_s=60) as lab, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + [
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}%noloop", "--autoplay-policy=no-user-gesture-required"])
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=["microphone"])
            page = context.new_page()
            page.goto(f"{lab.base}/lab/tree/notebooks/voice.ipynb?token={lab.token}")
            notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
            expect(notebook).to_be_visible(timeout=60_000)
            expect(page.locator(".jp-Toolbar-kernelName").first).to_contain_text("pinsandbox", timeout=60_000)
            expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first).to_be_attached(timeout=60_000)
            run_all(page, notebook)

            record = notebook.locator("button.voice-record")
            expect(record).to_be_visible(timeout=120_000)
            record.click()
            expect(notebook.locator(".voice-status")).to_contain_text("listening", timeout=10_000)
            page.wait_for_timeout(seconds * 1000)
            record.click()  # stop: the recording goes to the kernel, which recognises it and asks Navigator

            outcome = notebook.locator(".navigator-request, .voice-error")
            expect(outcome.first).to_be_visible(timeout=60_000)
            assert notebook.locator(".navigator-request").count(), f"nothing recognised: {outcome.first.inner_text()}"
            expect(notebook.locator(".navigator-request")).to_have_text("🎤 " + REQUEST)
            cards = notebook.locator(".navigator-chat .pin-card")
            expect(cards.first).to_be_visible()
            assert 1 <= cards.count() <= 4, f"{cards.count()} pins shown"
            prices = [float(t.replace(",", "")) for t in re.findall(r"\$([\d,]+)", notebook.locator(".navigator-chat").inner_text())]
            assert prices and all(p <= 100 for p in prices), f"pins over the spoken budget: {prices}"
            player = notebook.locator("audio")
            expect(player).to_be_attached()
            assert player.evaluate("a => a.src.length > 0"), "the spoken answer never reached the player"
            notebook.locator(".navigator-chat").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "lab-voice-navigator.png"))
        finally:
            browser.close()
