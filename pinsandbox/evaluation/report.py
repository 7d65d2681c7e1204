"""The side-by-side report: the off-the-shelf route vs the blueprint, on cost, latency, accuracy and engagement.

Reads typed results only: the figures declared in `pinsandbox.evaluation.headlines`, from the latest `ok` run of
each stage notebook (`RunRecord.metrics`) and from the published `evaluation/results` artifact; every figure says
which run (or artifact) it came from. A stage that has not run gives a line saying which notebook to run; a stage
that ran without a declared figure raises `ReportError`. Written to `<sandbox>/report.md`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import pandas as pd

from pinsandbox.errors import NotFound
from pinsandbox.evaluation.headlines import HEADLINES, ReportError, check_figures, evaluation_headlines
from pinsandbox.sandbox.artifacts import write_text_atomic
from pinsandbox.stages import NOTEBOOKS, STAGES

__all__ = ["ReportError", "StageFigures", "Collected", "collect", "build_report", "write_report"]


@dataclass
class StageFigures:
    """One stage's declared figures and where they came from."""

    stage: str
    run: object | None  # the RunRecord they were read from (evaluation: the run that made the artifact, if any)
    figures: dict  # key -> value
    headlines: tuple  # the declared Headline entries, in display order
    source: str  # e.g. "run 20261202-…-04_taste_graph-ab12" or "evaluation/results@… (run …)"

    @property
    def notebook(self) -> str:
        return NOTEBOOKS[self.stage]

    def labelled(self) -> list[tuple[str, str, object]]:
        return [(h.label, h.key, self.figures[h.key]) for h in self.headlines if h.key in self.figures]


@dataclass
class Collected:
    sandbox: object
    stages: dict[str, StageFigures | None] = field(default_factory=dict)  # None: not run yet
    evaluation: object | None = None  # EvaluationResult read from the artifact
    bench: tuple[str, dict] | None = None  # (path, report) of the newest benchmark report

    def get(self, key: str):
        """(value, source) of a declared figure, or (None, None) when its stage has not run."""
        stage = self.stages.get(key.split(".", 1)[0])
        if stage is None or key not in stage.figures:
            return None, None
        return stage.figures[key], stage.source

    def how_to_run(self, stage: str) -> str:
        from pinsandbox.stages import has_run

        nb = NOTEBOOKS[stage]
        command = f"`pinsandbox run notebooks/{nb}.ipynb --sandbox {self.sandbox.owner}`"
        if has_run(self.sandbox, stage):  # run from the CLI or Python: its artifacts exist, but no run recorded figures
            return f"its artifacts exist but no notebook run recorded its figures: run `notebooks/{nb}.ipynb` ({command})"
        return f"run `notebooks/{nb}.ipynb` ({command})"


def latest_ok_runs(sandbox) -> dict:
    """notebook stem -> its latest `ok` RunRecord in the sandbox."""
    from pinsandbox.runs.records import list_runs

    out = {}
    for run in list_runs(sandbox):  # oldest first, so later runs overwrite earlier ones
        if run.state == "ok":
            out[run.notebook] = run
    return out


def latest_bench() -> tuple[str, dict] | None:
    from pinsandbox.bench import REPORTS

    reports = sorted(REPORTS.glob("bench-*.json"))
    return (str(reports[-1]), json.loads(reports[-1].read_text())) if reports else None


def collect(sandbox=None) -> Collected:
    """Every stage's declared figures (ReportError when a stage that ran lacks one), the evaluation, the bench."""
    from pinsandbox.evaluation.pipeline import NAME, STAGE, load_results
    from pinsandbox.runs.records import RunRecord
    from pinsandbox.sandbox import resolve

    sb = resolve(sandbox)
    out = Collected(sb)
    runs = latest_ok_runs(sb)
    for stage in STAGES:
        if stage == "evaluation":
            continue
        run = runs.get(NOTEBOOKS[stage])
        if run is None:
            out.stages[stage] = None
            continue
        figures = check_figures(stage, run.metrics, f"run {run.id} of notebooks/{NOTEBOOKS[stage]}.ipynb")
        out.stages[stage] = StageFigures(stage, run, figures, HEADLINES[stage], f"run {run.id}")
    out.stages["evaluation"] = None
    if sb.artifacts.exists(STAGE, NAME):
        manifest = sb.artifacts.read(STAGE, NAME, verify=False).manifest
        try:
            res = load_results(sb)
        except NotFound as e:  # published before configs travelled with artifacts
            raise ReportError(f"{e} (notebooks/{NOTEBOOKS['evaluation']}.ipynb)") from None
        made_by = manifest.get("run_id")
        run = RunRecord(sb.runs_dir / made_by) if made_by and (sb.runs_dir / made_by / "env.json").exists() else None
        if run is None or run.state != "ok":
            run = runs.get(NOTEBOOKS["evaluation"])
        headlines = evaluation_headlines(res.config.k)
        figures = check_figures("evaluation", res.metrics, f"artifact {res.artifact_id}", headlines)
        source = res.artifact_id + (f" (run {made_by})" if made_by else " (made outside a run)")
        out.stages["evaluation"] = StageFigures("evaluation", run, figures, headlines, source)
        out.evaluation = res
    out.bench = latest_bench()
    return out


