"""How responsive the lab feels: JupyterLab and its confined kernel starting, and each explorer's reaction time.

Prints one JSON object. Side by side in the same run: the gallery's first page with a cold image cache vs a
warm one (images are inlined as base64 once, then reused), and a pinner's homefeed refresh after an event
(online update) vs refitting the taste graph from scratch (what a batch-only system would need).

    python benchmarks/bench_lab.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time


def ms(f, repeat: int = 5) -> float:
    """Median wall-clock milliseconds of `f()`."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1000)
    return round(sorted(times)[len(times) // 2], 2)


def lab_startup(owner: str) -> dict:
    """Seconds from `pinsandbox lab` to a serving JupyterLab, and to a confined kernel answering."""
    from pinsandbox.lab import LabProcess

    t0 = time.perf_counter()
    with LabProcess(owner) as lab:
        server_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        kernel = lab.api("POST", "/api/kernels")
        lab.execute(kernel["id"], "import pinsandbox", timeout_s=120)  # ready = it has run a first cell
        kernel_s = time.perf_counter() - t1
        lab.api("DELETE", f"/api/kernels/{kernel['id']}")
    return {"lab_server_ready_s": round(server_s, 2), "lab_kernel_ready_s": round(kernel_s, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small catalog, fewer repeats")
    args = parser.parse_args()
    os.environ["PINSANDBOX_ROOT"] = tempfile.mkdtemp(prefix="pinsandbox-bench-lab-")
    os.environ.pop("PINSANDBOX_RUN_DIR", None)

    import pinsandbox
    from pinsandbox.catalog import generate_pinworld
    from pinsandbox.tastegraph import TasteGraph, TasteGraphConfig
    from pinsandbox.widgets import PinGallery, PinnerExplorer
    from pinsandbox.widgets.base import _data_uri

    n_pins, n_pinners = (400, 100) if args.quick else (3000, 800)
    sb = pinsandbox.create("bench")
    catalog = generate_pinworld(sb, n_pins=n_pins, n_pinners=n_pinners, seed=0, progress=False)
    out = {"pins": n_pins, "pinners": n_pinners}

    gallery = PinGallery(catalog, page_size=24, display_mode="widget")
    _data_uri.cache_clear()
    t = time.perf_counter()
    gallery.html()
    out["gallery_page_cold_ms"] = round((time.perf_counter() - t) * 1000, 2)
    out["gallery_page_warm_ms"] = ms(gallery.html)
    out["gallery_cold_over_warm"] = round(out["gallery_page_cold_ms"] / out["gallery_page_warm_ms"], 2)
    word = catalog.pins["title"].iloc[0].split()[-1]
    out["gallery_search_ms"] = ms(lambda: gallery.search(word, category=catalog.pins["category"].iloc[0]))

    train = catalog.train_events()
    cfg = TasteGraphConfig(gnn=None)
    t = time.perf_counter()
    tg = TasteGraph(cfg).fit(train, pins=catalog.pins["pin_id"])
    refit_ms = (time.perf_counter() - t) * 1000
    explorer = PinnerExplorer.from_taste_graph(catalog, tg, k=12, display_mode="widget")
    pins = iter(catalog.pins["pin_id"].sample(20, random_state=0))
    out["pinner_feed_event_to_new_homefeed_ms"] = ms(lambda: (explorer.feed(next(pins), "save"), explorer.html()))
    out["taste_graph_refit_ms"] = round(refit_ms, 1)
    out["refit_over_online_update"] = round(refit_ms / out["pinner_feed_event_to_new_homefeed_ms"], 1)

    out.update(lab_startup("bench"))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
