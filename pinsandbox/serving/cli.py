"""`pinsandbox serve --sandbox NAME [--port P] [--host 127.0.0.1]` and `pinsandbox load-test --sandbox NAME
[--clients N] [--seconds S] [--think-ms MS] [--seed S] [--json]` (the serving stage's measurement: the real
server under a bounded load). Import-light: the app loads in the handlers."""


def register(sub) -> None:
    s = sub.add_parser("serve", help="serve a sandbox's recommendations over HTTP (similar, homefeed, events, navigator)")
    add_arguments(s)
    s.set_defaults(handler=_serve)

    t = sub.add_parser("load-test", help="start the server over a sandbox, put a bounded load on it, print QPS, "
                                         "errors and p50/p99 per endpoint (what notebook 05 measures)")
    t.add_argument("--sandbox", required=True, help="owner name of the sandbox to serve")
    t.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    t.add_argument("--seconds", type=float, default=10.0, help="how long they keep asking (default 10)")
    t.add_argument("--think-ms", type=float, default=100.0, help="mean pause between one client's requests (default 100)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--json", action="store_true", help="print the metrics as JSON instead of the table")
    t.set_defaults(handler=_load_test)


def add_arguments(parser) -> None:
    parser.add_argument("--sandbox", required=True, help="owner name of the sandbox to serve")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback only)")
    parser.add_argument("--log-level", default="warning")


def _serve(args):
    from pinsandbox.serving.server import run

    run(args.sandbox, host=args.host, port=args.port, log_level=args.log_level)


def _load_test(args):
    from pinsandbox.serving.stage import ServingStageConfig, run_serving

    config = ServingStageConfig(clients=args.clients, seconds=args.seconds, think_ms=args.think_ms, seed=args.seed)
    result = run_serving(args.sandbox, config, progress=not args.json)
    if args.json:
        from pinsandbox.cli import print_json

        print_json({"artifacts": result.artifacts, "metrics": result.metrics})
        return
    print(result.table.to_string())
    print(f"{result.metrics['serving.qps']} requests/s, {result.metrics['serving.errors']} errors; "
          f"published {', '.join(result.artifacts.values())}")
