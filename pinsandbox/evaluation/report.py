"""The side-by-side report: the off-the-shelf route vs the blueprint, on cost, latency, accuracy and engagement.

Built from what the sandbox already holds — the evaluation artifact (gold sets, A/B), every stage's latest
successful run metrics — and the newest benchmark report. Written to `<sandbox>/report.md`.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd

from pinsandbox.errors import NotFound
from pinsandbox.sandbox.artifacts import write_text_atomic

COST_LATENCY = re.compile(r"ttft|flops|cost|latency|speedup|reduction|p50|p99|qps|_ms\b|_s\b|ratio", re.I)


def _fmt(x) -> str:
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def _table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def latest_run_metrics(sandbox) -> dict[str, tuple[str, dict]]:
    """notebook stem -> (run id, metrics) of its latest successful run in the sandbox."""
    from pinsandbox.runs.records import list_runs

    out = {}
    for run in list_runs(sandbox):  # oldest first, so later runs overwrite earlier ones
        if run.state == "ok" and run.metrics:
            out[run.notebook.rsplit("/", 1)[-1].removesuffix(".ipynb") or run.id] = (run.id, run.metrics)
    return out


def latest_bench() -> tuple[str, dict] | None:
    from pinsandbox.bench import REPORTS

    reports = sorted(REPORTS.glob("bench-*.json"))
    return (str(reports[-1]), json.loads(reports[-1].read_text())) if reports else None


def _flat(obj, prefix=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _flat(v, f"{prefix}{k}.")
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield prefix[:-1], obj


def _find(metrics: dict, pattern: str):
    hits = [v for k, v in metrics.items() if re.search(pattern, k)]
    return hits[0] if hits else None


def at_a_glance(res, metrics: dict) -> list[dict]:
    """The few rows a reader wants first: cost, latency, accuracy, engagement — off-the-shelf vs blueprint."""
    rows = []
    flops = _find(metrics, r"flops_ratio")
    if flops:
        rows.append({"aspect": "cost", "figure": "FLOPs per Navigator request (vision swap)", "off-the-shelf route": "1×",
                     "blueprint": f"{flops:.1f}× fewer"})
    t_orig, t_swap = _find(metrics, r"ttft_original_s$"), _find(metrics, r"ttft_swapped_s$")
    if t_orig and t_swap:
        rows.append({"aspect": "latency", "figure": "time to first token (CPU, proportional model)",
                     "off-the-shelf route": f"{t_orig:.3g} s", "blueprint": f"{t_swap:.3g} s ({t_orig / t_swap:.1f}× faster)"})
    p99 = _find(metrics, r"serving\.homefeed_p99_ms$")
    if p99:
        rows.append({"aspect": "latency", "figure": "homefeed p99, 50 clients (serving notebook)", "off-the-shelf route": "—",
                     "blueprint": f"{p99:.0f} ms"})
    if res is not None:
        gold = res.gold.set_index(["task", "variant"])
        ndcg = [c for c in res.gold.columns if c.startswith("ndcg@")][0]
        for task in dict.fromkeys(res.gold["task"]):
            if (task, "off-the-shelf") in gold.index and (task, "blueprint") in gold.index:
                a, b = gold.loc[(task, "off-the-shelf"), ndcg], gold.loc[(task, "blueprint"), ndcg]
                rows.append({"aspect": "accuracy", "figure": f"{task} {ndcg} (gold set)", "off-the-shelf route": f"{a:.3f}",
                             "blueprint": f"{b:.3f}" + (f" ({(b / a - 1) * 100:+.0f}%)" if a > 0 else "")})
        ab = res.ab.set_index("metric")
        base, treat = ab.columns[0], ab.columns[1]
        for metric in ("saves", "board_creations", "merchant_clicks"):
            if metric in ab.index:
                r = ab.loc[metric]
                rows.append({"aspect": "engagement", "figure": f"{metric.replace('_', ' ')} per pinner (A/B)",
                             "off-the-shelf route": f"{r[base]:.3g}",
                             "blueprint": f"{r[treat]:.3g}, Δ [{r['ci_low']:+.2g}, {r['ci_high']:+.2g}]: {r['verdict']}"})
    return rows


def build_report(sandbox=None) -> str:
    from pinsandbox.evaluation.pipeline import load_results
    from pinsandbox.sandbox import resolve

    sb = resolve(sandbox)
    lines = [f"# Side-by-side report — sandbox `{sb.owner}`", "",
             f"_Built {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}. Off-the-shelf route (generic embeddings, "
             "one taste vector, text retrieval) vs the blueprint (proprietary embeddings, taste graph, swapped VLM)._", ""]
    sources = []
    try:
        res = load_results(sb)
    except NotFound:
        res = None
    runs = latest_run_metrics(sb)
    glance = at_a_glance(res, {k: v for _, (_, m) in sorted(runs.items()) for k, v in _flat(m)})
    if glance:
        lines += ["## At a glance", "", _table(pd.DataFrame(glance)), ""]
    if res is None:
        lines += ["## Accuracy and engagement", "", "No evaluation yet: run `notebooks/06_evaluation_ab.ipynb` "
                  f"(`pinsandbox run notebooks/06_evaluation_ab.ipynb --sandbox {sb.owner}`).", ""]
    if res is not None:
        sources.append(f"evaluation artifact `{res.artifact_id}`")
        gold = res.gold.melt(id_vars=["variant", "task"], value_vars=[c for c in res.gold if "@" in c], var_name="metric")
        wide = gold.pivot_table(index=["task", "metric"], columns="variant", values="value", sort=False).reset_index()
        if {"off-the-shelf", "blueprint"} <= set(wide.columns):
            wide["blueprint vs off-the-shelf"] = [
                f"{(b / a - 1) * 100:+.0f}%" if a > 0 else "n/a" for a, b in zip(wide["off-the-shelf"], wide["blueprint"], strict=False)]
        lines += ["## Accuracy — gold sets", "", _table(wide), ""]
        ab = res.ab.copy()
        ab["95% CI of difference"] = [f"[{lo:+.3g}, {hi:+.3g}]" for lo, hi in zip(ab["ci_low"], ab["ci_high"], strict=False)]
        ab["lift"] = [f"{x * 100:+.0f}%" if pd.notna(x) else "n/a" for x in ab["lift"]]
        ab = ab.drop(columns=["ci_low", "ci_high"])
        lines += ["## Engagement — A/B simulation (per pinner, paired bootstrap)", "", _table(ab), ""]
        lines += ["Variants:", ""] + [f"- **{n}**: {d}" for n, d in res.variants.items()] + [""]
    figures = []
    for stem, (run_id, metrics) in sorted(runs.items()):
        for key, value in _flat(metrics):
            if COST_LATENCY.search(key):
                figures.append({"figure": key, "value": value, "source": f"{stem} (run {run_id})"})
    bench = latest_bench()
    if bench is not None:
        path, report = bench
        sources.append(f"benchmark report `{path}`")
        for key, value in _flat(report.get("results", {})):
            if COST_LATENCY.search(key) and not key.endswith("wall_s"):
                figures.append({"figure": key, "value": value, "source": "bench"})
    lines += ["## Cost and latency", ""]
    lines += [_table(pd.DataFrame(figures)), ""] if figures else [
        "No cost or latency figures yet: run the vision-swap notebook and `pinsandbox bench`.", ""]
    lines += ["## Where these figures come from", ""] + [f"- {s}" for s in sources] + [
        f"- latest successful run of each notebook in `{sb.runs_dir}`", ""]
    return "\n".join(lines)


def write_report(sandbox=None) -> tuple[str, object]:
    from pinsandbox.sandbox import resolve

    sb = resolve(sandbox)
    text = build_report(sb)
    path = sb.path("report.md")
    write_text_atomic(path, text)
    return text, path
