"""`pinsandbox bench`: run every `benchmarks/bench_*.py`, collect their JSON into one report.

Each benchmark is a script that measures and prints one JSON object as its last line of stdout
(`--quick` for a small, fast version). The report — JSON and Markdown — goes to `benchmarks/reports/`,
with the previous report's figures beside the new ones.
"""

from __future__ import annotations

import datetime as dt
import json
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
    try:
        result = json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"error": f"last line is not JSON: {lines[-1][:200]}", "wall_s": elapsed}
    return {**result, "wall_s": elapsed}


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
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    path = REPORTS / f"bench-{stamp}.json"
    path.write_text(json.dumps(report, indent=1))
    (REPORTS / f"bench-{stamp}.md").write_text(markdown(report, before))
    return report, path


def _flatten(obj, prefix=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _flatten(v, f"{prefix}{k}.")
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield prefix[:-1], obj


def markdown(report: dict, before: dict | None) -> str:
    old = dict(_flatten(before["results"])) if before else {}
    lines = [f"# pinsandbox benchmarks — {report['created']}", "", "| figure | value | previous |", "|---|---:|---:|"]
    for key, value in _flatten(report["results"]):
        prev = old.get(key)
        lines.append(f"| {key} | {value:.6g} | {'' if prev is None else f'{prev:.6g}'} |")
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
