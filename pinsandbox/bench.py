"""`pinsandbox bench`: run every `benchmarks/bench_*.py`, collect their JSON into one report.

Each benchmark is a script that measures and prints one JSON object at the end of its stdout (`--quick` for
a small, fast version). The report — JSON and Markdown — goes to `benchmarks/reports/`: headline figures first
(TTFT and FLOPs ratios, accuracy, ANN recall/QPS, update latency, serving p99), every figure with the previous
report's value beside it, and a flag on each regression. Direction is read from the figure's name: latencies,
seconds and errors should go down; ratios, speedups, QPS, recall and accuracy should go up.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from pinsandbox import settings
from pinsandbox.errors import InvalidInput, NotFound

REPORTS = settings.BENCHMARKS_DIR / "reports"


def discover(only: list[str] | None = None) -> list[Path]:
    scripts = sorted(settings.BENCHMARKS_DIR.glob("bench_*.py"))
    if only:
        names = {s.stem.removeprefix("bench_"): s for s in scripts}
        unknown = [n for n in only if n not in names]
        if unknown:
            raise NotFound(f"no benchmark {', '.join(unknown)}: available are {', '.join(sorted(names))}")
        scripts = [names[n] for n in only]
    return scripts


def run_benchmark(script: Path, quick: bool, timeout_s: float = 3600) -> dict:
    argv = [sys.executable, str(script)] + (["--quick"] if quick else [])
    started = time.time()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
    elapsed = round(time.time() - started, 1)
    lines = [line for line in proc.stdout.strip().splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:] or ['no output']}", "wall_s": elapsed}
    result = last_json(proc.stdout)
    if result is None:
        return {"error": f"no JSON object at the end of the output: {lines[-1][:200]}", "wall_s": elapsed}
    return {**result, "wall_s": elapsed}


def last_json(stdout: str) -> dict | None:
    """The JSON object a benchmark printed last: its last line, or an indented object ending the output."""
    lines = stdout.rstrip().splitlines()
    for start in range(len(lines) - 1, -1, -1):
        if lines[start].startswith("{"):
            try:
                obj = json.loads("\n".join(lines[start:]))
            except json.JSONDecodeError:
                continue
            return obj if isinstance(obj, dict) else None
    return None


def previous_report() -> dict | None:
    reports = sorted(REPORTS.glob("bench-*.json"))
    return json.loads(reports[-1].read_text()) if reports else None


def run_all(quick: bool = False, only: list[str] | None = None) -> tuple[dict, Path]:
    scripts = discover(only)
    if not scripts:
        raise InvalidInput(f"no benchmarks found in {settings.BENCHMARKS_DIR}")
    before = previous_report()
    report = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "results": {},
    }
    for script in scripts:
        print(f"bench {script.stem}…", file=sys.stderr, flush=True)
        report["results"][script.stem.removeprefix("bench_")] = run_benchmark(script, quick)
    REPORTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")  # two runs in one second must not overwrite each other
    path = REPORTS / f"bench-{stamp}.json"
    report["comparison"] = compare(report, before)
    report["regressions"] = [k for k, c in report["comparison"].items() if c["regression"]]
    report["previous"] = before.get("created") if before else None
    path.write_text(json.dumps(report, indent=1))
    (REPORTS / f"bench-{stamp}.md").write_text(markdown(report, before))
    return report, path


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _flatten(obj, prefix="", leaf=is_number):
    """(dotted key, value) of every leaf of a benchmark's JSON for which `leaf(value)` holds (numbers by default)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _flatten(v, f"{prefix}{k}.", leaf)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _flatten(v, f"{prefix}{i}.", leaf)
    elif leaf(obj):
        yield prefix[:-1], obj


