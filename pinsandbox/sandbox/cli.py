"""`pinsandbox sandbox create|list|delete|show NAME`."""

from __future__ import annotations

from pinsandbox.cli import print_json
from pinsandbox.sandbox import sandbox as sandboxes


def register(sub) -> None:
    p = sub.add_parser("sandbox", help="create, list, show or delete sandboxes")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    c = verbs.add_parser("create", help="create a sandbox")
    c.add_argument("name")
    c.add_argument("--isolation", choices=["auto", "bwrap", "process"], default="auto")
    c.add_argument("--quota-gb", type=float, default=sandboxes.Limits.quota_gb)
    c.add_argument("--memory-gb", type=float, default=sandboxes.Limits.memory_gb)
    c.set_defaults(handler=_create)

    ls = verbs.add_parser("list", help="list sandboxes")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_list)

    s = verbs.add_parser("show", help="a sandbox's settings, disk use and artifacts")
    s.add_argument("name")
    s.set_defaults(handler=_show)

    d = verbs.add_parser("delete", help="delete a sandbox and everything in it")
    d.add_argument("name")
    d.set_defaults(handler=_delete)


def _create(args):
    limits = sandboxes.Limits(quota_gb=args.quota_gb, memory_gb=args.memory_gb)
    sb = sandboxes.create(args.name, isolation=args.isolation, limits=limits)
    print(f"created sandbox {sb.owner!r} at {sb.root}")


def _list(args):
    rows = [{"owner": sb.owner, "created": sb.created, "isolation": sb.isolation, "path": str(sb.root)}
            for sb in sandboxes.list_sandboxes()]
    if args.json:
        print_json(rows)
    elif not rows:
        print("no sandboxes yet: `pinsandbox sandbox create NAME`")
    else:
        for r in rows:
            print(f"{r['owner']:<20} {r['created']}  isolation={r['isolation']}  {r['path']}")


def _show(args):
    sb = sandboxes.open_sandbox(args.name)
    print_json({
        "owner": sb.owner, "path": str(sb.root), "created": sb.created, "isolation": sb.isolation,
        "limits": vars(sb.limits), "disk_used_gb": round(sb.disk_usage() / 1e9, 3),
        "artifacts": sb.artifacts.list(),
    })


def _delete(args):
    sandboxes.delete(args.name)
    print(f"deleted sandbox {args.name!r}")
