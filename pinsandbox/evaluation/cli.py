"""`pinsandbox evaluate --sandbox NAME`: run the evaluation stage (gold sets + A/B), print its metrics.
`pinsandbox report --sandbox NAME [--results DIR]`: print the side-by-side report, write it to <sandbox>/report.md,
and with --results also the generated results pages (DIR/index.md, DIR/<stage>.md, DIR/history.md)."""

import sys

from pinsandbox.errors import InvalidInput


def register(sub) -> None:
    e = sub.add_parser("evaluate", help="run the evaluation stage: gold sets and the A/B simulation, off-the-shelf vs blueprint")
    e.add_argument("--sandbox", required=True)
    e.add_argument("--k", type=int, default=10, help="gold rankings are scored at k (default 10)")
    e.add_argument("--max-queries", type=int, default=300, help="gold queries per task, a seeded sample (0: all)")
    e.add_argument("--ab-pinners", type=int, default=200, help="simulated pinners (0: all with ground truth)")
    e.add_argument("--ab-sessions", type=int, default=3)
    e.add_argument("--bootstrap", type=int, default=2000)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")
    e.set_defaults(handler=_evaluate)

    r = sub.add_parser("report", help="print the side-by-side report (off-the-shelf vs blueprint) of a sandbox")
    r.add_argument("--sandbox", required=True)
    r.add_argument("--results", metavar="DIR", help="also write the results pages there (e.g. docs/results)")
    r.add_argument("--readme", metavar="FILE", help="with --results: refresh the at-a-glance block of this README")
    r.set_defaults(handler=_report)


def _evaluate(args):
    import json

    from pinsandbox.evaluation.abtest import ABConfig
    from pinsandbox.evaluation.config import EvaluationConfig
    from pinsandbox.evaluation.pipeline import run_evaluation

    config = EvaluationConfig(k=args.k, max_queries=args.max_queries or None,
                              ab=ABConfig(pinners=args.ab_pinners or None, sessions=args.ab_sessions, k=args.k,
                                          bootstrap=args.bootstrap, seed=args.seed))
    result = run_evaluation(args.sandbox, config, progress=not args.json)
    if args.json:
        print(json.dumps(result.metrics, indent=1))
    else:
        for key, value in result.metrics.items():
            print(f"{key} = {value}")
    print(f"published: {result.artifact_id}", file=sys.stderr)


def _report(args):
    from pinsandbox.evaluation.report import build_report, collect
    from pinsandbox.evaluation.results import write_results
    from pinsandbox.sandbox import resolve
    from pinsandbox.sandbox.artifacts import write_text_atomic

    if args.readme and not args.results:
        raise InvalidInput("--readme goes with --results DIR: the block it refreshes links to the results pages")
    sb = resolve(args.sandbox)
    collected = collect(sb)
    text = build_report(sb, collected)
    path = sb.path("report.md")
    write_text_atomic(path, text)
    print(text)
    print(f"report: {path}", file=sys.stderr)
    if args.results:
        pages = write_results(sb, args.results, collected)
        print(f"results: {pages['index']} ({len(pages) - 2} stage pages; history: {pages['history']})", file=sys.stderr)
        if args.readme:
            from pinsandbox.evaluation.results import include_in_readme

            if not include_in_readme(args.readme, collected, args.results):
                raise InvalidInput(f"{args.readme} has no at-a-glance block to refresh: add the two markers "
                                   "<!-- results:at-a-glance --> and <!-- /results:at-a-glance --> where it goes")
            print(f"readme: refreshed the at-a-glance block of {args.readme}", file=sys.stderr)
