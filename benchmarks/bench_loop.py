"""The loop (#18), in sections (`--only NAME`, repeatable; default all):

    python benchmarks/bench_loop.py            # everything (~25 min on 2 cores)
    python benchmarks/bench_loop.py --quick    # 3 gate worlds, a shorter load, 2 weeks (~6 min)

gate: does the gate promote genuinely retrained challengers and refuse degraded ones? Per seed: a small Pinworld (300 pins, 600 pinners) with a tiny encoder and a champion taste graph (stages 00,
01, 04 through their entry points), then 14 days of `data advance`; then two challengers gated against the
champion on the new window: a genuine retrain (the cheap refresh) and a degraded one trained on shuffled
engagement (`RetrainConfig(degrade="shuffle")`). Nothing is promoted (`promote=False`): both face the same
champion. How many of each the gate passed, the gains and their intervals, loop times.

serving: the real server on 127.0.0.1 over a copy of the seed-0 demo sandbox (`make demo`); beside it, a week
advanced and a challenger retrained; then 16 closed-loop clients while the challenger is promoted, and again while
it is rolled back:
failed requests out of how many, and seconds until /healthz shows the new champion (goal: 0 failed of >= 1,000,
visible within 5 s).

full: the less frequent full retrain on a copy of the seed-0 demo: a week advanced, then `pinsandbox retrain
--full` (the champion encoder and its Navigator's projector + LoRA trained further, warm-started; vectors, taste
graph; the gate with its Navigator-recall guard): the verdict, each guard, and the week's loop time (goal: <= 10 min).

weeks: four simulated weeks on a copy of the seed-0 demo sandbox. Week 0's champion is kept aside, frozen (its taste
graph and vectors, never updated); then each week: `data advance` 7 days and one turn of the loop as `pinsandbox
retrain` runs it (refresh vectors with the frozen encoder, refit the taste graph, gate, promote when it passes).
The week's new days are scored (homefeed NDCG@10, the same pinners) under the model the route serves after the loop
(the promoted challenger, or the champion the gate kept) and under the frozen one: both curves, their ratio with a
paired bootstrap interval, and the wall time of the week's loop (goal: retrained >= 1.10 x frozen by week 4; a
week's loop <= 10 min on 2 cores).

Without --quick each section writes its results page under docs/results (--results): loop.md (weeks),
loop-gate.md, loop-serving.md, loop-full.md.

Prints one JSON object, one key per section.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

SECTIONS = ("gate", "serving", "full", "weeks")
DEMO = Path(__file__).resolve().parent.parent / "sandboxes" / "demo"
RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"


def demo_copy(demo: Path, name: str):
    """A scratch copy of the demo sandbox under this run's root (the demo itself is never changed)."""
    import pinsandbox

    if not (demo / "artifacts" / "tastegraph" / "taste-graph").exists():
        raise SystemExit(f"{demo} has no demo sandbox with a taste graph: run `make demo` first")
    shutil.copytree(demo, Path(os.environ["PINSANDBOX_ROOT"]) / name, symlinks=True)
    return pinsandbox.open_sandbox(name)


