"""`pinsandbox serve --sandbox NAME [--port P] [--host 127.0.0.1]` (import-light: the app loads in the handler)."""


def register(sub) -> None:
    s = sub.add_parser("serve", help="serve a sandbox's recommendations over HTTP (similar, homefeed, events, navigator)")
    add_arguments(s)
    s.set_defaults(handler=_serve)


def add_arguments(parser) -> None:
    parser.add_argument("--sandbox", required=True, help="owner name of the sandbox to serve")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback only)")
    parser.add_argument("--log-level", default="warning")


def _serve(args):
    from pinsandbox.serving.server import run

    run(args.sandbox, host=args.host, port=args.port, log_level=args.log_level)
