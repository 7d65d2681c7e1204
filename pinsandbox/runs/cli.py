"""`pinsandbox run | run-all | sweep | runs | lab`."""

from __future__ import annotations

import argparse

from pinsandbox.cli import print_json


def register(sub) -> None:
    r = sub.add_parser("run", help="run a notebook in a sandbox with papermill, under its isolation")
    r.add_argument("notebook", help="path to an .ipynb, or a stage name like 00_catalog")
    _sandbox_arg(r)
    r.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                   help="a notebook parameter (value read as YAML); repeatable")
    r.add_argument("--isolation", choices=["bwrap", "process"])
    r.add_argument("--no-wait", action="store_true", help="fail instead of waiting if the sandbox is busy")
    r.add_argument("--timeout", type=float, help="wall-clock limit in seconds (default: the sandbox's)")
    r.set_defaults(handler=_run)

    ra = sub.add_parser("run-all", help="run every stage notebook in order, skipping unchanged stages")
    _sandbox_arg(ra)
    ra.add_argument("--preset", choices=["demo", "smoke"], default="demo")
    ra.add_argument("--isolation", choices=["bwrap", "process"])
    ra.add_argument("--force", action="store_true", help="run every stage even if unchanged")
    ra.add_argument("--create", action="store_true", help="create the sandbox if it does not exist")
    ra.set_defaults(handler=_run_all)

    sw = sub.add_parser("sweep", help="run a notebook over a parameter grid and compare the runs")
    sw.add_argument("notebook")
    _sandbox_arg(sw)
    sw.add_argument("--grid", action="append", required=True, metavar="KEY=V1,V2", help="repeatable")
    sw.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"))
    sw.add_argument("--engine", choices=["local", "ray"], default="local")
    sw.add_argument("--ray-address", help="a Ray cluster address (default: a local Ray on this machine)")
    sw.add_argument("--isolation", choices=["bwrap", "process"])
    sw.add_argument("--json", action="store_true")
    sw.set_defaults(handler=_sweep)

    runs = sub.add_parser("runs", help="list, show or compare a sandbox's runs")
    verbs = runs.add_subparsers(dest="verb", required=True, metavar="VERB")
    ls = verbs.add_parser("list")
    _sandbox_arg(ls)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_runs_list)
    show = verbs.add_parser("show")
    show.add_argument("run", nargs="?", help="run id (default: the latest)")
    _sandbox_arg(show)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_runs_show)
    cmp = verbs.add_parser("compare")
    cmp.add_argument("a")
    cmp.add_argument("b")
    _sandbox_arg(cmp)
    cmp.add_argument("--json", action="store_true")
    cmp.set_defaults(handler=_runs_compare)

    lab = sub.add_parser("lab", help="JupyterLab rooted in a sandbox, kernels under its isolation")
    _sandbox_arg(lab)
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument("--isolation", choices=["bwrap", "process"])
    lab.add_argument("--create", action="store_true", help="create the sandbox if it does not exist")
    lab.set_defaults(handler=_lab)


def _sandbox_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sandbox", required=True, metavar="NAME")


def _params(pairs) -> dict:
    from pinsandbox.runs.runner import parse_param

    return {k: parse_param(k, v) for k, v in pairs}


def _run(args):
    from pinsandbox.runs.runner import run_notebook

    record = run_notebook(args.notebook, args.sandbox, _params(args.param), isolation_mode=args.isolation,
                          wait=not args.no_wait, timeout_s=args.timeout)  # fmt: skip
    return 0 if record.state == "ok" else 1


def _run_all(args):
    from pinsandbox.runs.pipeline import run_all
    from pinsandbox.sandbox import create

    if args.create:
        create(args.sandbox, exist_ok=True)
    run_all(args.sandbox, args.preset, isolation_mode=args.isolation, force=args.force)


def _sweep(args):
    from pinsandbox.runs.sweep import parse_grid, sweep, table

    records = sweep(args.notebook, args.sandbox, parse_grid(args.grid), base_params=_params(args.param),
                    engine=args.engine, isolation_mode=args.isolation, ray_address=args.ray_address)  # fmt: skip
    rows = table(records)
    if args.json:
        print_json(rows)
    else:
        import pandas as pd

        print(pd.DataFrame(rows).set_index("run").to_string())
    return 0 if all(r.state == "ok" for r in records) else 1


def _runs_list(args):
    from pinsandbox.runs.records import list_runs
    from pinsandbox.sandbox import open_sandbox

    rows = [r.summary() for r in list_runs(open_sandbox(args.sandbox))]
    if args.json:
        print_json(rows)
        return
    for r in rows:
        print(f"{r['id']:<48} {r['state']:<8} {r['duration_s'] or '':>8}s  {len(r['metrics'])} metrics")


def _runs_show(args):
    from pinsandbox.errors import NotFound
    from pinsandbox.runs.records import get_run, list_runs
    from pinsandbox.sandbox import open_sandbox

    sb = open_sandbox(args.sandbox)
    if args.run:
        record = get_run(sb, args.run)
    else:
        runs = list_runs(sb)
        if not runs:
            raise NotFound(f"sandbox {sb.owner!r} has no runs yet: `pinsandbox run NOTEBOOK --sandbox {sb.owner}`")
        record = runs[-1]
    summary = record.summary()
    if args.json:
        print_json(summary)
        return
    for key in ("id", "notebook", "state", "cell", "error", "started", "duration_s", "isolation", "path"):
        if summary[key] is not None:
            print(f"{key:>10}: {summary[key]}")
    for part in ("params", "metrics"):
        print(f"{part}:")
        for k, v in summary[part].items():
            print(f"  {k} = {v}")


def _runs_compare(args):
    from pinsandbox.runs.records import compare, get_run
    from pinsandbox.sandbox import open_sandbox

    sb = open_sandbox(args.sandbox)
    a, b = get_run(sb, args.a), get_run(sb, args.b)
    diff = compare(a, b)
    if args.json:
        print_json(diff)
        return
    if not diff["params"] and not diff["metrics"]:
        print("same params and metrics")
    for part in ("params", "metrics"):
        for k, (va, vb) in diff[part].items():
            print(f"{part[:-1]:<7} {k:<32} {va!s:>16}  →  {vb!s}")


def _lab(args):
    from pinsandbox.lab import start_lab
    from pinsandbox.sandbox import create

    if args.create:
        create(args.sandbox, exist_ok=True)
    return start_lab(args.sandbox, port=args.port, isolation_mode=args.isolation)