def gate_section(n: int) -> dict:
    import pinsandbox
    from pinsandbox.catalog import CatalogConfig, advance_catalog, run_catalog
    from pinsandbox.embeddings import EmbeddingsConfig, TrainConfig, run_embeddings
    from pinsandbox.loop import RetrainConfig, run_retrain
    from pinsandbox.tastegraph import GNNConfig, TasteGraphConfig, TasteGraphStageConfig, run_tastegraph

    rows = []
    for seed in range(n):
        sb = pinsandbox.create(f"gate{seed}")
        run_catalog(sb, CatalogConfig(n_pins=300, n_pinners=600, seed=seed, render_images=False,
                                      n_navigator_requests=40), progress=False)
        run_embeddings(sb, EmbeddingsConfig(dim=32, seed=seed, train=TrainConfig(steps=15, batch_size=64, n_negatives=32)),
                       progress=False)
        run_tastegraph(sb, TasteGraphStageConfig(ablations=False, drift_weeks=0,
                                                 model=TasteGraphConfig(gnn=GNNConfig(dim=16, epochs=2))), progress=False)
        t = time.perf_counter()
        advance_catalog(sb, 14, progress=False)
        good = run_retrain(sb, RetrainConfig(seed=seed, promote=False, latency_pinners=50), progress=False)
        loop_s = time.perf_counter() - t
        bad = run_retrain(sb, RetrainConfig(seed=seed, promote=False, latency_pinners=50, vectors=False,
                                            degrade="shuffle"), progress=False)
        failed = lambda v: (["ndcg"] if v["interval"][0] < 0 else []) + [n for n, g in v["guards"].items() if not g["ok"]]  # noqa: E731
        rows.append({"seed": seed, "genuine_passed": good.verdict["passed"], "genuine_gain": round(good.verdict["gain"], 4),
                     "genuine_interval": [round(x, 4) for x in good.verdict["interval"]],
                     "genuine_failed": ", ".join(failed(good.verdict)) or "—",
                     "degraded_passed": bad.verdict["passed"], "degraded_gain": round(bad.verdict["gain"], 4),
                     "degraded_failed": ", ".join(failed(bad.verdict)) or "—", "loop_s": round(loop_s, 1)})
        print(json.dumps(rows[-1]), flush=True)
    return {"worlds": n,
            "gate_genuine_promoted": sum(r["genuine_passed"] for r in rows),
            "gate_degraded_refused": sum(not r["degraded_passed"] for r in rows),
            "genuine_gain_mean": round(sum(r["genuine_gain"] for r in rows) / n, 4),
            "loop_s_mean": round(sum(r["loop_s"] for r in rows) / n, 1),
            "per_seed": rows}


def serving_section(demo: Path, seconds: float) -> dict:
    from pinsandbox.catalog import advance_catalog, load_catalog
    from pinsandbox.loop import RetrainConfig, promote, rollback, run_retrain
    from pinsandbox.loop.swap import swap_under_load
    from pinsandbox.serving import start

    sb = demo_copy(demo, "swap")
    catalog = load_catalog(sb)
    pinners, pins = catalog.train_events()["pinner_id"].unique(), catalog.pins["pin_id"].to_numpy()
    out = {"goal_visible_s": 5.0, "goal_min_requests": 1000}
    with start(sb) as server:  # serving first, then time moves on and the loop runs beside it, as in production
        out["server_warm"] = server.wait_warm(300)["warm"]
        advance_catalog(sb, 7, progress=False)
        verdict = run_retrain(sb, RetrainConfig(promote=False), progress=False).verdict
        out["gate_passed"] = verdict["passed"]
        # forced only if the gate refused (then said so above): this section measures the swap, not the gate
        for name, action in (("promotion", lambda: promote(sb, force=not verdict["passed"])),
                             ("rollback", lambda: rollback(sb))):
            r = swap_under_load(server, action, pinners, pins, seconds=seconds, seed=0)
            out[name] = {k: r[k] for k in ("requests", "requests_after_action", "failed", "visible_s", "action_s",
                                           "clients", "seconds")}
            print(json.dumps({name: out[name]}), flush=True)
    out["goals_met"] = all(out[n]["failed"] == 0 and out[n]["requests_after_action"] >= 1000
                           and (out[n]["visible_s"] or 1e9) <= 5 for n in ("promotion", "rollback"))
    return out


def full_section(demo: Path) -> dict:
    from pinsandbox.catalog import advance_catalog
    from pinsandbox.loop import RetrainConfig, run_retrain

    sb = demo_copy(demo, "full")
    started = time.perf_counter()
    advance_catalog(sb, 7, progress=False)
    advanced = time.perf_counter()
    config = RetrainConfig(full=True, seed=0)  # `pinsandbox retrain --full`'s defaults
    result = run_retrain(sb, config, progress=False)
    done = time.perf_counter()
    v, m = result.verdict, result.metrics
    out = {"encoder_steps": config.encoder_steps, "navigator_steps": config.navigator_steps, "passed": v["passed"],
           "promoted": result.promoted is not None, "gain": round(v["gain"], 4),
           "interval": [round(x, 4) for x in v["interval"]], "reasons": v["reasons"],
           "guards": {name: {k: (round(x, 4) if isinstance(x, float) else x) for k, x in g.items()}
                      for name, g in v["guards"].items()},
           "new_pins_embedded": m["retrain.new_pins_embedded"], "vectors_s": round(m["retrain.vectors_s"], 1),
           "navigator_train_s": round(m.get("retrain.navigator_train_s", float("nan")), 1),
           "fit_s": round(m["retrain.fit_s"], 1), "advance_s": round(advanced - started, 1),
           "retrain_s": round(done - advanced, 1), "week_loop_s": round(done - started, 1), "goal_week_loop_s": 600.0}
    print(json.dumps(out), flush=True)
    return out