HIGHER = re.compile(r"ratio|speedup|qps|recall|precision|ndcg|accuracy|lift|hit_rate|per_s\b|throughput", re.I)
LOWER = re.compile(r"_ms\b|_s\b|seconds|latency|p50|p99|errors|_gb\b|_mb\b|loss|\bwer\b|\bwer_|word_error", re.I)
# (label, pattern over flattened keys): the figures the report leads with
HEADLINES = [
    ("TTFT ratio, original ÷ swapped", re.compile(r"ttft.*ratio", re.I)),
    ("FLOPs ratio, original ÷ swapped", re.compile(r"flops.*ratio", re.I)),
    ("accuracy", re.compile(r"(recall|ndcg|accuracy|lift)[@_]?\d*$", re.I)),
    ("ANN recall / QPS", re.compile(r"(chosen|ann)\..*(recall|qps)|exact_qps", re.I)),
    ("update latency", re.compile(r"update.*(p50|p99|mean)_ms", re.I)),
    ("serving p99", re.compile(r"(homefeed|navigator)_p99_ms", re.I)),
]
TOLERANCE = 0.10  # a change under 10% is noise on a shared machine, not a regression


SETTINGS = {"seconds", "think_ms", "clients", "cpus", "pins", "quick", "k", "dim", "n", "size"}  # inputs, not results


def direction(key: str) -> str | None:
    """'higher' or 'lower' is better, from the figure's name (its last part); None when it does not say."""
    leaf = key.rsplit(".", 1)[-1]
    if leaf in SETTINGS:
        return None
    for name in (leaf, key):
        if HIGHER.search(name):
            return "higher"
        if LOWER.search(name):
            return "lower"
    return None


def compare(report: dict, before: dict | None) -> dict:
    """Every figure: value, previous value, relative change, direction, and whether it regressed."""
    old = dict(_flatten(before["results"])) if before else {}
    out = {}
    for key, value in _flatten(report["results"]):
        if key.endswith("wall_s"):
            continue
        prev, way = old.get(key), direction(key)
        change = (value - prev) / abs(prev) if prev not in (None, 0) else None
        worse = change is not None and way is not None and (
            change < -TOLERANCE if way == "higher" else change > TOLERANCE)
        out[key] = {"value": value, "previous": prev, "change": change, "direction": way, "regression": bool(worse)}
    return out


def headlines(comparison: dict) -> list[tuple[str, str, dict]]:
    rows = []
    for label, pattern in HEADLINES:
        rows += [(label, k, c) for k, c in comparison.items() if pattern.search(k)]
    return rows


def _row(key: str, c: dict) -> str:
    prev = "" if c["previous"] is None else f"{c['previous']:.6g}"
    change = "" if c["change"] is None else f"{c['change'] * 100:+.0f}%"
    flag = "⚠ regression" if c["regression"] else ""
    better = {"higher": "↑", "lower": "↓", None: ""}[c["direction"]]
    return f"| {key} | {c['value']:.6g} | {prev} | {change} | {better} | {flag} |"


def markdown(report: dict, before: dict | None) -> str:
    comparison = report.get("comparison") or compare(report, before)
    head = "| figure | value | previous | change | better | |\n|---|---:|---:|---:|:-:|---|"
    lines = [f"# pinsandbox benchmarks — {report['created']}", "",
             f"Previous report: {before['created'] if before else 'none'}. "
             f"Regressions (worse by more than {TOLERANCE:.0%}): {len(report.get('regressions', []))}.", ""]
    errors = {name: r["error"] for name, r in report["results"].items() if "error" in r}
    if errors:
        lines += ["**Failed benchmarks:** " + "; ".join(f"{n}: {e}" for n, e in errors.items()), ""]
    lines += ["## Headline figures", "", head]
    lines += [_row(f"{label}: {key}", c) for label, key, c in headlines(comparison)]
    lines += ["", "## Every figure", "", head] + [_row(k, c) for k, c in comparison.items()]
    return "\n".join(lines) + "\n"


def register(sub) -> None:
    b = sub.add_parser("bench", help="run the benchmarks in benchmarks/ and write one report")
    b.add_argument("--json", action="store_true", help="print the report as JSON")
    b.add_argument("--quick", action="store_true", help="small sizes, for a fast look")
    b.add_argument("--only", action="append", metavar="NAME", help="one benchmark (e.g. catalog); repeatable")
    b.set_defaults(handler=_bench)


def _bench(args):
    report, path = run_all(quick=args.quick, only=args.only)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(path.with_suffix(".md").read_text())
    print(f"report: {path} (and {path.with_suffix('.md').name})", file=sys.stderr)
