"""The `pinsandbox` command. User errors exit 2 with one line on stderr and no traceback.

Each stage keeps its own commands in `pinsandbox/<stage>/cli.py` with a `register(subparsers)` function;
this module only assembles them. Keep those modules light: import heavy libraries inside the handlers.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from pinsandbox.errors import PinsandboxError

# Modules that add their commands to the parser, in the order they appear in --help.
COMMAND_MODULES = [
    "pinsandbox.sandbox.cli",
    "pinsandbox.catalog.cli",
    "pinsandbox.embeddings.cli",
    "pinsandbox.vlm.cli",
    "pinsandbox.tastegraph.cli",
    "pinsandbox.serving.cli",
    "pinsandbox.evaluation.cli",
    "pinsandbox.runs.cli",
    "pinsandbox.loop.cli",
    "pinsandbox.bench",
    "pinsandbox.hub.cli",
]


def print_json(obj) -> None:
    print(json.dumps(obj, indent=1, default=str))


class Parser(argparse.ArgumentParser):
    """Malformed arguments: one line and exit 2, like every other user error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="pinsandbox",
        description="Rebuild and measure Pinterest's visual-recommendation blueprint on your own catalog.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser



def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse itself exits 2 with a usage line on malformed arguments
    try:
        result = args.handler(args)
    except PinsandboxError as e:
        print(f"pinsandbox: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pinsandbox: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
