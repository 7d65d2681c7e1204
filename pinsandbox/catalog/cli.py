"""`pinsandbox data pinworld|import|advance|export|show`: make, bring or export a sandbox's catalog."""

from __future__ import annotations

from pinsandbox.cli import print_json


def register(sub) -> None:
    p = sub.add_parser("data", help="generate the Pinworld demo catalog, import your own, or export one")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    g = verbs.add_parser("pinworld", help="generate the Pinworld demo catalog (with hidden ground truth)")
    g.add_argument("--sandbox", required=True)
    g.add_argument("--pins", type=int, default=3000, help="number of pins (default 3000)")
    g.add_argument("--pinners", type=int, default=800, help="number of pinners (default 800)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--days", type=int, default=90)
    g.add_argument("--events", type=int, default=None, help="aim for about this many events (default: from activity)")
    g.add_argument("--image-size", type=int, default=128, help="pixels, 64-224 (default 128)")
    g.add_argument("--no-images", action="store_true", help="skip rendering images (text-only; for scale runs)")
    g.set_defaults(handler=_pinworld)

    i = verbs.add_parser("import", help="import your own catalog (CSV or Parquet; images optional)")
    i.add_argument("--sandbox", required=True)
    i.add_argument("--pins", metavar="FILE", help="pin_id, title[, description, image, any metadata…] (required, "
                   "except with --append)")
    i.add_argument("--events", required=True, metavar="FILE", help="pinner_id, pin_id, action, ts[, board_id]")
    i.add_argument("--boards", metavar="FILE", help="board_id, pinner_id, name")
    i.add_argument("--images", metavar="DIR", help="folder the pins' image column is relative to")
    i.add_argument("--append", action="store_true",
                   help="add new events (and new pins, boards) to the sandbox's imported catalog; they become the "
                        "held-out newest window")
    i.set_defaults(handler=_import)

    a = verbs.add_parser("advance", help="move a Pinworld catalog's time on: N more days of pins, engagement, drift")
    a.add_argument("--sandbox", required=True)
    a.add_argument("--days", type=int, required=True, help="days to add (1-365); the new days are held out")
    a.set_defaults(handler=_advance)

    e = verbs.add_parser("export", help="write a sandbox's catalog in the import format (CSV + images)")
    e.add_argument("--sandbox", required=True)
    e.add_argument("--out", required=True, metavar="DIR")
    e.add_argument("--format", choices=["csv", "parquet"], default="csv")
    e.set_defaults(handler=_export)

    s = verbs.add_parser("show", help="sizes, time window and cutoff of a sandbox's catalog")
    s.add_argument("--sandbox", required=True)
    s.set_defaults(handler=_show)


def _pinworld(args):
    from pinsandbox.catalog import CatalogConfig, run_catalog

    config = CatalogConfig(source="pinworld", n_pins=args.pins, n_pinners=args.pinners, seed=args.seed, days=args.days,
                           n_events=args.events, image_size=args.image_size, render_images=not args.no_images)
    result = run_catalog(args.sandbox, config)
    print(f"generated {result.catalog!r}")


def _import(args):
    from pinsandbox.catalog import CatalogConfig, append_catalog, run_catalog
    from pinsandbox.errors import InvalidInput

    if args.append:
        catalog = append_catalog(args.sandbox, args.pins, args.events, args.boards, args.images)
        print(f"appended to {catalog!r}")
        return
    if args.pins is None:
        raise InvalidInput("data import needs --pins FILE (only --append may leave it out)")

    config = CatalogConfig(source="import", pins=args.pins, events=args.events, boards=args.boards, images=args.images)
    result = run_catalog(args.sandbox, config)
    print(f"imported {result.catalog!r}")


def _advance(args):
    from pinsandbox.catalog import advance_catalog

    result = advance_catalog(args.sandbox, args.days)
    print(f"advanced {args.days} day(s): {result.catalog!r}")


def _export(args):
    from pinsandbox.catalog import export_catalog

    out = export_catalog(args.sandbox, args.out, fmt=args.format)
    print(f"exported the catalog of {args.sandbox!r} to {out}")


def _show(args):
    from pinsandbox.catalog import load_catalog
    from pinsandbox.catalog.views import catalog_summary

    print_json(catalog_summary(load_catalog(args.sandbox)))