def weeks_section(demo: Path, weeks: int) -> dict:
    from pinsandbox.catalog import advance_catalog, load_catalog
    from pinsandbox.loop import RetrainConfig, run_retrain, score_on_window
    from pinsandbox.metrics import bootstrap_ci
    from pinsandbox.tastegraph.metrics import temporal_split
    from pinsandbox.tastegraph.model import TasteGraph

    sb = demo_copy(demo, "weeks")
    frozen = TasteGraph.load(sb)  # week 0's champion, never updated: the route without the loop

    def score(week: int, served, loop: dict) -> dict:
        catalog = load_catalog(sb)
        train, test = temporal_split(catalog.events, catalog.cutoff)
        scores, _ = score_on_window({"frozen": frozen, "retrained": served}, train, test, k=10, latency_pinners=0)
        gain = (scores["ndcg.retrained"] - scores["ndcg.frozen"]).to_numpy()
        lo, hi = bootstrap_ci(gain, n=2000, seed=0)
        f, r = float(scores["ndcg.frozen"].mean()), float(scores["ndcg.retrained"].mean())
        row = {"week": week, "ndcg@10_frozen": round(f, 4), "ndcg@10_retrained": round(r, 4),
               "retrained_over_frozen": round(r / f, 4), "gain_interval": [round(lo, 4), round(hi, 4)],
               "pinners": len(scores), "pins": int(len(catalog.pins)), **loop}
        print(json.dumps(row), flush=True)
        return row

    rows = [score(0, frozen, {})]  # week 0: the demo's own held-out window, both routes the same model
    for week in range(1, weeks + 1):
        started = time.perf_counter()
        advance_catalog(sb, 7, progress=False)
        advanced = time.perf_counter()
        result = run_retrain(sb, RetrainConfig(seed=0), progress=False)  # `pinsandbox retrain`'s defaults
        done = time.perf_counter()
        served = result.challenger if result.promoted else TasteGraph.load(sb)  # what serves the new week
        rows.append(score(week, served, {
            "gate_passed": result.verdict["passed"], "promoted": result.promoted is not None,
            "gate_reasons": result.verdict["reasons"], "logged_events_used": result.metrics["retrain.logged_events_used"],
            "advance_s": round(advanced - started, 1),
            "retrain_s": round(done - advanced, 1), "week_loop_s": round(done - started, 1)}))
    last = rows[-1]
    return {"weeks": weeks, "seed": 0, "ndcg@10_frozen": [r["ndcg@10_frozen"] for r in rows],
            "ndcg@10_retrained": [r["ndcg@10_retrained"] for r in rows],
            "final_retrained_over_frozen": last["retrained_over_frozen"], "goal_ratio": 1.10,
            "final_goal_met": last["retrained_over_frozen"] >= 1.10,
            "week_loop_s_max": max(r["week_loop_s"] for r in rows[1:]), "goal_week_loop_s": 600.0,
            "promoted_weeks": sum(r["promoted"] for r in rows[1:]), "per_week": rows}


