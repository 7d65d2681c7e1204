"""`pinsandbox recommend --sandbox NAME [--before TS] --k K --out FILE` (columns pinner_id, rank, pin_id) and
`pinsandbox tastegraph --sandbox NAME [--k K] [--first-n N] [--vectors KIND] [--before TS]` (the stage: what
notebook 04 runs, without the plots)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("recommend", help="fit the taste graph on events before a cutoff and write each pinner's top-K homefeed")
    p.add_argument("--sandbox", required=True, help="sandbox whose catalog (and pin vectors, if any) to use")
    p.add_argument("--before", default=None, help="fit on events before this time (ISO-8601 or unix seconds); default: the catalog's cutoff")
    p.add_argument("--k", type=int, default=10, help="pins per pinner (default 10)")
    p.add_argument("--out", required=True, help="output file, .csv or .parquet")
    p.set_defaults(handler=_recommend)

    t = sub.add_parser("tastegraph", help="run the taste-graph stage: fit, compare with baselines, real-time vs batch, "
                                          "drift, publish the snapshot")
    t.add_argument("--sandbox", required=True, help="sandbox whose catalog (and pin vectors, if any) to use")
    t.add_argument("--k", type=int, default=10, help="homefeed length evaluated (default 10)")
    t.add_argument("--first-n", type=int, default=3, help="test-window engagements fed online per pinner (default 3)")
    t.add_argument("--vectors", default="proprietary", help="pin vectors: proprietary (default) or off-the-shelf")
    t.add_argument("--before", default=None, help="fit on events before this time; default: the catalog's cutoff")
    t.add_argument("--json", action="store_true", help="print the metrics as JSON instead of the table")
    t.set_defaults(handler=_tastegraph)


def _recommend(args):
    from pinsandbox.tastegraph.api import recommend, write_table

    if args.k < 1:
        from pinsandbox.errors import InvalidInput

        raise InvalidInput(f"--k must be at least 1, got {args.k}")
    if not args.out.lower().endswith((".csv", ".parquet")):
        from pinsandbox.errors import InvalidInput

        raise InvalidInput(f"--out {args.out}: use a .csv or .parquet file name")
    table = recommend(args.sandbox, args.before, args.k)
    write_table(table, args.out)
    print(f"wrote {len(table)} recommendations for {table['pinner_id'].nunique()} pinners to {args.out}")


def _tastegraph(args):
    from pinsandbox.tastegraph.stage import TasteGraphStageConfig, run_tastegraph

    config = TasteGraphStageConfig(k=args.k, first_n=args.first_n, vectors=args.vectors, before=args.before)
    result = run_tastegraph(args.sandbox, config, progress=False)
    if args.json:
        from pinsandbox.cli import print_json

        print_json({"artifacts": result.artifacts, "metrics": result.metrics})
        return
    print(result.table.round(4).to_string())
    print(result.realtime.round(4).to_string())
    if result.drift is not None:
        print(result.drift.round(3).to_string())
    print(f"published {', '.join(result.artifacts.values())}")
