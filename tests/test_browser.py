"""The first hour, as a person sees it: `pinsandbox lab` in headless Chromium, the quick start run top to bottom.

Starts the real server for a fresh sandbox, opens the quick-start notebook, runs all cells from the Run menu,
and checks what the person would: every cell ran, none errored, the recall plot is drawn, the pin gallery shows
images and the pinner explorer reacts to a click. Screenshots go to test-artifacts/ (kept by CI). Chromium comes from Debian
(/usr/bin/chromium, `apt-get install chromium`); Playwright never downloads a browser here.
"""

import json
import os
import re
import time
import urllib.request
from pathlib import Path

import pytest

from pinsandbox import settings
from pinsandbox.lab import LabProcess

CHROMIUM = Path(os.environ.get("PINSANDBOX_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = settings.CODE_ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

pytestmark = pytest.mark.slow


@pytest.fixture
def lab_url(sandboxes_root):
    with LabProcess("newcomer", create=True, timeout_s=60) as lab:
        yield lab.base, lab.token


def saved_notebook(base: str, token: str, path: str) -> dict:
    with urllib.request.urlopen(f"{base}/api/contents/{path}?token={token}", timeout=30) as r:
        return json.loads(r.read())["content"]


def test_quickstart_runs_in_jupyterlab_in_a_real_browser(lab_url):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install chromium`) for the browser test")
    from playwright.sync_api import expect, sync_playwright

    base, token = lab_url
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/notebooks/quickstart.ipynb?token={token}")
            notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
            expect(notebook).to_be_visible(timeout=60_000)
            # the confined sandbox kernel, picked without a "select kernel" dialog, up and idle
            expect(page.locator(".jp-Toolbar-kernelName").first).to_contain_text("pinsandbox", timeout=60_000)
            expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first).to_be_attached(timeout=60_000)

            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

            # done when every code cell shows an execution number ([*] while queued or running)
            page.wait_for_function(
                """() => {
                    const prompts = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')];
                    return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
                }""",
                timeout=150_000,
            )

            # a matplotlib figure drawn in the confined kernel reaches the page as a decoded image
            plot = notebook.locator(".jp-RenderedImage img").first
            expect(plot).to_be_visible(timeout=30_000)
            assert plot.evaluate("i => i.complete && i.naturalWidth > 100"), "the recall plot did not render"

            gallery = notebook.locator(".pin-gallery")
            expect(gallery).to_be_visible()
            images = gallery.locator("img.pin-image")
            assert images.count() >= 12, f"the pin gallery shows {images.count()} images"
            loaded = images.evaluate_all("imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).length")
            assert loaded == images.count(), f"only {loaded} of {images.count()} gallery images decoded"
            gallery.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "lab-quickstart-gallery.png"))

            # the explorer is live: feeding an event from the browser reaches the kernel and redraws the homefeed
            explorer = notebook.locator(".pinner-explorer")
            expect(explorer.locator("img.pin-image").first).to_be_visible()
            page.get_by_role("button", name="feed this event").click()
            expect(notebook.get_by_text(re.compile(r"fed save of p\d+"))).to_be_visible(timeout=30_000)
            explorer.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "lab-quickstart-homefeed.png"))

            # save from the File menu (a keyboard shortcut needs the notebook focused, which a busy page may not have)
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^File$")).click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Save( Notebook)?$")).first.click()
            deadline = time.time() + 60
            while True:
                nb = saved_notebook(base, token, "notebooks/quickstart.ipynb")
                code = [c for c in nb["cells"] if c["cell_type"] == "code"]
                if all(c["execution_count"] for c in code) or time.time() > deadline:
                    break
                time.sleep(0.5)
        finally:
            browser.close()

    assert code and all(c["execution_count"] for c in code), "the saved notebook has cells that never ran"
    errors = [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert any("image/png" in o.get("data", {}) for c in code for o in c["outputs"]), "the saved notebook has no plot"
    assert not errors, f"cells errored: {[(e['ename'], e['evalue']) for e in errors]}"
