"""Configuration of the catalog stage (plain dataclasses; no heavy imports).

`CatalogConfig` says where the catalog comes from: `source="pinworld"` generates it (with PinworldConfig's
settings, which it inherits: `CatalogConfig(n_pins=300, seed=1)`) or `source="import"` reads a user's files
(`pins`, `events`, optional `boards` and `images`). It is saved with the published catalog (`config.json`), so
`run_catalog(sb, artifact.config())` makes the same catalog again.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import PurePath

from pinsandbox.errors import InvalidInput

SOURCES = ("pinworld", "import")
IMPORT_FILES = ("pins", "events", "boards", "images")


@dataclass
class PinworldConfig:
    n_pins: int = 3000
    n_pinners: int = 800
    days: int = 90
    seed: int = 0
    start: str = "2025-01-06"
    cutoff_fraction: float = 0.8  # train on events before start + cutoff_fraction × days
    sessions_per_day: float = 0.3  # mean sessions per pinner per day (activity is heavy-tailed around it)
    n_events: int | None = None  # if set, sessions_per_day is chosen to give about this many events
    impressions_per_session: float = 6.0
    style_in_title: float = 0.3  # share of titles that name the pin's true style (through a synonym)
    wrong_style_in_title: float = 0.08  # share that name a different style (noise)
    look_fidelity: float = 0.5  # chance each visual attribute (palette, pattern, silhouette) follows the style
    shoppable: float = 0.45  # share of pins with a merchant
    new_pin_fraction: float = 0.35  # pins published during the window rather than before it
    drift_fraction: float = 0.3  # pinners whose taste moves to a new style during the window
    session_focus: float = 0.55  # impressions from the session's style × category …
    fresh: float = 0.1  # … from the same cell but published in the last `fresh_days` (feeds favour fresh pins) …
    fresh_days: int = 14
    lateral: float = 0.1  # … from the same style, another category; the rest from the global popular feed
    n_navigator_requests: int = 800  # drawn last from the rng: more requests leave every other table byte-identical
    image_size: int = 128
    render_images: bool = True
    advances: tuple[int, ...] = ()  # days of each `data advance` after the first window (the newest is held out)

    def validate(self) -> PinworldConfig:
        if self.n_pins < 50 or self.n_pinners < 10:
            raise InvalidInput(f"Pinworld needs at least 50 pins and 10 pinners (got {self.n_pins} pins, {self.n_pinners} pinners)")
        if not 64 <= self.image_size <= 224:
            raise InvalidInput(f"image_size must be between 64 and 224 pixels (got {self.image_size})")
        if self.days < 7:
            raise InvalidInput(f"days must be at least 7 (got {self.days})")
        if any(not isinstance(d, int) or isinstance(d, bool) or not 1 <= d <= 365 for d in self.advances):
            raise InvalidInput(f"each advance must be a whole number of days between 1 and 365 (got {list(self.advances)})")
        if not 0.1 <= self.cutoff_fraction <= 0.95:
            raise InvalidInput(f"cutoff_fraction must be between 0.1 and 0.95 (got {self.cutoff_fraction})")
        return self

    @classmethod
    def with_options(cls, **options) -> PinworldConfig:
        """A config from keyword options, refusing names that are not fields (a typo must not pass silently)."""
        unknown = set(options) - {f.name for f in fields(cls)}
        if unknown:
            raise InvalidInput(f"unknown Pinworld option(s) {', '.join(sorted(unknown))}: use fields of PinworldConfig")
        return cls(**options)


@dataclass
class CatalogConfig(PinworldConfig):
    """Where the catalog comes from. The generator's settings are PinworldConfig's own fields (inherited, so
    `CatalogConfig(n_pins=300, seed=1)` reads like the CLI); the import's are the four file paths."""

    source: str = "pinworld"  # pinworld: generate the demo catalog; import: bring your own files
    pins: str | None = None  # source="import": the pins CSV/Parquet file (pin_id, title[, description, image, …])
    events: str | None = None  # source="import": the events file (pinner_id, pin_id, action, ts[, board_id])
    boards: str | None = None  # source="import", optional: the boards file (board_id, pinner_id, name)
    images: str | None = None  # source="import", optional: the folder the pins' image column is relative to

    def __post_init__(self):
        for name in IMPORT_FILES:  # paths are kept as text, so the config saves as JSON
            value = getattr(self, name)
            if isinstance(value, PurePath):
                setattr(self, name, str(value))

    @classmethod
    def from_pinworld(cls, pinworld: PinworldConfig) -> CatalogConfig:
        return cls(**{f.name: getattr(pinworld, f.name) for f in fields(PinworldConfig)})

    @property
    def pinworld(self) -> PinworldConfig:
        """The generator's part of this config."""
        return PinworldConfig(**{f.name: getattr(self, f.name) for f in fields(PinworldConfig)})

    def validate(self) -> CatalogConfig:
        """Refuse a config that cannot run, or whose settings would be silently ignored, before anything is written."""
        if self.source not in SOURCES:
            raise InvalidInput(f"catalog source must be one of {', '.join(SOURCES)}, not {self.source!r}")
        given = [name for name in IMPORT_FILES if getattr(self, name) is not None]
        for name in given:
            if not isinstance(getattr(self, name), str):
                raise InvalidInput(f"catalog {name} must be a file path, got {type(getattr(self, name)).__name__} "
                                   "(to import DataFrames from Python, call pinsandbox.catalog.import_catalog)")
        if self.source == "pinworld":
            if given:
                raise InvalidInput(f"{', '.join(given)} are for source='import'; Pinworld generates its own catalog "
                                   "(set source='import' to bring your files)")
            self.pinworld.validate()
            return self
        default = PinworldConfig()
        changed = [f.name for f in fields(PinworldConfig) if getattr(self, f.name) != getattr(default, f.name)]
        if changed:
            raise InvalidInput(f"{', '.join(changed)} are Pinworld settings, for source='pinworld': an imported catalog "
                               "is taken as it is (leave them at their defaults)")
        if self.pins is None or self.events is None:
            missing = [what for name, what in (("pins", "a pins file"), ("events", "an events file"))
                       if getattr(self, name) is None]
            raise InvalidInput(f"source='import' needs {' and '.join(missing)}: "
                               "set pins= and events= (boards= and images= are optional)")
        return self
