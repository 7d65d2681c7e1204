"""Explorers for the notebooks (ipywidgets): each takes plain data and callables, so it runs — and is tested —
without a kernel, and shows a static summary instead of a UI when run headless (papermill, scripts).

    PinGallery(catalog)                                     search and filter pins, pages of image cards
    SimilarPins(catalog, {"proprietary": f, "off-the-shelf": g})   neighbours side by side
    PinnerExplorer.from_taste_graph(catalog, tg)            interests, homefeed, feed an event and see it change
    NavigatorChat(catalog, ask)                             a request in words, picked pins as images
    RunsBrowser(sandbox)                                    compare two runs' params and metrics

Every explorer has `.show()`, `.summary()` (text), `.html()` (static view) and `.widget` (the live UI), and
takes `display_mode="auto" | "widget" | "text"` ("auto": text under the runner or outside a kernel).
"""

from pinsandbox.widgets.base import DISPLAY_MODES, Explorer, resolve_display_mode
from pinsandbox.widgets.gallery import PinGallery
from pinsandbox.widgets.navigator import NavigatorChat
from pinsandbox.widgets.pinner import PinnerExplorer
from pinsandbox.widgets.runs import RunsBrowser
from pinsandbox.widgets.similar import SimilarPins

__all__ = ["DISPLAY_MODES", "Explorer", "NavigatorChat", "PinGallery", "PinnerExplorer", "RunsBrowser", "SimilarPins",
           "resolve_display_mode"]
