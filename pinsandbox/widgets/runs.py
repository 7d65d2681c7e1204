"""RunsBrowser: pick two runs of a sandbox and compare their parameters and metrics side by side."""

from __future__ import annotations

import numbers

import pandas as pd

from pinsandbox.errors import InvalidInput, NotFound
from pinsandbox.widgets.base import Explorer, esc


def _load_runs(runs):
    """A list of run records (anything with id, notebook, state, params, metrics) or a sandbox's runs."""
    if isinstance(runs, (list, tuple)):
        return list(runs)
    from pinsandbox.runs.records import list_runs
    from pinsandbox.sandbox import resolve

    return list_runs(resolve(runs))


def _show(value) -> str:
    return "(unset)" if value is None or (isinstance(value, float) and pd.isna(value)) else repr(value)


def comparison(a, b) -> pd.DataFrame:
    """Every param and metric of two runs: values side by side, whether they differ, b/a for numbers."""
    rows = []
    for part in ("params", "metrics"):
        da, db = a.params if part == "params" else a.metrics, b.params if part == "params" else b.metrics
        for key in sorted(set(da) | set(db)):
            va, vb = da.get(key), db.get(key)
            numeric = all(isinstance(v, numbers.Number) and not isinstance(v, bool) for v in (va, vb))
            ratio = vb / va if numeric and va else None
            rows.append({"part": part, "name": key, "a": va, "b": vb, "differs": va != vb, "b/a": ratio})
    return pd.DataFrame(rows, columns=["part", "name", "a", "b", "differs", "b/a"], dtype=object)


class RunsBrowser(Explorer):
    """A sandbox's runs, newest first; choose two to see what changed between them.

        RunsBrowser("alice").compare(run_a_id, run_b_id).show()
    """

    def __init__(self, runs=None, *, display_mode: str = "auto"):
        super().__init__(display_mode)
        self.runs = {r.id: r for r in reversed(_load_runs(runs))}  # newest first
        ids = list(self.runs)
        self.a, self.b = (ids[1], ids[0]) if len(ids) > 1 else ((ids[0], ids[0]) if ids else (None, None))

    def compare(self, a: str, b: str) -> RunsBrowser:
        for run_id in (a, b):
            if run_id not in self.runs:
                raise NotFound(f"no run {run_id!r} here: choose from {', '.join(list(self.runs)[:5]) or 'none (run a notebook first)'}")
        self.a, self.b = a, b
        if self._widget is not None:
            self._refresh()
        return self

    def table(self) -> pd.DataFrame:
        """All runs, newest first: id, notebook, state, and each run's metrics."""
        rows = [{"run": r.id, "notebook": r.notebook, "state": r.state, **r.metrics} for r in self.runs.values()]
        return pd.DataFrame(rows)

    def comparison(self) -> pd.DataFrame:
        if self.a is None:
            raise InvalidInput("there are no runs to compare yet: run a notebook with `pinsandbox run`")
        return comparison(self.runs[self.a], self.runs[self.b])

    def _label(self, run_id) -> str:
        r = self.runs[run_id]
        return f"{run_id} · {r.notebook} · {r.state}"

    def summary(self) -> str:
        if self.a is None:
            return "RunsBrowser: no runs yet"
        diff = self.comparison()
        diff = diff[diff["differs"]]
        lines = [f"RunsBrowser: {len(self.runs)} runs; a = {self._label(self.a)}; b = {self._label(self.b)}"]
        lines += [f"  {r['part']} {r['name']}: {_show(r['a'])} → {_show(r['b'])}" + (f" (×{r['b/a']:.3g})" if pd.notna(r["b/a"]) else "")
                  for _, r in diff.iterrows()]
        return "\n".join(lines if len(lines) > 1 else lines + ["  no differences in params or metrics"])

    def html(self) -> str:
        if self.a is None:
            return "<i>no runs yet: run a notebook with <code>pinsandbox run</code></i>"
        rows = []
        for _, r in self.comparison().iterrows():
            style = "background:#fff3cd" if r["differs"] else ""
            ratio = f"×{r['b/a']:.3g}" if pd.notna(r["b/a"]) else ""
            rows.append(f"<tr style='{style}'><td>{r['part']}</td><td>{esc(r['name'])}</td><td>{esc(_show(r['a']))}</td>"
                        f"<td>{esc(_show(r['b']))}</td><td>{ratio}</td></tr>")
        return (f"<div class='runs-browser'><div>a: {esc(self._label(self.a))}<br>b: {esc(self._label(self.b))}</div>"
                f"<table><tr><th></th><th>name</th><th>a</th><th>b</th><th>b/a</th></tr>{''.join(rows)}</table></div>")

    def _build_widget(self):
        import ipywidgets as w

        options = [(self._label(i), i) for i in self.runs]
        self._pick_a = w.Dropdown(options=options, value=self.a, description="run a", layout=w.Layout(width="48%"))
        self._pick_b = w.Dropdown(options=options, value=self.b, description="run b", layout=w.Layout(width="48%"))
        self._view = w.HTML(self.html())
        for d in (self._pick_a, self._pick_b):
            d.observe(lambda _: self.compare(self._pick_a.value, self._pick_b.value), names="value")
        return w.VBox([w.HBox([self._pick_a, self._pick_b]), self._view])

    def _refresh(self) -> None:
        self._view.value = self.html()
