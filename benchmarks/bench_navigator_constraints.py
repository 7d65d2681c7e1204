"""Navigator's hard constraints on the held-out requests: the share of returned pins that break a stated price
limit or category, each request asked as the gold set writes it, with its price in words and with "bucks".

The fine-tuned Navigator of the sandbox (--sandbox NAME, else `demo`) answers every held-out request of its gold
set (`split == "test"`, 200 in the demo), top --k; the truth is the gold row's own `max_price` and `category`, not
what the parser read. Replies are left out: they never change which pins come back.

    python benchmarks/bench_navigator_constraints.py [--quick] [--sandbox NAME] [--k 10]

Prints one JSON object: per phrasing the requests, pins returned, price and category violation shares and how
often the parser read both constraints exactly; the Navigator's preset; `targets` (0 violations) with `met`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: idle threads sleep on a shared CPU


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the first 20 held-out requests")
    ap.add_argument("--sandbox", default="demo")
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args(argv)

    from pinsandbox.catalog import load_ground_truth
    from pinsandbox.errors import PinsandboxError
    from pinsandbox.sandbox import resolve
    from pinsandbox.serving.navigator import Navigator, constraint_violations

    t0 = time.perf_counter()
    try:
        sb = resolve(args.sandbox)
        nav = Navigator.load(sb, replies=False)
    except PinsandboxError as e:
        sys.exit(f"bench_navigator_constraints: {e} (make demo builds the `demo` sandbox)")
    gold = load_ground_truth(sb).gold_navigator
    held_out = gold[gold["split"] == "test"]
    if args.quick:
        held_out = held_out.head(20)
    report = constraint_violations(nav, held_out, k=args.k)
    navigator = getattr(nav.ranker, "navigator", None)
    worst = max(max(r["price_violations"], r["category_violations"]) for r in report.values())
    result = {
        "benchmark": "navigator_constraints",
        "sandbox": sb.owner,
        "preset": navigator.config.preset if navigator is not None else None,
        "k": args.k,
        "phrasings": report,
        "targets": {"violations": {"value": worst, "target": 0, "met": worst == 0}},
        "wall_s": time.perf_counter() - t0,
    }
    print(json.dumps(result, default=float))  # one line: `pinsandbox bench` reads the last line
    return result


if __name__ == "__main__":
    main()