# -- formatting -------------------------------------------------------------------------------------------------
def fmt(x) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, float):
        return f"{x:.4g}"
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in x) + "]"
    return str(x)


def table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(fmt(v).replace("|", "\\|") for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def _pct(b, a) -> str:
    return f" ({(b / a - 1) * 100:+.0f}%)" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > 0 else ""


def _signed(x) -> str:
    return f"{x:+.2g}" if isinstance(x, (int, float)) else fmt(x)


def at_a_glance(c: Collected) -> pd.DataFrame:
    """The few rows a reader wants first — cost, latency, accuracy, engagement, off-the-shelf vs blueprint —
    each with the run or artifact it came from."""
    rows = []

    def row(aspect, figure, base, blue, source):
        rows.append({"aspect": aspect, "figure": figure, "off-the-shelf route": base, "blueprint": blue, "source": source})

    flops, src = c.get("swap.flops_ratio")
    if flops is not None:
        row("cost", "FLOPs per Navigator request (vision swap, 448², 8 pins)", "1×", f"{flops:.1f}× fewer", src)
    t_orig, src = c.get("swap.ttft_original_s")
    t_swap, _ = c.get("swap.ttft_swapped_s")
    if t_orig is not None and t_swap:
        row("latency", "time to first token (CPU, proportional model)", f"{t_orig:.3g} s",
            f"{t_swap:.3g} s ({t_orig / t_swap:.1f}× faster)", src)
    p99, src = c.get("serving.homefeed_p99_ms")
    if p99 is not None:
        row("latency", "homefeed p99 under load (serving notebook)", "—", f"{p99:.0f} ms", src)
    a, src = c.get("embeddings.hit_rate@10.off-the-shelf")
    b, _ = c.get("embeddings.hit_rate@10.proprietary")
    if a is not None and b is not None:
        row("accuracy", "item-to-item hit rate@10 (embeddings)", f"{a:.3f}", f"{b:.3f}{_pct(b, a)}", src)
    a, src = c.get("embeddings.style_purity@10.off-the-shelf")
    b, _ = c.get("embeddings.style_purity@10.proprietary")
    if a is not None and b is not None:
        row("taste", "own-style share of a pin's 10 nearest pins (Pinworld)", f"{a:.3f}", f"{b:.3f}", src)
    new, src = c.get("tastegraph.drift_new_style_share")
    old, _ = c.get("tastegraph.drift_old_style_share")
    if new is not None and old is not None:
        row("taste", "drifted pinners' homefeed at the cutoff: style they moved to vs left (Pinworld)", "—",
            f"{new:.2f} vs {old:.2f}", src)
    a, src = c.get("finetune.recall@10.original")
    b, _ = c.get("finetune.recall@10.swapped_proprietary")
    if a is not None and b is not None:
        row("accuracy", "Navigator recall@10 (fine-tuned, original with pixels vs swapped)", f"{a:.3f}",
            f"{b:.3f}{_pct(b, a)}", src)
    res = c.evaluation
    if res is not None:
        k = res.config.k
        for task in dict.fromkeys(res.gold["task"]):
            a, src = c.get(f"evaluation.{task}.ndcg@{k}.off-the-shelf")
            b, _ = c.get(f"evaluation.{task}.ndcg@{k}.blueprint")
            if a is not None and b is not None:
                row("accuracy", f"{task} ndcg@{k} (gold set)", f"{a:.3f}", f"{b:.3f}{_pct(b, a)}", src)
        ab = res.ab.set_index("metric")
        base, treat = res.config.baseline, res.config.treatment
        for metric in ("saves", "board_creations", "merchant_clicks"):
            lo, src = c.get(f"evaluation.ab.{metric}.ci_low")
            hi, _ = c.get(f"evaluation.ab.{metric}.ci_high")
            verdict, _ = c.get(f"evaluation.ab.{metric}.verdict")
            if verdict is not None:
                r = ab.loc[metric]
                row("engagement", f"{metric.replace('_', ' ')} per pinner (A/B)", f"{r[base]:.3g}",
                    f"{r[treat]:.3g}, Δ [{_signed(lo)}, {_signed(hi)}]: {verdict}", src)
    return pd.DataFrame(rows, columns=["aspect", "figure", "off-the-shelf route", "blueprint", "source"])


def stage_table(s: StageFigures) -> pd.DataFrame:
    return pd.DataFrame(s.labelled(), columns=["figure", "key", "value"])


def gold_wide(res) -> pd.DataFrame:
    gold = res.gold.melt(id_vars=["variant", "task"], value_vars=[c for c in res.gold if "@" in c], var_name="metric")
    wide = gold.pivot_table(index=["task", "metric"], columns="variant", values="value", sort=False).reset_index()
    wide.columns.name = None
    base, treat = "off-the-shelf", "blueprint"
    if {base, treat} <= set(wide.columns):
        wide[f"{treat} vs {base}"] = [f"{(b / a - 1) * 100:+.0f}%" if a > 0 else "n/a"
                                      for a, b in zip(wide[base], wide[treat], strict=True)]
    return wide


def ab_display(res) -> pd.DataFrame:
    ab = res.ab.copy()
    level = f"{res.config.ab.confidence:.0%}"
    ab[f"{level} CI of difference"] = [f"[{lo:+.3g}, {hi:+.3g}]" for lo, hi in zip(ab["ci_low"], ab["ci_high"], strict=True)]
    ab["lift"] = [f"{x * 100:+.0f}%" if pd.notna(x) else "n/a" for x in ab["lift"]]
    return ab.drop(columns=["ci_low", "ci_high"])


def evaluation_sections(res) -> list[str]:
    return (["## Accuracy — gold sets", "", table(gold_wide(res)), "",
             "## Engagement — A/B simulation (per pinner, paired bootstrap)", "", table(ab_display(res)), "",
             "Variants:", ""] + [f"- **{n}**: {d}" for n, d in res.variants.items()] + [""])


def bench_rows(bench: tuple[str, dict]) -> pd.DataFrame:
    from pinsandbox.bench import compare, headlines

    _, report = bench
    comparison = report.get("comparison") or compare(report, None)
    return pd.DataFrame([(label, key, c["value"]) for label, key, c in headlines(comparison)],
                        columns=["figure", "key", "value"])


def glance_section(c: Collected) -> list[str]:
    """The "At a glance" section (report and results index alike); no lines while no figure exists."""
    glance = at_a_glance(c)
    return ["## At a glance", "", table(glance), ""] if len(glance) else []


def build_report(sandbox=None, collected: Collected | None = None) -> str:
    c = collected or collect(sandbox)
    sb = c.sandbox
    lines = [f"# Side-by-side report — sandbox `{sb.owner}`", "",
             f"_Built {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}. Off-the-shelf route (generic embeddings, "
             "one taste vector, text retrieval) vs the blueprint (proprietary embeddings, taste graph, swapped VLM)._", ""]
    lines += glance_section(c)
    not_run = [s for s, f in c.stages.items() if f is None]
    if not_run:
        lines += ["## No figures recorded yet", ""] + [f"- {s}: {c.how_to_run(s)}" for s in not_run] + [""]
    if c.evaluation is None:
        lines += ["## Accuracy and engagement", "", f"No evaluation yet: {c.how_to_run('evaluation')}.", ""]
    else:
        lines += evaluation_sections(c.evaluation)
    lines += ["## Headline figures, stage by stage", ""]
    for stage, s in c.stages.items():
        if s is not None:
            lines += [f"### {stage} — {s.notebook}, {s.source}", "", table(stage_table(s)), ""]
    sources = [f"- {s.stage}: {s.source}" for s in c.stages.values() if s is not None]
    if c.bench is not None:
        rows = bench_rows(c.bench)
        lines += ["## Benchmarks", "", f"Headline figures of the newest benchmark report, `{c.bench[0]}`:", ""]
        lines += [table(rows) if len(rows) else "(no headline figures in it)", ""]
        sources.append(f"- benchmarks: `{c.bench[0]}`")
    lines += ["## Where these figures come from", ""] + sources + [
        f"- runs are in `{sb.runs_dir}` (`pinsandbox runs show RUN --sandbox {sb.owner}`)", ""]
    return "\n".join(lines)


def write_report(sandbox=None) -> tuple[str, object]:
    from pinsandbox.sandbox import resolve

    sb = resolve(sandbox)
    text = build_report(sb)
    path = sb.path("report.md")
    write_text_atomic(path, text)
    return text, path