def write_page(results: Path, name: str, title: str, section: str, body: list[str]) -> Path:
    """docs/results/<name> with the generated-page header: what wrote it, when, on which commit and host."""
    import datetime as dt
    import platform

    from pinsandbox.runs.runner import _git_commit
    from pinsandbox.sandbox.artifacts import write_text_atomic

    lines = [f"# {title}", "",
             f"_Generated by `python benchmarks/bench_loop.py --only {section}` (seed 0) on "
             f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, git commit `{_git_commit() or 'unknown'}`, "
             f"host {platform.node()} ({os.cpu_count()} cores, 1-min load average {os.getloadavg()[0]:.1f} when written) — "
             "do not edit by hand; rerun it to measure again. What it measures: the docstring of "
             "`benchmarks/bench_loop.py`. The other loop pages: [weeks](loop.md), [gate](loop-gate.md), "
             "[serving swaps](loop-serving.md), [full retrain](loop-full.md)._", "", *body, ""]
    page = results / name
    write_text_atomic(page, "\n".join(lines))
    return page


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def gate_page(out: dict, results: Path) -> Path:
    import pandas as pd

    from pinsandbox.evaluation.report import table

    frame = pd.DataFrame(out["per_seed"]).astype(object)
    frame["genuine_interval"] = frame["genuine_interval"].map(lambda v: f"[{v[0]:+.4f}, {v[1]:+.4f}]")
    n = out["worlds"]
    return write_page(results, "loop-gate.md", "The loop: the gate against genuine and degraded challengers", "gate", [
        f"{n} seeded worlds (300 pins, 600 pinners, a tiny encoder and a champion taste graph, then 14 days of "
        "`data advance`). In each, two challengers face the same champion on the new window: a genuine retrain (the "
        "cheap refresh) and a degraded one fitted on engagement shuffled across pins. The gate promotes when the paired "
        "95 % bootstrap lower bound of the NDCG@10 gain is ≥ 0 and no guard (recall@10, homefeed p99 latency, cost "
        "per request, saves per pinner in the A/B simulation) is worse beyond its tolerance.", "",
        f"- degraded challengers refused: **{out['gate_degraded_refused']} of {n}** "
        f"(goal {n} of {n}: {_met(out['gate_degraded_refused'] == n)})",
        f"- genuine challengers promoted: **{out['gate_genuine_promoted']} of {n}** "
        f"(goal ≥ {n - max(1, n // 20)} of {n}: {_met(out['gate_genuine_promoted'] >= n - max(1, n // 20))})",
        f"- mean genuine NDCG@10 gain {out['genuine_gain_mean']:+.4f}; mean loop (advance + refresh + refit + gate) "
        f"{out['loop_s_mean']} s", "", table(frame)])


def serving_page(out: dict, results: Path) -> Path:
    import pandas as pd

    from pinsandbox.evaluation.report import table

    rows = [{"swap": name, **{k: out[name][k] for k in ("requests_after_action", "failed", "visible_s", "action_s",
                                                        "clients", "seconds")}} for name in ("promotion", "rollback")]
    return write_page(results, "loop-serving.md", "The loop: promotion and rollback under load", "serving", [
        "The real server on 127.0.0.1 over a copy of the seed-0 demo; a week advanced and a challenger retrained "
        "beside it; then 16 closed-loop clients (homefeed, similar, events, Navigator) while the challenger is "
        "promoted, and again while it is rolled back. `visible_s`: from the promotion's start until `/healthz` "
        "reports the new champion; `action_s`: the promotion (or rollback) itself. A rollback revives the champion "
        "the server still holds in memory, caught up with the events logged meanwhile.", "",
        table(pd.DataFrame(rows)), "",
        f"- goals (0 failed of ≥ {out['goal_min_requests']:,} requests, visible within {out['goal_visible_s']:g} s): "
        f"**{_met(out['goals_met'])}**"])


def full_page(out: dict, results: Path) -> Path:
    import pandas as pd

    from pinsandbox.evaluation.report import table

    guards = pd.DataFrame(out["guards"]).T.reset_index(names="guard").astype(object)
    guards = guards.where(guards.notna(), "—")  # a column only some guards have
    return write_page(results, "loop-full.md", "The loop: one full retrain", "full", [
        "A copy of the seed-0 demo, a week advanced, then `pinsandbox retrain --full`: the champion encoder trained "
        f"{out['encoder_steps']} more steps on the newest data and every pin re-embedded, the champion Navigator's "
        f"projector and LoRA trained {out['navigator_steps']} more steps on those vectors (warm starts), the taste graph "
        "refitted; then the gate. Navigator recall@10 is measured on the stage's held-out requests, the champion with "
        "its own vectors.", "",
        f"- verdict: **{'passed' if out['passed'] else 'refused'}**" + (", promoted" if out["promoted"] else "")
        + f"; NDCG@10 gain {out['gain']:+.4f}, 95 % interval [{out['interval'][0]:+.4f}, {out['interval'][1]:+.4f}]",
        *[f"- {r}" for r in out["reasons"][1:]],
        f"- the week's loop (advance + full retrain + gate + promotion): **{out['week_loop_s']} s** (goal ≤ "
        f"{out['goal_week_loop_s']:.0f} s: {_met(out['week_loop_s'] <= out['goal_week_loop_s'])}); encoder and "
        f"vectors {out['vectors_s']} s, Navigator {out['navigator_train_s']} s, taste graph {out['fit_s']} s", "",
        "The guards (challenger against the limit the champion sets):", "", table(guards)])


