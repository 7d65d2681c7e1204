"""PinnerExplorer: one pinner's history, interests and homefeed — and how the homefeed moves after an event."""

from __future__ import annotations

import pandas as pd

from pinsandbox.errors import InvalidInput, NotFound
from pinsandbox.schema import ACTIONS, ENGAGEMENTS
from pinsandbox.widgets.base import Explorer, cards, esc, pin_list, pins_and_images, titles


def _interest_rows(table) -> list[tuple[str, float]]:
    """(pin id, weight) per interest from a DataFrame with a *pin_id column and a share/weight/importance column."""
    if table is None or len(table) == 0:
        return []
    pin_col = next((c for c in table.columns if c.endswith("pin_id")), None)
    weight_col = next((c for c in ("share", "weight", "importance") if c in table.columns), None)
    if pin_col is None:
        raise InvalidInput("an interests function must return a DataFrame with a pin id column (e.g. medoid_pin_id)")
    weights = table[weight_col].astype(float) if weight_col else pd.Series(1.0, index=table.index)
    return list(zip(table[pin_col].astype(str), weights, strict=True))


class PinnerExplorer(Explorer):
    """A pinner's engaged history, interests and homefeed, with feed-an-event-and-see-it-change.

        PinnerExplorer(catalog, recommend=tg.recommend, update=tg.update, interests=tg.interests).show()
        PinnerExplorer.from_taste_graph(catalog, tg)          # the same, wired to a TasteGraph
        explorer.feed("p0000042", "save")                      # -> {"before", "after", "new", "gone"}

    `recommend(pinner_id, k) -> pins` (ids, or dicts with pin_id as the serving API's homefeed returns);
    `update(event dict)` applies one event (pinner_id, pin_id, action, ts) — TasteGraph.update, or the serving
    state's record_event;
    `interests(pinner_id) -> DataFrame` (optional). `events`: the history shown (defaults to the catalog's
    training events, so nothing from the held-out future leaks into the view).
    """

    def __init__(self, catalog, recommend, update=None, interests=None, *, events: pd.DataFrame | None = None,
                 images_dir=None, pinner_id: str | None = None, k: int = 12, history: int = 12,
                 display_mode: str = "auto", image_size: int = 96):
        super().__init__(display_mode)
        self.pins, self.images_dir = pins_and_images(catalog, images_dir)
        if events is None:
            if not hasattr(catalog, "train_events"):
                raise InvalidInput("pass events=… (the pinners' history) when giving a pins DataFrame instead of a Catalog")
            events = catalog.train_events()
        if not callable(recommend) or (update is not None and not callable(update)) or (interests is not None and not callable(interests)):
            raise InvalidInput("recommend, update and interests must be callables (update and interests may be None)")
        if k < 1:
            raise InvalidInput(f"k must be at least 1 (got {k})")
        self.events = events
        self.now = pd.Timestamp(events["ts"].max()) if len(events) else pd.Timestamp.now(tz="UTC")
        self.recommend_fn, self.update_fn, self.interests_fn = recommend, update, interests
        self.k, self.history_size, self.image_size = k, history, image_size
        eng = events[events["action"].isin(ENGAGEMENTS)]
        self.pinner_ids = eng["pinner_id"].value_counts().index.astype(str).tolist()  # most active first
        if not self.pinner_ids:
            raise InvalidInput("no pinner has an engagement (closeup, click, save, merchant_click) in these events")
        self.fed: list[dict] = []  # events fed through this explorer, newest last
        self.last_change: dict | None = None
        self.select(pinner_id if pinner_id is not None else self.pinner_ids[0])

    @classmethod
    def from_taste_graph(cls, catalog, taste_graph, **kwargs) -> PinnerExplorer:
        return cls(catalog, recommend=taste_graph.recommend, update=taste_graph.update, interests=taste_graph.interests, **kwargs)

    def select(self, pinner_id: str) -> PinnerExplorer:
        pinner_id = str(pinner_id)
        if pinner_id not in self.pinner_ids:
            raise NotFound(f"no pinner {pinner_id!r} with engagements in these events (e.g. {self.pinner_ids[0]!r})")
        self.pinner_id, self.last_change = pinner_id, None
        self._compute()
        if self._widget is not None:
            self._refresh()
        return self

    def _compute(self) -> None:
        mine = self.events[(self.events["pinner_id"] == self.pinner_id) & self.events["action"].isin(ENGAGEMENTS)]
        recent = mine.sort_values("ts", kind="stable")["pin_id"].astype(str).tolist()[::-1]
        recent = [e["pin_id"] for e in reversed(self.fed) if e["pinner_id"] == self.pinner_id and e["action"] in ENGAGEMENTS] + recent
        self.recent = list(dict.fromkeys(recent))[: self.history_size]
        self.interests = _interest_rows(self.interests_fn(self.pinner_id)) if self.interests_fn else []
        self.homefeed = pin_list(self.recommend_fn(self.pinner_id, self.k))[0]

    def feed(self, pin_id: str, action: str = "save", ts=None) -> dict:
        """Send one event for the current pinner through `update`, then recompute: what entered and left the feed."""
        if self.update_fn is None:
            raise InvalidInput("this explorer has no update function: pass update=… to feed events")
        pin_id = str(pin_id).strip()
        if pin_id not in self.pins.index:
            raise NotFound(f"no pin {pin_id!r} in this catalog")
        if action not in ACTIONS:
            raise InvalidInput(f"action {action!r} is unknown: use one of {', '.join(ACTIONS)}")
        before = list(self.homefeed)
        if ts is None:  # "now" in the catalog's world: just after its latest event, not today's wall clock
            ts = self.now + pd.Timedelta(minutes=len(self.fed) + 1)
        event = {"pinner_id": self.pinner_id, "pin_id": pin_id, "action": action, "ts": ts}
        self.update_fn(event)
        self.fed.append(event)
        self._compute()
        self.last_change = {"event": event, "before": before, "after": list(self.homefeed),
                            "new": [p for p in self.homefeed if p not in before], "gone": [p for p in before if p not in self.homefeed]}
        if self._widget is not None:
            self._refresh()
        return self.last_change

    def summary(self) -> str:
        lines = [f"PinnerExplorer: pinner {self.pinner_id} ({len(self.pinner_ids)} pinners with engagements)",
                 f"  recent engagements: {titles(self.pins, self.recent, 6)}"]
        if self.interests:
            lines.append("  interests: " + "; ".join(f"{self.pins.loc[p, 'title'] if p in self.pins.index else p} ({w:.0%})"
                                                      for p, w in self.interests[:6]))
        lines.append(f"  homefeed: {titles(self.pins, self.homefeed, self.k)}")
        if self.last_change:
            ev = self.last_change["event"]
            lines.append(f"  after {ev['action']} of {ev['pin_id']}: {len(self.last_change['new'])} new pins in the feed "
                         f"({titles(self.pins, self.last_change['new'], 4) or 'none'})")
        return "\n".join(lines)

    def html(self) -> str:
        interest_notes = {p: f"<span style='color:#555'>interest {w:.0%}</span>" for p, w in self.interests}
        parts = [f"<div class='pinner-explorer'><h4 style='margin:4px 0'>pinner {esc(self.pinner_id)} — recent engagements</h4>",
                 cards(self.pins, self.recent, self.images_dir, self.image_size - 24)]
        if self.interests:
            parts += ["<h4 style='margin:4px 0'>interests (one medoid pin each, share of taste)</h4>",
                      cards(self.pins, [p for p, _ in self.interests], self.images_dir, self.image_size - 24, interest_notes)]
        change = ""
        if self.last_change:
            ev = self.last_change["event"]
            change = (f" — after <b>{esc(ev['action'])}</b> of {esc(ev['pin_id'])}: {len(self.last_change['new'])} new "
                      f"(outlined), {len(self.last_change['gone'])} dropped")
        parts += [f"<h4 style='margin:4px 0'>homefeed{change}</h4>",
                  cards(self.pins, self.homefeed, self.images_dir, self.image_size,
                        highlight=set(self.last_change["new"]) if self.last_change else ()), "</div>"]
        return "".join(parts)

    def _build_widget(self):
        import ipywidgets as w

        self._who = w.Dropdown(options=self._pinner_options(), value=self.pinner_id, description="pinner")
        self._pin = w.Combobox(placeholder="pin id (e.g. one from the feed)", description="pin", ensure_option=False)
        self._action = w.Dropdown(options=list(ACTIONS), value="save", description="action")
        self._send = w.Button(description="feed this event", button_style="danger", icon="bolt")
        self._status = w.HTML()
        self._view = w.HTML()
        self._who.observe(lambda ch: ch["new"] != self.pinner_id and self.select(ch["new"]), names="value")
        self._send.on_click(lambda _: self._on_send())
        self._refresh()
        controls = [self._who] + ([self._pin, self._action, self._send] if self.update_fn else [])
        return w.VBox([w.HBox(controls, layout=w.Layout(flex_flow="row wrap")), self._status, self._view])

    def _pinner_options(self, most_active: int = 1000) -> list[str]:
        """The most active pinners (a dropdown of a million would freeze the page), plus the one shown."""
        top = self.pinner_ids[:most_active]
        return top if self.pinner_id in top else [self.pinner_id, *top]

    def _on_send(self) -> None:
        try:
            change = self.feed(self._pin.value or (self.homefeed[0] if self.homefeed else ""), self._action.value)
            self._status.value = f"fed {change['event']['action']} of {esc(change['event']['pin_id'])}: {len(change['new'])} new pins in the homefeed"
        except (NotFound, InvalidInput) as e:
            self._status.value = f"<span style='color:#b00'>{esc(e)}</span>"

    def _refresh(self) -> None:
        if self.pinner_id not in self._who.options:
            self._who.options = self._pinner_options()
        self._who.value = self.pinner_id
        self._pin.options = [p for p in self.homefeed if p in self.pins.index]
        self._view.value = self.html()
        if not self.last_change:
            self._status.value = ""
