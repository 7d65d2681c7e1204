"""PinGallery: browse a catalog's pins — free-text search, filters on its metadata, pages of image cards."""

from __future__ import annotations

import pandas as pd

from pinsandbox.errors import InvalidInput
from pinsandbox.widgets.base import Explorer, cards, pins_and_images, titles

ALL = "(all)"


def filterable_columns(pins: pd.DataFrame, max_values: int = 40) -> list[str]:
    """Metadata columns worth a dropdown: strings with few distinct values (category, palette, merchant …)."""
    skip = {"pin_id", "title", "description", "image"}
    return [c for c in pins.columns if c not in skip
            and (pins[c].dtype == object or pd.api.types.is_string_dtype(pins[c]))
            and 1 < pins[c].nunique() <= max_values]


class PinGallery(Explorer):
    """Search and filter pins, page through them as image cards.

        gallery = PinGallery(catalog)            # or PinGallery(pins_df, images_dir)
        gallery.search("lamp", category="lamp", max_price=100).show()
        gallery.results                          # the matching pins, as a DataFrame
    """

    def __init__(self, catalog, images_dir=None, *, page_size: int = 24, columns: list[str] | None = None,
                 display_mode: str = "auto", image_size: int = 120):
        super().__init__(display_mode)
        self.pins, self.images_dir = pins_and_images(catalog, images_dir)
        if page_size < 1:
            raise InvalidInput(f"page_size must be at least 1 (got {page_size})")
        self.page_size, self.image_size = page_size, image_size
        self.columns = filterable_columns(self.pins) if columns is None else list(columns)
        unknown = set(self.columns) - set(self.pins.columns)
        if unknown:
            raise InvalidInput(f"cannot filter on {', '.join(sorted(unknown))}: the pins table has no such column")
        self.has_price = "price" in self.pins and pd.api.types.is_numeric_dtype(self.pins["price"])
        self.query, self.filters, self.max_price, self.page = "", {}, None, 0
        self._apply()

    # -- the model: what matches -----------------------------------------------------------------
    def search(self, query: str = "", max_price: float | None = None, **filters) -> PinGallery:
        """Keep pins whose title/description contain every word of `query` and whose columns equal `filters`."""
        unknown = set(filters) - set(self.columns)
        if unknown:
            raise InvalidInput(f"cannot filter on {', '.join(sorted(unknown))}: filterable columns are {', '.join(self.columns) or 'none'}")
        if max_price is not None and not self.has_price:
            raise InvalidInput("max_price needs a numeric price column, and this catalog has none")
        filters = {k: v for k, v in filters.items() if v not in (None, ALL)}
        for col, value in filters.items():
            values = self.pins[col].dropna().unique()
            if value not in values:
                raise InvalidInput(f"no pin has {col}={value!r}: use one of {', '.join(map(repr, sorted(values)[:12]))}"
                                   + (" …" if len(values) > 12 else ""))
        self.query, self.max_price, self.page, self.filters = query.strip(), max_price, 0, filters
        self._apply()
        if self._widget is not None:
            self._sync_controls()
        return self

    def _apply(self) -> None:
        pins = self.pins
        keep = pd.Series(True, index=pins.index)
        if self.query:
            text = (pins["title"].fillna("") + " " + pins.get("description", pd.Series("", index=pins.index)).fillna("")).str.lower()
            for word in self.query.lower().split():
                keep &= text.str.contains(word, regex=False)
        for col, value in self.filters.items():
            keep &= pins[col] == value
        if self.max_price is not None:
            keep &= pins["price"] <= self.max_price
        self.results = pins[keep]

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.results) // self.page_size))

    def page_ids(self) -> list[str]:
        start = self.page * self.page_size
        return self.results["pin_id"].iloc[start:start + self.page_size].tolist()

    def _describe(self) -> str:
        parts = [f"'{self.query}'"] if self.query else []
        parts += [f"{k}={v}" for k, v in self.filters.items()]
        parts += [f"price ≤ {self.max_price:g}"] if self.max_price is not None else []
        return f"{len(self.results)} of {len(self.pins)} pins" + (f" matching {', '.join(parts)}" if parts else "")

    # -- views ----------------------------------------------------------------------------------
    def summary(self) -> str:
        return f"PinGallery: {self._describe()} — page {self.page + 1}/{self.pages}: {titles(self.pins, self.page_ids())}"

    def html(self) -> str:
        return (f"<div class='pin-gallery'><div style='color:#555;margin:4px 0'>{self._describe()} "
                f"(page {self.page + 1}/{self.pages})</div>{cards(self.pins, self.page_ids(), self.images_dir, self.image_size)}</div>")

    def _build_widget(self):
        import ipywidgets as w

        self._search = w.Text(value=self.query, placeholder="search titles and descriptions", description="search",
                              continuous_update=False)
        self._dropdowns = {c: w.Dropdown(options=[ALL] + sorted(self.pins[c].dropna().unique().tolist()), value=ALL,
                                         description=c) for c in self.columns}
        controls = [self._search, *self._dropdowns.values()]
        if self.has_price:
            top = float(self.pins["price"].max())
            self._price = w.FloatSlider(value=top, min=0, max=top, step=max(1.0, round(top / 100)), description="max price",
                                        continuous_update=False, readout_format=".0f")
            controls.append(self._price)
        self._prev, self._next = w.Button(description="◀ prev", layout=w.Layout(width="80px")), w.Button(description="next ▶", layout=w.Layout(width="80px"))
        self._grid = w.HTML(self.html())
        for c in controls:
            c.observe(self._on_change, names="value")
        self._prev.on_click(lambda _: self._turn(-1))
        self._next.on_click(lambda _: self._turn(+1))
        self._sync_controls()
        return w.VBox([w.HBox(controls[:3], layout=w.Layout(flex_flow="row wrap")),
                       w.HBox(controls[3:] + [self._prev, self._next], layout=w.Layout(flex_flow="row wrap")), self._grid])

    def _on_change(self, _change) -> None:
        if getattr(self, "_syncing", False):
            return
        filters = {c: d.value for c, d in self._dropdowns.items()}
        price = self._price.value if self.has_price and self._price.value < self._price.max else None
        self.query, self.max_price, self.page = self._search.value.strip(), price, 0
        self.filters = {k: v for k, v in filters.items() if v != ALL}
        self._apply()
        self._refresh()

    def _turn(self, step: int) -> None:
        self.page = min(max(0, self.page + step), self.pages - 1)
        self._refresh()

    def _sync_controls(self) -> None:
        """Controls follow the model when it is changed from code (e.g. `gallery.search(...)`)."""
        self._syncing = True
        try:
            self._search.value = self.query
            for c, d in self._dropdowns.items():
                d.value = self.filters.get(c, ALL)
            if self.has_price:
                self._price.value = self._price.max if self.max_price is None else self.max_price
        finally:
            self._syncing = False
        self._refresh()

    def _refresh(self) -> None:
        self._grid.value = self.html()
        self._prev.disabled = self.page == 0
        self._next.disabled = self.page >= self.pages - 1
