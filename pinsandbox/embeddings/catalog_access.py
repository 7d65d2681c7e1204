"""How this stage reads the catalog: through `pinsandbox.catalog` when it is installed, else by the contract.

The catalog stage owns `load_catalog` / `load_ground_truth`. Until it is merged, a minimal reader of the
same published artifact (pins/events/boards Parquet + images/, cutoff in the manifest or the 80th
percentile of event times) keeps this stage usable; once it is there, it is used and this reader is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pinsandbox.errors import NotFound
from pinsandbox.sandbox import resolve
from pinsandbox.sandbox.artifacts import load


@dataclass
class CatalogView:
    pins: pd.DataFrame
    events: pd.DataFrame
    boards: pd.DataFrame
    images_dir: Path
    artifact_id: str
    cutoff: pd.Timestamp

    def train_events(self) -> pd.DataFrame:
        return self.events[self.events["ts"] < self.cutoff]

    def test_events(self) -> pd.DataFrame:
        return self.events[self.events["ts"] >= self.cutoff]


@dataclass
class TruthView:
    pin_styles: pd.DataFrame | None = None
    gold_item_pairs: pd.DataFrame | None = None
    extra: dict = field(default_factory=dict)


def load_catalog(sandbox=None):
    try:
        from pinsandbox.catalog import load_catalog as real
    except ImportError:
        return _read_contract(resolve(sandbox))
    return real(sandbox=sandbox)


def load_ground_truth(sandbox=None):
    """Pinworld's ground truth, or None for catalogs that have none (imported ones)."""
    try:
        from pinsandbox.catalog import load_ground_truth as real
    except ImportError:
        real = None
    if real is not None:
        try:
            return real(sandbox=sandbox)
        except NotFound:
            return None
    sb = resolve(sandbox)
    if not sb.artifacts.exists("catalog", "pinworld-truth"):
        return None
    art = sb.artifacts.read("catalog", "pinworld-truth")
    read = {n: pd.read_parquet(art.path / f"{n}.parquet") for n in ("pin_styles", "gold_item_pairs")
            if (art.path / f"{n}.parquet").exists()}
    return TruthView(**read)


def _read_contract(sb) -> CatalogView:
    link = sb.path(".") / "catalog"
    if not link.exists():
        raise NotFound(f"sandbox {sb.owner!r} has no catalog: make one first (`pinsandbox data pinworld --sandbox {sb.owner}`)")
    art = load(sb.catalog_dir)
    pins = pd.read_parquet(art.file("pins.parquet"))
    events = pd.read_parquet(art.file("events.parquet"))
    boards_path = art.path / "boards.parquet"
    boards = pd.read_parquet(boards_path) if boards_path.exists() else pd.DataFrame(columns=["board_id", "pinner_id", "name"])
    cutoff = art.manifest.get("cutoff") or art.params.get("cutoff")
    cutoff = pd.Timestamp(cutoff) if cutoff else events["ts"].quantile(0.8)
    return CatalogView(pins, events, boards, art.path / "images", art.id, cutoff)
