"""The taste graph on a sandbox's catalog: fit before a cutoff, recommend, compare with baselines.

    from pinsandbox.tastegraph import recommend
    top = recommend("alice", k=10)            # DataFrame pinner_id, rank, pin_id — fit on events before the cutoff
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import pandas as pd

from pinsandbox.errors import InvalidInput
from pinsandbox.schema import utc_timestamp
from pinsandbox.tastegraph.metrics import temporal_split
from pinsandbox.tastegraph.model import TasteGraph, TasteGraphConfig


@dataclass
class Split:
    catalog: object  # pinsandbox.catalog.Catalog
    train: pd.DataFrame
    test: pd.DataFrame
    cutoff: pd.Timestamp
    vectors: object  # PinVectors, or None for a vector-less catalog


def load_split(sandbox=None, before=None, vectors: str = "proprietary") -> Split:
    """The sandbox's catalog split at `before` (default: the catalog's cutoff) and its pin vectors if any.

    Vectors: `vectors` kind first, then the other kind, then none (the taste graph then embeds pins from the graph).
    """
    from pinsandbox.catalog import load_catalog
    from pinsandbox.embeddings import find_vectors

    catalog = load_catalog(sandbox)
    cutoff = catalog.cutoff if before is None else utc_timestamp(before, what="--before")
    train, test = temporal_split(catalog.events, cutoff)
    if train.empty:
        first = catalog.events["ts"].min()
        raise InvalidInput(f"no events before {cutoff.isoformat()} to fit on (the catalog starts at {first}): pick a later --before")
    return Split(catalog, train, test, cutoff, find_vectors(sandbox, vectors))


def fit_on_split(split: Split, config: TasteGraphConfig | None = None, progress=None) -> TasteGraph:
    """The one way a sandbox's taste graph is fitted (the stage, `pinsandbox recommend`): the training side of
    `split`, its pin vectors, every pin of the catalog."""
    return TasteGraph(config).fit(split.train, split.vectors, pins=split.catalog.pins["pin_id"], progress=progress)


def fit(sandbox=None, before=None, config: TasteGraphConfig | None = None, progress=None,
        vectors: str = "proprietary") -> tuple[TasteGraph, Split]:
    """Fit a TasteGraph on the sandbox's events before `before` (default the catalog's cutoff)."""
    split = load_split(sandbox, before, vectors=vectors)
    return fit_on_split(split, config, progress), split


def recommend(sandbox=None, before=None, k: int = 10, config: TasteGraphConfig | None = None) -> pd.DataFrame:
    """Top-k homefeed (pinner_id, rank, pin_id) for every pinner of the catalog, fitted on events before `before`.

    Pinners with no history before `before` get the cold-start feed (popular pins spread over tastes).
    """
    if int(k) < 1:
        raise InvalidInput(f"k must be at least 1, got {k}")
    model, split = fit(sandbox, before, config)
    pinners = pd.unique(split.catalog.events["pinner_id"].astype(str))
    return model.recommendations(pinners, int(k))


def write_table(df: pd.DataFrame, out) -> None:
    """Write CSV or Parquet by the file's extension, atomically (a reader never sees half a file)."""
    from pathlib import Path

    from pinsandbox.sandbox.artifacts import atomic_file

    out = Path(out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise InvalidInput(f"--out {out}: use a .csv or .parquet file name")
    if not out.parent.is_dir():
        raise InvalidInput(f"--out {out}: folder {out.parent} does not exist")
    with atomic_file(out) as tmp:
        if out.suffix.lower() == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)


warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta", category=UserWarning)
