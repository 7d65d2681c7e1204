"""Pinworld generation at scale: time and peak memory, printed as one JSON object.

    python benchmarks/bench_catalog.py            # 1,000,000 pins / 100,000 pinners / ~10,000,000 events
    python benchmarks/bench_catalog.py --quick    # 20,000 pins / 2,000 pinners / ~200,000 events

Each size runs in a fresh child process so its peak RSS (ru_maxrss) is its own. Tables are generated with
`render_images=False` (a million PNGs is a disk benchmark, not a generator one); image rendering is timed
separately on a sample and extrapolated, and reported as such. The whole script (both sizes) takes about
2.5 minutes and ~2.1 GB peak RAM on 2 shared CPU cores; `--quick` about 10 seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {
    "quick": dict(n_pins=20_000, n_pinners=2_000, n_events=200_000),
    "full": dict(n_pins=1_000_000, n_pinners=100_000, n_events=10_000_000),
}


def _child(size: str, seed: int) -> dict:
    """Run one generation in this process and measure it."""
    os.environ["PINSANDBOX_ROOT"] = tempfile.mkdtemp(prefix="bench-catalog-")
    import pinsandbox
    from pinsandbox.catalog import load_catalog
    from pinsandbox.catalog.pinworld import PinworldConfig, build_pinworld, publish_pinworld
    from pinsandbox.catalog.render import render_pin_images

    params = SIZES[size]
    t0 = time.perf_counter()
    tables = build_pinworld(PinworldConfig(**params, seed=seed, render_images=False))
    build_s = time.perf_counter() - t0
    sb = pinsandbox.create("bench")
    t0 = time.perf_counter()
    publish_pinworld(sb, tables, progress=False)  # Parquet + manifests (sha256) + atomic publish
    write_s = time.perf_counter() - t0
    del tables
    t0 = time.perf_counter()
    catalog = load_catalog(sb)  # what every later stage does first (verifies sha256)
    load_s = time.perf_counter() - t0
    files = sb.artifacts.read("catalog", "pinworld").manifest["files"]

    # image rendering rate, on a sample of this catalog's pins
    sample = build_pinworld(PinworldConfig(n_pins=2000, n_pinners=50, seed=seed, render_images=False)).render
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        render_pin_images(Path(d), sample, 128, progress=False)
        render_s = time.perf_counter() - t0
    images_per_s = len(sample) / render_s
    return {
        "size": size,
        **params,
        "events": len(catalog.events),
        "pinners_active": int(catalog.events["pinner_id"].nunique()),
        "build_tables_s": round(build_s, 2),
        "write_and_publish_s": round(write_s, 2),
        "load_catalog_s": round(load_s, 2),
        "generate_total_s": round(build_s + write_s, 2),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 3),
        "parquet_mb": {k: round(v["bytes"] / 1e6, 2) for k, v in files.items() if k.endswith(".parquet")},
        "events_per_s": round(len(catalog.events) / build_s),
        "render_images_per_s_128px": round(images_per_s, 1),
        "render_all_images_estimate_s": round(params["n_pins"] / images_per_s, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small size only (seconds)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--child", choices=list(SIZES), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.seed)))
        return
    results = {}
    for size in ["quick"] if args.quick else ["quick", "full"]:
        out = subprocess.run([sys.executable, __file__, "--child", size, "--seed", str(args.seed)],
                             capture_output=True, text=True, check=True)
        results[size] = json.loads(out.stdout.strip().splitlines()[-1])
    report = {"benchmark": "catalog.pinworld_generation", "cpu_count": os.cpu_count(), **results}
    if "full" in results:
        q, f = results["quick"], results["full"]
        report["scaling"] = {
            "events_ratio": round(f["events"] / q["events"], 1),
            "time_ratio": round(f["generate_total_s"] / q["generate_total_s"], 1),
            "memory_ratio": round(f["peak_rss_gb"] / q["peak_rss_gb"], 1),
        }
    print(json.dumps(report))  # one line: `pinsandbox bench` reads the last line of stdout


if __name__ == "__main__":
    main()
