"""Save and load a fitted TasteGraph as a sandbox artifact (stage `tastegraph`), in open formats.

The graph and the random walker are rebuilt from the saved events on load (cheap); interests, LightGCN's
candidates and the cold-start feed are stored as they are, so a loaded model recommends exactly the same.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pandas as pd

from pinsandbox.schema import ACTION_WEIGHTS
from pinsandbox.tastegraph.graph import build_graph
from pinsandbox.tastegraph.interests import PinnerState, ShareModel
from pinsandbox.tastegraph.walks import PixieWalker

STAGE = "tastegraph"


def save(model, sandbox=None, name: str = "taste-graph", inputs: list[str] = ()) -> str:
    """Publish `model` (online events included, not yet reconciled) as `tastegraph/<name>`; returns the artifact id."""
    from pinsandbox.sandbox import resolve

    model._need_fit()
    sb = resolve(sandbox)
    with sb.artifacts.write(STAGE, name, config=model.config, inputs=list(inputs)) as w:  # config.json: the TasteGraphConfig
        p = w.path
        (p / "model.json").write_text(json.dumps({"config": asdict(model.config), "vector_source": model.vector_source,
                                                   "pins_without_vector": model.pins_without_vector,
                                                   "now": model.graph.now.isoformat(),
                                                   "share_model": None if model.share_model is None else asdict(model.share_model)},
                                                  indent=1))
        pd.DataFrame({"pin_id": model.pins}).to_parquet(p / "pins.parquet")
        np.save(p / "vectors.npy", model.vectors)
        model.events.to_parquet(p / "events.parquet")
        pd.DataFrame(model._online, columns=["pinner_id", "pin_id", "action", "ts", "board_id"]).astype(
            {"ts": "datetime64[us, UTC]"}).to_parquet(p / "online_events.parquet")
        users = list(model.states)
        st = [model.states[u] for u in users]
        n = [len(s.importance) for s in st]
        pd.DataFrame({"pinner_id": np.repeat(users, n), "importance": np.concatenate([s.importance for s in st] + [[]]),
                      "short": np.concatenate([s.short for s in st] + [[]]),
                      "medoid": np.concatenate([s.medoids for s in st] + [[]]).astype(np.int64),
                      "as_of": np.repeat([s.as_of for s in st], n)}).to_parquet(p / "interests.parquet")
        np.save(p / "centers.npy", np.concatenate([s.centers for s in st] + [np.zeros((0, model.vectors.shape[1]), np.float32)]))
        pd.DataFrame({"pinner_id": users, "as_of": [s.as_of for s in st],
                      "seen": [sorted(s.seen) for s in st], "recent_pins": [[r for r, _ in s.recent] for s in st],
                      "recent_weights": [[w for _, w in s.recent] for s in st]}).to_parquet(p / "pinners.parquet")
        pd.DataFrame({"pinner_id": model.pinner_rows}).to_parquet(p / "gnn_pinners.parquet")
        if model.gnn_top is not None:
            np.save(p / "gnn_top.npy", model.gnn_top)
        np.save(p / "cold.npy", model.cold)
        np.save(p / "pin_group.npy", model.pin_group)
    return sb.artifacts.current_id(STAGE, name)


def snapshot_config(art, meta: dict | None = None):
    """The TasteGraphConfig a snapshot was fitted with: its config.json, else (older snapshots) its model.json."""
    from pinsandbox.errors import CorruptArtifact, NotFound
    from pinsandbox.tastegraph.model import TasteGraphConfig

    try:
        config = art.config()
    except NotFound:
        meta = meta if meta is not None else json.loads(art.file("model.json").read_text())
        return TasteGraphConfig.from_dict(meta["config"])
    if not isinstance(config, TasteGraphConfig):
        raise CorruptArtifact(f"{art.id} was published with a {type(config).__name__}, not a TasteGraphConfig: "
                              "re-run the taste-graph stage (notebook 04)")
    return config


def load(sandbox=None, name: str = "taste-graph"):
    from pinsandbox.sandbox import resolve
    from pinsandbox.tastegraph.model import TasteGraph, build_index

    art = resolve(sandbox).artifacts.read(STAGE, name)
    meta = json.loads(art.file("model.json").read_text())
    m = TasteGraph(snapshot_config(art, meta))
    m.pins = pd.Index(pd.read_parquet(art.file("pins.parquet"))["pin_id"].astype(str), name="pin_id")
    m.vectors = np.load(art.file("vectors.npy"))
    m.vector_source, m.pins_without_vector = meta["vector_source"], meta["pins_without_vector"]
    m.share_model = ShareModel(**meta["share_model"]) if meta.get("share_model") else None
    m.events = pd.read_parquet(art.file("events.parquet"))
    online = pd.read_parquet(art.file("online_events.parquet"))
    m._online = online.to_dict("records")
    m.graph = build_graph(m.events, m.pins, half_life_days=m.config.half_life_days,
                          half_life_engagements=m.config.interests.half_life_engagements, now=pd.Timestamp(meta["now"]))
    m.walker = PixieWalker(m.graph.pin_board, m.graph.board_pin, m.config.walks) if m.graph.pin_board.nnz else None
    m.pinner_rows = pd.Index(pd.read_parquet(art.file("gnn_pinners.parquet"))["pinner_id"].astype(str))
    m.gnn_top = np.load(art.file("gnn_top.npy")) if "gnn_top.npy" in art.manifest["files"] else None
    m.cold, m.pin_group = np.load(art.file("cold.npy")), np.load(art.file("pin_group.npy"))
    m.index = build_index(m.vectors, m.config)
    m.ease_B = m._fit_ease()  # refitted (as reconcile does) rather than stored: pins² floats would dwarf the rest
    m._online_rows = {}
    for ev in m._online:
        m._online_rows.setdefault(ev["pinner_id"], []).append((int(m.pins.get_loc(ev["pin_id"])), ACTION_WEIGHTS[ev["action"]]))
    interests = pd.read_parquet(art.file("interests.parquet"))
    centers = np.load(art.file("centers.npy"))
    bounds = np.r_[0, np.cumsum(interests.groupby("pinner_id", sort=False).size().reindex(
        pd.read_parquet(art.file("pinners.parquet"))["pinner_id"]).fillna(0).astype(int).to_numpy())]
    m.states = {}
    for i, row in enumerate(pd.read_parquet(art.file("pinners.parquet")).itertuples(index=False)):
        a, b = bounds[i], bounds[i + 1]
        m.states[row.pinner_id] = PinnerState(
            centers[a:b].copy(), interests["importance"].to_numpy()[a:b].copy(), interests["medoid"].to_numpy()[a:b].copy(),
            row.as_of, short=interests["short"].to_numpy()[a:b].copy(),
            recent=list(zip(np.asarray(row.recent_pins, dtype=np.int64).tolist(), np.asarray(row.recent_weights).tolist(), strict=True)),
            seen=set(np.asarray(row.seen, dtype=np.int64).tolist()))
    m.artifact_id = art.id
    m.fitted = True
    return m