def weeks_page(out: dict, results: Path) -> Path:
    """docs/results/loop.md (and its figure) from the weeks section: generated, never edited by hand."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from pinsandbox.evaluation.report import table
    from pinsandbox.sandbox.artifacts import atomic_file

    rows = out["per_week"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    weeks = [r["week"] for r in rows]
    ax.plot(weeks, out["ndcg@10_retrained"], marker="o", label="retrained each week (the loop)")
    ax.plot(weeks, out["ndcg@10_frozen"], marker="s", label="frozen at week 0")
    ax.set(xlabel="simulated week", ylabel="homefeed NDCG@10 on the week", xticks=weeks,
           title="Four simulated weeks on the demo catalog (seed 0)")
    ax.legend()
    fig.tight_layout()
    image = results / "img" / "loop-weeks.png"
    image.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(image) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    cols = ["week", "ndcg@10_frozen", "ndcg@10_retrained", "retrained_over_frozen", "gain_interval", "pinners", "pins",
            "promoted", "advance_s", "retrain_s", "week_loop_s"]
    frame = pd.DataFrame(rows).reindex(columns=cols).astype(object)
    frame["gain_interval"] = frame["gain_interval"].map(lambda v: f"[{v[0]:+.4f}, {v[1]:+.4f}]")
    frame = frame.where(frame.notna(), "—")  # week 0 runs no loop
    reasons = [f"- week {r['week']}: " + "; ".join(r["gate_reasons"]) for r in rows[1:]]
    return write_page(results, "loop.md", "The loop: four simulated weeks", "weeks", [
        "Each week the catalog advances 7 days and one turn of the loop runs (`pinsandbox retrain`: refresh, refit, "
        "gate, promote); the new week is then scored under what the loop serves and under the model frozen at "
        "week 0 (week 0: the demo's own held-out window, one model). The interval is the paired 95 % bootstrap "
        "interval of the per-pinner NDCG@10 gain; times are per week, in seconds. Each week is its own window "
        "(week 0's is the demo's held-out window, longer than 7 days): compare the two routes within a week, not a "
        "route across weeks.", "",
        f"The frozen model gets no updates at all. The retrained route also folds in the {rows[-1]['logged_events_used']} "
        "events the demo's serving load test logged (`serving/events.db`), as `pinsandbox retrain` does.", "",
        "![NDCG@10 per week](img/loop-weeks.png)", "", table(frame), "",
        f"- retrained / frozen at week {out['weeks']}: **{out['final_retrained_over_frozen']}** "
        f"(goal ≥ {out['goal_ratio']}: {'met' if out['final_goal_met'] else 'not met'})",
        f"- slowest week's loop: **{out['week_loop_s_max']} s** (goal ≤ {out['goal_week_loop_s']:.0f} s: "
        f"{'met' if out['week_loop_s_max'] <= out['goal_week_loop_s'] else 'not met'})",
        f"- challengers promoted: {out['promoted_weeks']} of {out['weeks']}", "", "The gate's reasons:", "",
        *reasons])


PAGES = {"gate": gate_page, "serving": serving_page, "full": full_page, "weeks": weeks_page}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=None, help="gate: how many seeded worlds (default 20, quick 3)")
    ap.add_argument("--only", action="append", choices=SECTIONS, help="run only this section (repeatable)")
    ap.add_argument("--demo", type=Path, default=DEMO, help="the seed-0 demo sandbox to copy (serving, weeks)")
    ap.add_argument("--results", type=Path, default=RESULTS, help="where the results pages go (not with --quick)")
    args = ap.parse_args()
    os.environ["PINSANDBOX_ROOT"] = tempfile.mkdtemp(prefix="bench-loop-")
    import torch

    torch.set_num_threads(2)
    out = {}
    for section in args.only or SECTIONS:
        started = time.perf_counter()
        if section == "gate":
            out[section] = gate_section(args.seeds or (3 if args.quick else 20))
        elif section == "serving":
            out[section] = serving_section(args.demo, 8.0 if args.quick else 15.0)
        elif section == "full":
            out[section] = full_section(args.demo)
        elif section == "weeks":
            out[section] = weeks_section(args.demo, 2 if args.quick else 4)
        if not args.quick:
            out[section]["page"] = str(PAGES[section](out[section], args.results))
        out[section]["section_s"] = round(time.perf_counter() - started, 1)
    shutil.rmtree(os.environ["PINSANDBOX_ROOT"], ignore_errors=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
