"""What every explorer shares: where its pins come from, how a pin looks, and how it shows itself.

An explorer is a plain object over plain data (DataFrames and callables), so it can be driven and tested
without a kernel. In a live notebook it shows an ipywidgets UI; where nobody can click — a papermill run,
a script — it shows a static summary instead (HTML with the images for the saved notebook, text for logs).
"""

from __future__ import annotations

import base64
import functools
import html
import os
from abc import ABC, abstractmethod
from pathlib import Path

import pandas as pd

from pinsandbox.errors import InvalidInput

DISPLAY_MODES = ("auto", "widget", "text")


def resolve_display_mode(mode: str = "auto") -> str:
    """'widget' or 'text'. 'auto' picks text under the run-all/papermill runner (PINSANDBOX_RUN_DIR is set:
    nobody will click, and widget state is not saved in the output notebook) and outside a live kernel."""
    if mode not in DISPLAY_MODES:
        raise InvalidInput(f"display_mode must be one of {', '.join(DISPLAY_MODES)} (got {mode!r})")
    if mode != "auto":
        return mode
    if os.environ.get("PINSANDBOX_RUN_DIR"):
        return "text"
    try:
        from IPython import get_ipython
    except ImportError:
        return "text"
    shell = get_ipython()
    return "widget" if shell is not None and getattr(shell, "kernel", None) is not None else "text"


def pins_and_images(source, images_dir=None) -> tuple[pd.DataFrame, Path | None]:
    """Accept a Catalog (anything with .pins and .images_dir) or a pins DataFrame plus an images folder."""
    if hasattr(source, "pins") and hasattr(source, "images_dir"):
        pins, images_dir = source.pins, images_dir or source.images_dir
    else:
        pins = source
    if not isinstance(pins, pd.DataFrame):
        raise InvalidInput(f"expected a Catalog or a pins DataFrame, got {type(source).__name__}")
    missing = {"pin_id", "title"} - set(pins.columns)
    if missing:
        raise InvalidInput(f"the pins table lacks column(s) {', '.join(sorted(missing))}: it needs pin_id and title")
    return pins.set_index("pin_id", drop=False), (Path(images_dir) if images_dir is not None else None)


@functools.lru_cache(maxsize=4096)
def _data_uri(path: str, mtime: float) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()


def image_uri(images_dir: Path | None, image) -> str | None:
    """The pin's image as an inline base64 data URI (no file server needed), or None for a text-only pin."""
    if images_dir is None or not isinstance(image, str) or not image:
        return None
    path = images_dir / image
    return _data_uri(str(path), path.stat().st_mtime) if path.is_file() else None


def pin_list(result) -> tuple[list[str], dict[str, float]]:
    """Pins as a model or service returns them, as (ids, scores): pin ids; dicts with pin_id (and score), as
    the serving API answers; or a DataFrame with a pin_id (and score) column."""
    if isinstance(result, pd.DataFrame):
        if "pin_id" not in result:
            raise InvalidInput("expected pin ids, or a DataFrame with a pin_id column")
        rows = result.to_dict("records")
    else:
        rows = [r if isinstance(r, dict) else {"pin_id": r} for r in result]
    if any("pin_id" not in r for r in rows):
        raise InvalidInput("expected pin ids, or dicts with a pin_id key")
    ids = [str(r["pin_id"]) for r in rows]
    return ids, {str(r["pin_id"]): float(r["score"]) for r in rows if r.get("score") is not None}


def esc(text) -> str:
    return html.escape("" if text is None or (isinstance(text, float) and pd.isna(text)) else str(text))


def pin_card(pin: pd.Series, images_dir: Path | None, size: int = 120, note: str = "", highlight: bool = False) -> str:
    """One pin as an HTML card: image (or a text tile for text-only pins), title, id, price/merchant if known."""
    uri = image_uri(images_dir, pin.get("image"))
    if uri:
        top = f"<img class='pin-image' src='{uri}' width={size} height={size} style='border-radius:8px;display:block'>"
    else:
        top = (f"<div style='width:{size}px;height:{size}px;border-radius:8px;background:#f1efe9;display:flex;"
               f"align-items:center;justify-content:center;text-align:center;font-size:11px;padding:4px;"
               f"box-sizing:border-box'>{esc(pin.get('title'))}</div>")
    extra = []
    if "price" in pin and pd.notna(pin.get("price")):
        extra.append(f"${float(pin['price']):,.0f}")
    if isinstance(pin.get("merchant"), str):
        extra.append(esc(pin["merchant"]))
    border = "2px solid #e60023" if highlight else "1px solid #eee"
    return (f"<div class='pin-card' data-pin-id='{esc(pin['pin_id'])}' style='display:inline-block;vertical-align:top;"
            f"width:{size + 8}px;margin:3px;padding:3px;border:{border};border-radius:10px;font-size:11px;line-height:1.25'>"
            f"{top}<b>{esc(pin.get('title'))}</b><br><span style='color:#767676'>{esc(pin['pin_id'])}"
            f"{' · ' + ' · '.join(extra) if extra else ''}</span>{('<br>' + note) if note else ''}</div>")


def cards(pins: pd.DataFrame, pin_ids, images_dir, size: int = 120, notes: dict | None = None, highlight=()) -> str:
    """Cards for `pin_ids` in order (ids not in the catalog are skipped: a model may know pins the catalog lost)."""
    notes = notes or {}
    known = [p for p in pin_ids if p in pins.index]
    body = "".join(pin_card(pins.loc[p], images_dir, size, notes.get(p, ""), p in highlight) for p in known)
    return f"<div class='pin-grid'>{body}</div>" if known else "<div style='color:#767676'>(no pins)</div>"


def titles(pins: pd.DataFrame, pin_ids, limit: int = 8) -> str:
    """A one-line text list of pins, for the text summaries."""
    ids = [p for p in pin_ids if p in pins.index]
    shown = "; ".join(f"{p} {pins.loc[p, 'title']}" for p in ids[:limit])
    return shown + (f"; … (+{len(ids) - limit})" if len(ids) > limit else "")


class Explorer(ABC):
    """Base: subclasses build `_build_widget()` (ipywidgets), `summary()` (text) and `html()` (static view)."""

    def __init__(self, display_mode: str = "auto"):
        resolve_display_mode(display_mode)  # refuse a bad mode now, not when shown
        self.display_mode = display_mode
        self._widget = None

    @property
    def widget(self):
        """The interactive ipywidgets UI (built on first use; works without a kernel for tests)."""
        if self._widget is None:
            self._widget = self._build_widget()
        return self._widget

    @abstractmethod
    def summary(self) -> str:
        """What the explorer shows, as text (the headless view)."""

    def html(self) -> str:
        return f"<pre>{esc(self.summary())}</pre>"

    def show(self):
        """Display the explorer: the live UI in a notebook, a static summary when headless."""
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is None:  # a plain script: there is no front end to show anything but text
            print(self.summary())
        elif resolve_display_mode(self.display_mode) == "widget":
            display(self.widget)
        else:  # headless kernel (papermill): the saved notebook keeps the static view, logs the text
            display({"text/plain": self.summary(), "text/html": self.html()}, raw=True)
        return None

    def _ipython_display_(self):
        self.show()

    def __repr__(self) -> str:
        return self.summary()
