"""`python -m pinsandbox.serving --sandbox NAME [--port P]` — the same as `pinsandbox serve`."""

import sys

from pinsandbox.cli import Parser
from pinsandbox.errors import PinsandboxError
from pinsandbox.serving.cli import _serve, add_arguments

parser = Parser(prog="pinsandbox serve")
add_arguments(parser)
try:
    _serve(parser.parse_args())
except PinsandboxError as e:
    print(f"pinsandbox: error: {e}", file=sys.stderr)
    sys.exit(2)
except KeyboardInterrupt:
    pass
