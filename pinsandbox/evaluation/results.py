"""Generated results pages: `pinsandbox report --sandbox S --results DIR` (or `write_results(S, DIR)`).

    DIR/index.md        the at-a-glance table, every stage with its run (or which notebook to run)
    DIR/<stage>.md      one page per stage that ran: its headline figures, params and artifact configs, run id,
                        date, git commit, machine (from the run's env.json) and the figures its notebook drew
    DIR/img/<stage>-<n>.png   those figures, extracted from `runs/<id>/notebook.ipynb`
    DIR/history.md      one dated line per run, appended (a run already listed is not listed again)
    DIR/bench.md        every benchmark's newest figures from the `pinsandbox bench` reports here, each with the report
                        it came from (reports are not committed; without any, the page keeps the last one written)

Everything comes from the sandbox's run records and artifacts (see `pinsandbox.evaluation.report.collect`);
nothing is typed by hand. Measurement history lives in `history.md`, not in the README.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pandas as pd

from pinsandbox.evaluation.report import (
    Collected,
    StageFigures,
    at_a_glance,
    collect,
    evaluation_sections,
    fmt,
    glance_section,
    table,
)
from pinsandbox.sandbox.artifacts import atomic_file, write_text_atomic
from pinsandbox.stages import NOTEBOOKS, STAGES

HISTORY_HEAD = ("# Measurement history\n\nOne line per run, appended by `pinsandbox report --results` (date of the run, "
                "stage, run id, git commit, machine, headline figures). Newest last.\n\n")


def notebook_images(run) -> list[bytes]:
    """The PNG figures of a run's executed notebook (`runs/<id>/notebook.ipynb`), in cell order."""
    path = run.path / "notebook.ipynb"
    if not path.exists():
        return []
    out = []
    for cell in json.loads(path.read_text()).get("cells", []):
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                out.append(base64.b64decode("".join(png) if isinstance(png, list) else png))
    return out


def _flat(obj, prefix="") -> dict:
    if isinstance(obj, dict) and obj:
        out = {}
        for k, v in obj.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: obj} if prefix else {}


def output_configs(sandbox, run) -> dict[str, dict]:
    """artifact id -> the params/config it was published with, for every artifact the run wrote (still present)."""
    out = {}
    for artifact_id in dict.fromkeys(run.outputs if run is not None else []):
        stage, _, rest = artifact_id.partition("/")
        manifest = sandbox.root / "artifacts" / stage / rest / "manifest.json"
        if manifest.exists():
            out[artifact_id] = _flat(json.loads(manifest.read_text()).get("params", {}))
    return out


def _kv(d: dict, names=("parameter", "value")) -> str:
    return table(pd.DataFrame([(k, fmt(v)) for k, v in d.items()], columns=list(names)))


def machine(env: dict) -> str:
    versions = env.get("versions", {})
    parts = [env.get("host") or "unknown host", f"Python {env.get('python', '?')}"]
    parts += [f"{name} {versions[name]}" for name in ("torch", "transformers") if name in versions]
    if env.get("isolation"):
        parts.append(f"{env['isolation']} isolation")
    return ", ".join(parts)


def _run_line(s: StageFigures) -> str:
    if s.run is None:
        return f"Figures from {s.source}; no notebook run made them, so there are no plots."
    env = s.run.env
    return (f"Run `{s.run.id}` of `notebooks/{s.notebook}.ipynb` · started {env.get('started', '?')} "
            f"({env.get('duration_s', '?')} s) · git commit `{env.get('git_commit') or 'unknown'}` · machine: {machine(env)}")


def stage_page(c: Collected, s: StageFigures, images: list[str]) -> str:
    lines = [f"# {s.stage} — {s.notebook}", "", _run_line(s), "", "## Headline figures", "",
             f"Source: {s.source}.", "", table(pd.DataFrame(s.labelled(), columns=["figure", "key", "value"])), ""]
    if s.stage == "evaluation" and c.evaluation is not None:
        lines += ["#" + line if line.startswith("## ") else line for line in evaluation_sections(c.evaluation)]
    if s.run is not None:
        lines += ["## Parameters", "", "Papermill parameters of the run:", "",
                  _kv(s.run.params) if s.run.params else "(the notebook's defaults)", ""]
        for artifact_id, params in output_configs(c.sandbox, s.run).items():
            lines += [f"Config of `{artifact_id}`:", "", _kv(params) if params else "(none recorded)", ""]
    lines += ["## Figures", ""]
    lines += [f"![{s.stage} figure {n}]({path})\n" for n, path in enumerate(images, 1)] or ["(this run drew no figures)", ""]
    return "\n".join(lines) + "\n"


def index_page(c: Collected, out_dir: Path, written: dict) -> str:
    owner = c.sandbox.owner
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    lines = [f"# Results — sandbox `{owner}`", "",
             f"_Generated {now} by `pinsandbox report --sandbox {owner} --results {out_dir}` from the sandbox's run "
             "records; every figure names the run it came from. Measurement history: [history.md](history.md)._", ""]
    lines += glance_section(c)
    rows = []
    for stage in STAGES:
        s = c.stages.get(stage)
        if s is None:
            rows.append((stage, NOTEBOOKS[stage], "no figures yet: " + c.how_to_run(stage), "", "", "", ""))
            continue
        env = s.run.env if s.run is not None else {}
        rows.append((stage, NOTEBOOKS[stage], s.source, env.get("started", ""), _duration(env),
                     (env.get("git_commit") or "")[:12], f"[{stage}.md]({written[stage]})"))
    columns = ["stage", "notebook", "source", "date", "took", "commit", "page"]
    lines += ["## Stages", "", table(pd.DataFrame(rows, columns=columns)), ""]
    total = sum(s.run.env.get("duration_s") or 0 for s in c.stages.values() if s is not None and s.run is not None)
    if total:
        lines += [f"The stages' runs took {_minutes(total)} in all (each run's `env.json`, on {machine(_any_env(c))}).", ""]
    return "\n".join(lines)


