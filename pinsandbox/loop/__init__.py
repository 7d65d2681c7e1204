"""The loop (#18): retrain on the newest window, gate the challenger against the champion, promote or refuse,
roll back, and keep one metric history per sandbox.

    run_retrain(sandbox, RetrainConfig(...))   -> RetrainResult  (notebook 07, `pinsandbox retrain`)
    promote(sandbox) / rollback(sandbox)        -> log entry      (`pinsandbox promote [--rollback]`)
    promotion_log(sandbox)                      -> list of entries (append-only, loop/promotions.jsonl)
    metric_history(sandbox), regression_alarm(sandbox, ...)   (every run's metrics, loop/history.jsonl)
    logged_events(sb, catalog)                  -> events serving accepted, cleaned for the next retrain
    swap_under_load(server, action, ...)        -> a promotion/rollback under concurrent clients: failed, visible_s
"""

from pinsandbox.lazy import lazy_exports

_EXPORTS = {
    "RetrainConfig": "retrain", "RetrainResult": "retrain", "run_retrain": "retrain", "score_on_window": "retrain",
    "gate": "retrain",
    "promote": "promotion", "rollback": "promotion", "promotion_log": "promotion", "CHAMPION": "promotion",
    "logged_events": "feedback", "swap_under_load": "swap",
    "metric_history": "history", "append_history": "history", "regression_alarm": "history", "noise_thresholds": "history",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
