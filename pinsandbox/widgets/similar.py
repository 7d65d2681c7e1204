"""SimilarPins: pick a pin, see its nearest neighbours — one column per embedding, side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pinsandbox.errors import InvalidInput, NotFound
from pinsandbox.widgets.base import Explorer, cards, esc, pin_card, pin_list, pins_and_images, titles


def vector_neighbours(pin_vectors):
    """A similarity function over L2-normalised pin vectors (PinVectors, or a (pin_ids, vectors) pair): exact
    cosine top-k, loaded once — what the explorer needs per click, without reopening artifacts each time."""
    ids, vectors = pin_vectors if isinstance(pin_vectors, tuple) else (pin_vectors.pin_ids, pin_vectors.vectors)
    ids, vectors = np.asarray(ids).astype(str), np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(ids) != len(vectors):
        raise InvalidInput(f"pin vectors must be an N×d matrix with N pin ids; got {vectors.shape} for {len(ids)} ids")
    row_of = {p: i for i, p in enumerate(ids)}

    def similar(pin_id: str, k: int) -> pd.DataFrame:
        row = row_of.get(str(pin_id))
        if row is None:
            raise NotFound(f"pin {pin_id!r} has no vector: re-run the embeddings stage after adding pins")
        scores = vectors @ vectors[row]
        scores[row] = -np.inf  # never your own neighbour
        top = np.argsort(-scores, kind="stable")[: min(k, len(ids) - 1)]
        return pd.DataFrame({"pin_id": ids[top], "score": scores[top]})

    return similar


class SimilarPins(Explorer):
    """Nearest neighbours of a pin under one or more similarity functions.

        SimilarPins(catalog, {"proprietary": lambda p, k: similar_pins(p, k, "proprietary"),
                              "off-the-shelf": lambda p, k: similar_pins(p, k, "off-the-shelf")}).show()

    `similar`: a callable `(pin_id, k) -> pins` (ids, dicts with pin_id/score as the serving API returns them,
    or a DataFrame with pin_id/score — `embeddings.similar_pins` fits as is), or a dict name -> callable
    to compare them side by side. Following a neighbour makes it the new query (a walk through the catalog).
    """

    def __init__(self, catalog, similar, images_dir=None, *, pin_id: str | None = None, k: int = 8,
                 display_mode: str = "auto", image_size: int = 96):
        super().__init__(display_mode)
        self.pins, self.images_dir = pins_and_images(catalog, images_dir)
        self.similar = similar if isinstance(similar, dict) else {"similar": similar}
        if not self.similar or not all(callable(f) for f in self.similar.values()):
            raise InvalidInput("similar must be a callable (pin_id, k) -> pins, or a non-empty dict of them")
        if k < 1:
            raise InvalidInput(f"k must be at least 1 (got {k})")
        self.k, self.image_size = k, image_size
        self.history: list[str] = []
        self.select(pin_id if pin_id is not None else self.pins["pin_id"].iloc[0])

    @classmethod
    def from_vectors(cls, catalog, vectors: dict, **kwargs) -> SimilarPins:
        """Compare embeddings side by side: `vectors` maps a name to PinVectors (or (pin_ids, vectors)), e.g.
        {"proprietary": load_vectors("proprietary"), "off-the-shelf": load_vectors("off-the-shelf")}."""
        return cls(catalog, {name: vector_neighbours(v) for name, v in vectors.items()}, **kwargs)

    def select(self, pin_id: str) -> SimilarPins:
        """Make `pin_id` the query and compute its neighbours under every similarity."""
        pin_id = str(pin_id).strip()
        if pin_id not in self.pins.index:
            raise NotFound(f"no pin {pin_id!r} in this catalog: pick one of its pin_id values (e.g. {self.pins['pin_id'].iloc[0]!r})")
        neighbours = {name: pin_list(f(pin_id, self.k)) for name, f in self.similar.items()}  # may refuse: then nothing changes
        self.pin_id, self.neighbours = pin_id, neighbours
        self.history.append(pin_id)
        if self._widget is not None:
            self._refresh()
        return self

    def overlap(self) -> float | None:
        """Share of neighbours the first two similarities agree on (how different the two embeddings see the pin)."""
        if len(self.neighbours) < 2:
            return None
        (a, _), (b, _) = list(self.neighbours.values())[:2]
        return len(set(a) & set(b)) / max(1, min(len(a), len(b)))

    def summary(self) -> str:
        lines = [f"SimilarPins for {self.pin_id} {self.pins.loc[self.pin_id, 'title']!r}:"]
        lines += [f"  {name}: {titles(self.pins, ids, self.k)}" for name, (ids, _) in self.neighbours.items()]
        if self.overlap() is not None:
            lines.append(f"  overlap of the first two: {self.overlap():.0%}")
        return "\n".join(lines)

    def html(self) -> str:
        cols = []
        for name, (ids, scores) in self.neighbours.items():
            notes = {p: f"<span style='color:#767676'>cos {s:.3f}</span>" for p, s in scores.items()}
            cols.append(f"<div style='flex:1;min-width:260px'><h4 style='margin:4px 0'>{esc(name)}</h4>"
                        f"{cards(self.pins, ids, self.images_dir, self.image_size, notes)}</div>")
        overlap = f"<div style='color:#555'>overlap of the first two: {self.overlap():.0%}</div>" if self.overlap() is not None else ""
        return (f"<div class='similar-pins'><div style='display:flex;gap:12px;align-items:flex-start'>"
                f"<div><h4 style='margin:4px 0'>query</h4>{pin_card(self.pins.loc[self.pin_id], self.images_dir, self.image_size + 24)}</div>"
                f"{''.join(cols)}</div>{overlap}</div>")

    def _build_widget(self):
        import ipywidgets as w

        self._query = w.Text(value=self.pin_id, description="pin id", continuous_update=False)
        self._random = w.Button(description="random pin")
        self._follow = w.Dropdown(description="follow", options=[])
        self._status = w.HTML()
        self._view = w.HTML()
        self._query.observe(lambda ch: self._try_select(ch["new"]), names="value")
        self._follow.observe(lambda ch: ch["new"] and self._try_select(ch["new"]), names="value")
        self._random.on_click(lambda _: self._try_select(self.pins["pin_id"].sample(1, random_state=len(self.history)).iloc[0]))
        self._refresh()
        return w.VBox([w.HBox([self._query, self._random, self._follow]), self._status, self._view])

    def _try_select(self, pin_id: str) -> None:
        if pin_id == self.pin_id:
            return
        try:
            self.select(pin_id)
        except NotFound as e:  # a typo in the box: say so next to it, keep the last good view
            self._status.value = f"<span style='color:#b00'>{esc(e)}</span>"

    def _refresh(self) -> None:
        self._status.value = ""
        self._query.value = self.pin_id
        first_ids = next(iter(self.neighbours.values()))[0]
        self._follow.options = [("", "")] + [(f"{p} {self.pins.loc[p, 'title']}", p) for p in first_ids if p in self.pins.index]
        self._follow.value = ""
        self._view.value = self.html()
