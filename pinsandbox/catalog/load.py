"""Reading the current catalog (and Pinworld's ground truth) back from a sandbox."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pinsandbox.errors import NotFound

CATALOG_INFO = "catalog.json"  # source, start/end of the event window, cutoff (ISO-8601)
TRUTH_NAME = "pinworld-truth"


@dataclass
class Catalog:
    """The sandbox's current catalog. Train on `train_events()` only; `test_events()` is the held-out future."""

    pins: pd.DataFrame
    events: pd.DataFrame
    boards: pd.DataFrame
    images_dir: Path
    artifact_id: str
    cutoff: pd.Timestamp
    source: str = "pinworld"

    def train_events(self) -> pd.DataFrame:
        return self.events[self.events["ts"] < self.cutoff]

    def test_events(self) -> pd.DataFrame:
        return self.events[self.events["ts"] >= self.cutoff]

    def image_path(self, pin_id: str) -> Path | None:
        """The image file of `pin_id`, or None for a text-only pin."""
        row = self.pins.loc[self.pins["pin_id"] == pin_id]
        if row.empty:
            raise NotFound(f"no pin {pin_id!r} in catalog {self.artifact_id}")
        image = row["image"].iloc[0]
        return None if pd.isna(image) else self.images_dir / image

    def __repr__(self) -> str:
        return (f"Catalog({self.artifact_id}: {len(self.pins)} pins, {len(self.events)} events, "
                f"{len(self.boards)} boards, cutoff {self.cutoff.isoformat()})")


@dataclass
class GroundTruth:
    """Pinworld's hidden truth and the gold sets derived from it (never part of the catalog itself)."""

    pin_styles: pd.DataFrame
    pinner_interests: pd.DataFrame
    gold_homefeed: pd.DataFrame
    gold_item_pairs: pd.DataFrame
    gold_navigator: pd.DataFrame
    artifact_id: str


def _catalog_artifact(sb):
    link = sb.root / "catalog"
    if not link.exists():
        raise NotFound(
            f"sandbox {sb.owner!r} has no catalog yet: generate one with `pinsandbox data pinworld --sandbox {sb.owner}` "
            f"or import yours with `pinsandbox data import --sandbox {sb.owner} --pins FILE --events FILE`"
        )
    manifest = json.loads((sb.catalog_dir / "manifest.json").read_text())
    return sb.artifacts.read(manifest["stage"], manifest["name"])  # sha256-verified, recorded as a run input


def load_catalog(sandbox=None) -> Catalog:
    """The sandbox's current catalog (`sandbox`: a Sandbox, an owner name, or None for the current one)."""
    from pinsandbox.sandbox import resolve

    sb = resolve(sandbox)
    art = _catalog_artifact(sb)
    info = json.loads(art.file(CATALOG_INFO).read_text())
    boards_path = art.path / "boards.parquet"
    boards = pd.read_parquet(boards_path) if boards_path.exists() else pd.DataFrame(columns=["board_id", "pinner_id", "name"])
    return Catalog(
        pins=pd.read_parquet(art.file("pins.parquet")),
        events=pd.read_parquet(art.file("events.parquet")),
        boards=boards,
        images_dir=art.path / "images",
        artifact_id=art.id,
        cutoff=pd.Timestamp(info["cutoff"]).tz_convert("UTC"),
        source=info.get("source", "pinworld"),
    )


def load_ground_truth(sandbox=None) -> GroundTruth:
    """Pinworld's ground truth for the sandbox's current catalog (imported catalogs have none)."""
    from pinsandbox.sandbox import resolve

    sb = resolve(sandbox)
    catalog = _catalog_artifact(sb)
    if catalog.manifest.get("name") != "pinworld":
        raise NotFound(
            f"the current catalog of sandbox {sb.owner!r} is {catalog.id}, an imported catalog: ground truth exists "
            "only for generated Pinworld catalogs (evaluate on held-out events with catalog.test_events() instead)"
        )
    if not sb.artifacts.exists("catalog", TRUTH_NAME):
        raise NotFound(f"sandbox {sb.owner!r} has no Pinworld ground truth: regenerate with `pinsandbox data pinworld --sandbox {sb.owner}`")
    art = sb.artifacts.read("catalog", TRUTH_NAME)
    if catalog.id not in art.manifest.get("inputs", []):
        raise NotFound(f"the ground truth {art.id} belongs to another catalog than the current {catalog.id}: regenerate Pinworld")
    tables = {name: pd.read_parquet(art.file(f"{name}.parquet"))
              for name in ("pin_styles", "pinner_interests", "gold_homefeed", "gold_item_pairs", "gold_navigator")}
    return GroundTruth(**tables, artifact_id=art.id)
