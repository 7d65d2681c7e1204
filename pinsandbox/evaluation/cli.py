"""`pinsandbox report --sandbox NAME`: print the side-by-side report and write it to <sandbox>/report.md."""

import sys


def register(sub) -> None:
    r = sub.add_parser("report", help="print the side-by-side report (off-the-shelf vs blueprint) of a sandbox")
    r.add_argument("--sandbox", required=True)
    r.set_defaults(handler=_report)


def _report(args):
    from pinsandbox.evaluation.report import write_report

    text, path = write_report(args.sandbox)
    print(text)
    print(f"report: {path}", file=sys.stderr)
