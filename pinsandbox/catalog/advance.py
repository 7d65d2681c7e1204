"""Time moves on: `advance_catalog` continues a Pinworld catalog by N days; `append_catalog` grows an imported one.

Both publish a new version of the sandbox's catalog whose cutoff is the start of the newest window, so every
stage trains on everything before it and is judged on the new days (for Pinworld, with the new window's own
gold sets). Both go through the stage's usual checks and atomic publication: all or nothing.

    advance_catalog(sandbox, days)                               -> CatalogResult   (`pinsandbox data advance`)
    append_catalog(sandbox, pins=None, events=..., boards=None, images=None) -> Catalog (`data import --append`)
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pandas as pd

from pinsandbox.errors import InvalidInput


def advance_catalog(sandbox=None, days: int = 7, *, progress: bool = True):
    """Continue the sandbox's Pinworld by `days` days: the same world (same seed, same earlier advances, so the
    same bytes) plus a new window — new pins published, pinners engaging and drifting — held out as the future.

    Calls `run_catalog` with the current catalog's config plus this advance, so the published config remakes
    exactly this catalog. Raises InvalidInput for an imported catalog (grow it with `data import --append`)."""
    from pinsandbox.catalog.config import CatalogConfig
    from pinsandbox.catalog.load import _catalog_artifact
    from pinsandbox.catalog.stage import run_catalog
    from pinsandbox.sandbox import resolve

    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
        raise InvalidInput(f"--days must be a whole number of days between 1 and 365 (got {days!r})")
    sb = resolve(sandbox)
    art = _catalog_artifact(sb)
    if art.manifest.get("name") != "pinworld":
        raise InvalidInput(f"the catalog of sandbox {sb.owner!r} is imported ({art.id}): time moves on for it when you "
                           f"add new events, with `pinsandbox data import --sandbox {sb.owner} --append --events FILE`")
    config = art.config()
    if not isinstance(config, CatalogConfig):
        raise InvalidInput(f"the catalog {art.id} has no Pinworld config to continue from: regenerate it with "
                           f"`pinsandbox data pinworld --sandbox {sb.owner}`")
    return run_catalog(sb, replace(config, advances=(*config.advances, days)), progress=progress)


def append_catalog(sandbox=None, pins=None, events=None, boards=None, images=None, *, progress: bool = True):
    """Add new pins (optional), events and boards (optional) to the sandbox's imported catalog, validated like an
    import against what is already there: new pin and board ids must be new, events may name old or new pins,
    and every appended event must be at or after the catalog's last one. The appended events become the held-out
    window (the cutoff moves to their first time). Writes nothing unless every check passes."""
    from pinsandbox.catalog.importer import copy_images, validate_catalog, write_imported
    from pinsandbox.catalog.load import CATALOG_INFO, _catalog_artifact, load_catalog
    from pinsandbox.sandbox import resolve

    if events is None:
        raise InvalidInput("--append needs an events file with the new events (--events FILE)")
    sb = resolve(sandbox)
    art = _catalog_artifact(sb)
    if art.manifest.get("name") != "imported":
        raise InvalidInput(f"the catalog of sandbox {sb.owner!r} is a generated Pinworld ({art.id}): move its time on "
                           f"with `pinsandbox data advance --sandbox {sb.owner} --days N`")
    current = load_catalog(sb)
    if pins is None:
        pins = pd.DataFrame({"pin_id": pd.Series(dtype=str), "title": pd.Series(dtype=str)})
    new_pins, new_events, new_boards = validate_catalog(
        pins, events, boards, images, progress=progress, known_pins=set(current.pins["pin_id"]),
        known_boards=set(current.boards["board_id"].astype(str)), not_before=current.events["ts"].max(),
        allow_no_pins=True)
    new_events = new_events.sort_values(["ts", "pinner_id", "pin_id"], kind="stable").reset_index(drop=True)
    cutoff = new_events["ts"].min()
    all_pins = pd.concat([current.pins, new_pins], ignore_index=True) if len(new_pins) else current.pins
    all_events = pd.concat([current.events, new_events], ignore_index=True)
    all_boards = pd.concat([current.boards, new_boards], ignore_index=True) if len(new_boards) else current.boards
    info = json.loads(art.file(CATALOG_INFO).read_text())
    files = {k: None if v is None or isinstance(v, pd.DataFrame) else str(v)
             for k, v in {"pins": pins, "events": events, "boards": boards, "images": images}.items()}
    windows = info.get("windows") or [[info["start"], info["end"]]]
    info.update({"end": all_events["ts"].max().isoformat(), "cutoff": cutoff.isoformat(),
                 "windows": [*windows, [cutoff.isoformat(), new_events["ts"].max().isoformat()]],
                 "appended": [*info.get("appended", []), files]})
    with sb.artifacts.write("catalog", "imported", config=art.config(), inputs=[art.id], link_at="catalog") as w:
        write_imported(w.path, all_pins, all_events, all_boards, info)
        shutil.copytree(current.images_dir, w.path / "images")
        copy_images(images, new_pins, w.path / "images")
    return load_catalog(sb)
