"""`pinsandbox retrain --sandbox NAME`, `pinsandbox promote --sandbox NAME [--rollback]`,
`pinsandbox history --sandbox NAME [--alarm] [--json]`: the loop (#18)."""

from __future__ import annotations

from pinsandbox.cli import print_json


def register(sub) -> None:
    r = sub.add_parser("retrain", help="refresh vectors with the frozen encoder (or --full: warm-start encoder and "
                                       "Navigator), refit the taste graph on the newest data, gate the challenger "
                                       "against the champion, promote if it passes")
    r.add_argument("--sandbox", required=True)
    r.add_argument("--no-promote", action="store_true", help="gate only; promote later with `pinsandbox promote`")
    r.add_argument("--no-vectors", action="store_true", help="keep the champion's pin vectors (no re-embedding)")
    r.add_argument("--full", action="store_true", help="the less frequent full retrain: the champion encoder, then "
                                                        "its Navigator's projector and LoRA, trained further")
    r.add_argument("--encoder-steps", type=int, default=100, help="--full: more training steps for the encoder")
    r.add_argument("--navigator-steps", type=int, default=60, help="--full: more LoRA steps for the Navigator")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--engine", choices=("local", "ray"), default=None,
                   help="the refresh's precompute engine (default: the one the encoder was trained with)")
    r.add_argument("--in-process", action="store_true",
                   help="call run_retrain here instead of running notebook 07 as a recorded run")
    r.add_argument("--json", action="store_true", help="print the verdict as JSON")
    r.set_defaults(handler=_retrain)

    p = sub.add_parser("promote", help="promote the gated challenger to champion, or --rollback to the previous champion")
    p.add_argument("--sandbox", required=True)
    p.add_argument("--rollback", action="store_true", help="go back to the champion before the latest promotion")
    p.add_argument("--force", action="store_true", help="promote even though the gate refused the challenger")
    p.add_argument("--log", action="store_true", help="print the promotion log instead")
    p.set_defaults(handler=_promote)

    h = sub.add_parser("history", help="every run's metrics in this sandbox, and the regression alarm")
    h.add_argument("--sandbox", required=True)
    h.add_argument("--metric", default=None, help="only this metric (e.g. retrain.ndcg@10.challenger)")
    h.add_argument("--alarm", action="store_true", help="judge the latest run against the one before it; exit 1 on a regression")
    h.add_argument("--run", default=None, help="with --alarm: the run to judge (default the latest)")
    h.add_argument("--json", action="store_true")
    h.set_defaults(handler=_history)


def _retrain(args):
    from pinsandbox.errors import RunFailed

    if args.in_process:
        from pinsandbox.loop import RetrainConfig, run_retrain

        result = run_retrain(args.sandbox, RetrainConfig(promote=not args.no_promote, vectors=not args.no_vectors,
                                                         seed=args.seed, engine=args.engine, full=args.full,
                                                         encoder_steps=args.encoder_steps,
                                                         navigator_steps=args.navigator_steps))
        verdict, metrics = result.verdict, result.metrics
    else:
        from pinsandbox.runs.runner import run_notebook

        record = run_notebook("07_retrain", args.sandbox, {"promote": not args.no_promote,
                                                           "refresh_vectors": not args.no_vectors, "seed": args.seed,
                                                           "engine": args.engine, "full": args.full,
                                                           "encoder_steps": args.encoder_steps,
                                                           "navigator_steps": args.navigator_steps})
        if record.state != "ok":
            s = record.status
            raise RunFailed(f"retrain failed at cell {s.get('cell')}: {s.get('error')} — see {record.path / 'notebook.ipynb'}")
        metrics = record.metrics
        verdict = None
    if args.json:
        print_json(verdict or metrics)
        return
    gain = [metrics.get(f"retrain.ndcg@10{s}") for s in ("_gain", "_gain_low", "_gain_high")]
    state = "promoted" if metrics.get("retrain.promoted") else ("passed (not promoted)" if metrics.get("retrain.passed")
                                                                 else "refused")
    print(f"challenger {state}: ndcg@10 {metrics.get('retrain.ndcg@10.champion'):.4f} -> "
          f"{metrics.get('retrain.ndcg@10.challenger'):.4f}, gain {gain[0]:+.4f} [{gain[1]:+.4f}, {gain[2]:+.4f}]")
    if "retrain.navigator_recall@10.challenger" in metrics:  # a full retrain with a Navigator
        print(f"navigator recall@10 {metrics['retrain.navigator_recall@10.champion']:.4f} -> "
              f"{metrics['retrain.navigator_recall@10.challenger']:.4f} (warm-started)")


def _promote(args):
    from pinsandbox.loop import promote, promotion_log, rollback

    if args.log:
        print_json(promotion_log(args.sandbox))
        return
    entry = rollback(args.sandbox) if args.rollback else promote(args.sandbox, force=args.force)
    what = "rolled back to" if args.rollback else "promoted"
    print(f"{what}: " + ", ".join(f"{role} {aid}" for role, aid in entry["champion_after"].items()))


def _history(args):
    from pinsandbox.loop import metric_history, regression_alarm

    if args.alarm:
        result = regression_alarm(args.sandbox, args.run)
        if args.json:
            print_json(result)
        else:
            print(f"run {result['run']} ({result['notebook']}) against {result['baseline'] or 'nothing earlier'}: "
                  f"{len(result['alarms'])} regression(s), {len(result['quiet'])} within noise, "
                  f"{len(result['unmeasured'])} without measured noise (rerun with the same params to measure it)")
            for a in result["alarms"]:
                print(f"  REGRESSION {a['metric']}: {a['baseline']:.6g} -> {a['value']:.6g} "
                      f"(worse by {a['worse_by']:.3g}, threshold {a['threshold']:.3g})")
        return 1 if result["alarms"] else 0
    hist = metric_history(args.sandbox)
    if args.metric:
        hist = hist[hist["metric"] == args.metric]
    if args.json:
        print_json(hist.to_dict("records"))
    else:
        print(hist[["run_id", "notebook", "state", "metric", "value"]].to_string(index=False) if len(hist) else "no runs yet")