def _duration(env: dict) -> str:
    return _minutes(env["duration_s"]) if env.get("duration_s") else ""


def _minutes(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _any_env(c: Collected) -> dict:
    return next((s.run.env for s in c.stages.values() if s is not None and s.run is not None), {})


README_BEGIN, README_END = "<!-- results:at-a-glance -->", "<!-- /results:at-a-glance -->"


def include_in_readme(readme, collected: Collected, results_dir) -> bool:
    """Replace the README's block between the at-a-glance markers with the generated table (figures in prose are
    generated, never typed). Returns False, changing nothing, when the README has no such block."""
    readme = Path(readme)
    text = readme.read_text()
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        return False
    glance = at_a_glance(collected)
    env = _any_env(collected)
    body = (table(glance) if len(glance) else "_No figures yet: run `make demo`._") + (
        f"\n\n_Generated from sandbox `{collected.sandbox.owner}`'s runs ({env.get('started', '')}, commit "
        f"`{(env.get('git_commit') or 'unknown')[:12]}`); details in [{results_dir}/index.md]({results_dir}/index.md)._")
    write_text_atomic(readme, text[: start + len(README_BEGIN)] + "\n" + body + "\n" + text[end:])
    return True


def history_line(s: StageFigures) -> str:
    env = s.run.env if s.run is not None else {}
    figures = "; ".join(f"{key}={fmt(value)}" for _, key, value in s.labelled() if _in_history(key))
    date = env.get("started") or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return (f"- {date} · {s.stage} · {s.source} · commit `{(env.get('git_commit') or 'unknown')[:12]}` · "
            f"{env.get('host') or 'unknown host'} · {figures}")


def _in_history(key: str) -> bool:
    """Every declared figure, except the evaluation's long tail: its NDCGs of both routes and the A/B verdicts."""
    if not key.startswith("evaluation."):
        return True
    return (".ndcg@" in key and not key.endswith(".proprietary")) or key.endswith((".lift", ".verdict"))


def _history_id(s: StageFigures) -> str:
    return s.source  # a run id, or the artifact id (with the run that made it)


def write_results(sandbox=None, out_dir="docs/results", collected: Collected | None = None) -> dict[str, Path]:
    """Write the results pages for `sandbox` under `out_dir`; returns {page name: path}."""
    c = collected or collect(sandbox)
    out = Path(out_dir)
    img = out / "img"
    img.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for stage in STAGES:
        for old in img.glob(f"{stage}-*.png"):  # this stage's figures of an earlier run
            old.unlink()
        s = c.stages.get(stage)
        page = out / f"{stage}.md"
        if s is None:
            page.unlink(missing_ok=True)  # a page of a run this sandbox does not have would mislead
            continue
        names = []
        for n, png in enumerate(notebook_images(s.run) if s.run is not None else [], 1):
            name = f"img/{stage}-{n}.png"
            with atomic_file(out / name) as tmp:
                Path(tmp).write_bytes(png)
            names.append(name)
        write_text_atomic(page, stage_page(c, s, names))
        written[stage] = page
    links = {stage: path.name for stage, path in written.items()}
    write_text_atomic(out / "index.md", index_page(c, out, links))
    written["index"] = out / "index.md"
    history = out / "history.md"
    text = history.read_text() if history.exists() else HISTORY_HEAD
    new = [history_line(s) for s in c.stages.values() if s is not None and f" · {_history_id(s)} · " not in text]
    if new or not history.exists():
        write_text_atomic(history, text + "".join(line + "\n" for line in new))
    written["history"] = history
    newest = newest_benchmarks()
    if newest:
        write_text_atomic(out / "bench.md", bench_page(newest))
        written["bench"] = out / "bench.md"
    return written


def newest_benchmarks() -> dict[str, tuple[str, dict]]:
    """benchmark name -> (report file, its result) from the newest `pinsandbox bench` report that ran it without error."""
    from pinsandbox.bench import REPORTS

    newest: dict[str, tuple[str, dict]] = {}
    for path in sorted(REPORTS.glob("bench-*.json")):
        for name, result in json.loads(path.read_text()).get("results", {}).items():
            if "error" not in result:
                newest[name] = (path.name, result)
    return dict(sorted(newest.items()))


def bench_page(newest: dict[str, tuple[str, dict]]) -> str:
    from pinsandbox.bench import _flatten

    lines = ["# Benchmarks", "", "_Generated by `pinsandbox report --results` from the newest `pinsandbox bench` report of each "
             "benchmark (`benchmarks/reports/`, not committed); `make bench` measures again. What each one measures and "
             "its goal: [the benchmarks guide](../guide/benchmarks.md)._", ""]
    for name, (report, result) in newest.items():
        figures = [(key, fmt(value)) for key, value in _flatten(result) if not key.endswith("wall_s")]
        flags = [(key, str(value)) for key, value in _flatten(result, leaf=lambda v: isinstance(v, bool))]  # goals met
        lines += [f"## {name}", "", f"From `{report}`, {result.get('wall_s', '?')} s.", ""]
        lines += [table(pd.DataFrame(figures + flags, columns=["figure", "value"])), ""]
    return "\n".join(lines)

