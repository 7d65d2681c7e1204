"""`pinsandbox recommend --sandbox NAME [--before TS] --k K --out FILE` (columns pinner_id, rank, pin_id)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("recommend", help="fit the taste graph on events before a cutoff and write each pinner's top-K homefeed")
    p.add_argument("--sandbox", required=True, help="sandbox whose catalog (and pin vectors, if any) to use")
    p.add_argument("--before", default=None, help="fit on events before this time (ISO-8601 or unix seconds); default: the catalog's cutoff")
    p.add_argument("--k", type=int, default=10, help="pins per pinner (default 10)")
    p.add_argument("--out", required=True, help="output file, .csv or .parquet")
    p.set_defaults(handler=_recommend)


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
