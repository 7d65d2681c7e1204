"""One metric history per sandbox, and a regression alarm whose thresholds are measured run-to-run noise.

Every recorded run appends one JSON line to `<sandbox>/loop/history.jsonl` when it ends (the runner does it):
its id, notebook, state, params, commit, times and every metric. `metric_history` reads it back (runs recorded
before the history existed are taken from their run folders), one row per (run, metric).

The noise: runs of the same notebook with the same params at the same commit are reruns; for each metric, the
pooled standard deviation of its values around each group's mean is its run-to-run noise, and `z` times that
(default 4) is how far it may move before the alarm calls it a regression. The noise is measured on the runs
*before* the one judged, so a rerun is held to a threshold it did not help set. Why 4: the move judged is a
difference of two runs (sd √2·σ), so 4σ is 2.8 of its sd — about 1 false alarm in 400 per normally-noisy metric. A metric whose reruns agree exactly
(a seeded, deterministic figure) has noise 0: any move in the worse direction fires. A metric never rerun has
no measured noise and is listed as unmeasured rather than judged. Direction is read from the name
(`pinsandbox.bench.direction`: recall/ndcg higher is better, latencies lower).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd

from pinsandbox.errors import InvalidInput

HISTORY = "loop/history.jsonl"
Z = 4.0


def _plain_number(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and np.isfinite(value):
        return value
    return None


def history_entry(record) -> dict:
    env = record.env
    return {"run_id": record.id, "notebook": record.notebook, "state": record.state, "params": record.params,
            "git_commit": env.get("git_commit"), "started": env.get("started"), "ended": env.get("ended"),
            "duration_s": env.get("duration_s"), "metrics": record.metrics}


def append_history(sandbox, entry: dict) -> None:
    """Append one run's entry (a dict, or a RunRecord) to the sandbox's history: one line, fsynced, never rewritten."""
    from pinsandbox.sandbox import resolve

    sb = resolve(sandbox)
    if not isinstance(entry, dict):
        entry = history_entry(entry)
    path = sb.path(HISTORY)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(entry, sort_keys=True, default=str) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _entries(sb) -> list[dict]:
    from pinsandbox.runs.records import list_runs

    path = sb.path(HISTORY)
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    known = {e["run_id"] for e in entries}
    older = [history_entry(r) for r in list_runs(sb) if r.id not in known and r.state in ("ok", "failed")]
    return sorted(older, key=lambda e: e.get("started") or "") + entries


def metric_history(sandbox=None) -> pd.DataFrame:
    """Every run's numeric metrics, one row each: run_id, notebook, state, started, git_commit, params (JSON text),
    metric, value; in the order the runs were recorded. A run's `duration_s` is a metric too (`<notebook>.duration_s`)."""
    from pinsandbox.sandbox import resolve

    rows = []
    for i, e in enumerate(_entries(resolve(sandbox))):
        params = json.dumps(e.get("params") or {}, sort_keys=True)
        metrics = dict(e.get("metrics") or {})
        if e.get("duration_s") is not None:
            metrics["run.duration_s"] = e["duration_s"]
        for key, value in metrics.items():
            value = _plain_number(value)
            if value is not None:
                rows.append((i, e["run_id"], e["notebook"], e["state"], e.get("started"), e.get("git_commit"), params,
                             key, float(value)))
    return pd.DataFrame(rows, columns=["order", "run_id", "notebook", "state", "started", "git_commit", "params",
                                       "metric", "value"])


def noise_thresholds(history: pd.DataFrame, z: float = Z) -> pd.DataFrame:
    """Per (notebook, metric): reruns (groups of same params and commit with 2+ ok runs), pooled noise sd, threshold."""
    ok = history[history["state"] == "ok"]
    cols = ["notebook", "metric", "reruns", "noise_sd", "threshold"]
    if ok.empty:
        return pd.DataFrame(columns=cols)
    keys = ["notebook", "params", "git_commit", "metric"]
    g = ok.groupby(keys, dropna=False)["value"]
    ok = ok.assign(dev=ok["value"] - g.transform("mean"), n=g.transform("size"))
    ok = ok[ok["n"] >= 2]
    if ok.empty:
        return pd.DataFrame(columns=cols)
    groups = ok.groupby(keys, dropna=False).size().groupby(["notebook", "metric"]).agg(["sum", "count"])
    ss = (ok["dev"] ** 2).groupby([ok["notebook"], ok["metric"]]).sum()
    out = pd.DataFrame({"reruns": groups["sum"], "dof": groups["sum"] - groups["count"], "ss": ss})
    out["noise_sd"] = np.sqrt(out["ss"] / out["dof"])
    out["threshold"] = z * out["noise_sd"]
    return out.reset_index()[cols]


def regression_alarm(sandbox=None, run_id: str | None = None, z: float = Z) -> dict:
    """Compare a run (default: the latest ok one) with the previous ok run of the same notebook. A metric fires
    when it moved in its worse direction by more than z × its measured run-to-run noise."""
    from pinsandbox.bench import direction

    hist = metric_history(sandbox)
    ok = hist[hist["state"] == "ok"]
    if ok.empty:
        raise InvalidInput("no finished run in this sandbox's history yet: run a notebook first")
    runs = ok.drop_duplicates("run_id")[["run_id", "notebook", "order"]]
    if run_id is None:
        run_id = runs.iloc[-1]["run_id"]
    if run_id not in set(runs["run_id"]):
        raise InvalidInput(f"run {run_id!r} is not an ok run of this sandbox's history")
    me = runs[runs["run_id"] == run_id].iloc[0]
    earlier = runs[(runs["notebook"] == me["notebook"]) & (runs["order"] < me["order"])]
    result = {"run": run_id, "notebook": me["notebook"], "baseline": None, "alarms": [], "quiet": [], "unmeasured": []}
    if earlier.empty:
        return result
    base = earlier.iloc[-1]["run_id"]
    result["baseline"] = base
    now = ok[ok["run_id"] == run_id].set_index("metric")["value"]
    before = ok[ok["run_id"] == base].set_index("metric")["value"]
    noise = noise_thresholds(hist[hist["order"] < me["order"]], z)  # measured before the run judged
    noise = noise[noise["notebook"] == me["notebook"]].set_index("metric")["threshold"]
    for metric in sorted(set(now.index) & set(before.index)):
        way = direction(metric)
        if way is None:
            continue
        worse = (before[metric] - now[metric]) if way == "higher" else (now[metric] - before[metric])
        row = {"metric": metric, "value": float(now[metric]), "baseline": float(before[metric]), "worse_by": float(worse),
               "direction": way, "threshold": None if metric not in noise.index else float(noise[metric])}
        if row["threshold"] is None:
            result["unmeasured"].append(row)
        elif worse > row["threshold"] + 1e-12 * max(1.0, abs(before[metric])):
            result["alarms"].append(row)
        else:
            result["quiet"].append(row)
    return result
