"""Bring your own catalog: validate pins / events / boards (CSV or Parquet) and images, then publish them.

Validation collects *every* problem (pandera schemas, run lazily, plus timestamp parsing and image checks)
and reports them together, each with the row numbers it concerns. Row numbers count data rows from 1 (the
CSV header is not a row, so row N is line N+1 of a CSV file). Nothing is written unless all checks pass.

A plain ratings log is an events file too: `user_id`/`userID`, `item_id`/`itemID` and `timestamp` are read as
`pinner_id`, `pin_id` and `ts` (in the pins file, the item column as `pin_id`), and a numeric `rating` column
in place of `action` becomes the funnel by where each rating sits on the file's own scale (`RATING_ACTIONS`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pandera.pandas as pda
import pyarrow as pa
from pandera import Check

from pinsandbox.catalog.load import CATALOG_INFO, Catalog, load_catalog
from pinsandbox.catalog.pinworld import write_table
from pinsandbox.errors import InvalidInput
from pinsandbox.schema import ACTIONS, BOARD_COLUMNS, EVENT_COLUMNS, PIN_COLUMNS, parse_times
from pinsandbox.schema import REQUIRED_COLUMNS as REQUIRED

CUTOFF_QUANTILE = 0.8  # imported catalogs hold out the last 20% of events (by time) as the future
MAX_ROWS_SHOWN = 10
# the usual recommender-log names (Microsoft Recommenders, RecBole, …) and the catalog's own
COLUMN_ALIASES = {"user_id": "pinner_id", "userID": "pinner_id", "item_id": "pin_id", "itemID": "pin_id", "timestamp": "ts"}
# a rating's place on the file's scale, 0 (its lowest) … 1 (its highest) -> the action it stands for: the top
# quarter a save, the next a click, then a closeup; the lowest ratings were seen and passed over (impressions)
RATING_ACTIONS = ((0.75, "save"), (0.5, "click"), (0.25, "closeup"), (0.0, "impression"))


# ---------------------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------------------
def read_table(path, kind: str) -> pd.DataFrame:
    """Read a CSV or Parquet file; id/text columns stay text (so '007' stays '007')."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InvalidInput(f"{kind} file {str(path)!r} does not exist: give the path of a .csv or .parquet file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            text_cols = {c: str for c in set((*PIN_COLUMNS, *EVENT_COLUMNS, *BOARD_COLUMNS))}
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=text_cols)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except Exception as e:  # a parser's own words are the most useful here
        raise InvalidInput(f"cannot read {kind} file {path.name}: {type(e).__name__}: {e}") from None
    raise InvalidInput(f"{kind} file {path.name} has an unknown format {suffix!r}: use .csv, .tsv or .parquet")


def _as_table(data, kind: str) -> tuple[pd.DataFrame, str]:
    table, name = (data, kind) if isinstance(data, pd.DataFrame) else (read_table(data, kind), Path(data).name)
    table = table.reset_index(drop=True)
    aliases = {old: new for old, new in COLUMN_ALIASES.items() if old in table.columns and kind != "boards"}
    clash = [f"{old!r} and {new!r}" for old, new in aliases.items() if new in table.columns]
    if clash:
        raise InvalidInput(f"{name}: has both {', '.join(clash)}: keep one of each pair")
    return table.rename(columns=aliases), name


def ratings_as_actions(events: pd.DataFrame, file: str) -> tuple[pd.DataFrame, list[str]]:
    """A ratings log (a numeric `rating` column, no `action`) as events: each rating's place on the file's own
    scale picks its action (`RATING_ACTIONS`). Other event files pass through unchanged."""
    if "action" in events.columns or "rating" not in events.columns:
        return events, []
    rating = pd.to_numeric(events["rating"], errors="coerce")
    bad = rating.isna()
    if bad.any():
        return events, [f"{file}: ratings at {_rows(events.index[bad])} are not numbers (e.g. {events['rating'][bad].iloc[0]!r})"]
    low, high = rating.min(), rating.max()
    place = (rating - low) / (high - low) if high > low else pd.Series(1.0, index=rating.index)
    action = pd.Series("impression", index=events.index, dtype=object)
    for threshold, name in reversed(RATING_ACTIONS):
        action[place >= threshold] = name
    return events.drop(columns="rating").assign(action=action), []


# ---------------------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------------------
def _rows(index) -> str:
    rows = sorted({int(i) + 1 for i in index if i is not None and not pd.isna(i)})
    shown = ", ".join(map(str, rows[:MAX_ROWS_SHOWN]))
    more = f" and {len(rows) - MAX_ROWS_SHOWN} more" if len(rows) > MAX_ROWS_SHOWN else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def _values(cases) -> str:
    vals = list(dict.fromkeys(str(v) for v in cases))
    return ", ".join(repr(v) for v in vals[:5]) + (", …" if len(vals) > 5 else "")


def _schema(kind: str, pin_ids=None, board_ids=None) -> pda.DataFrameSchema:
    text = dict(dtype=str, coerce=False)
    if kind == "pins":
        cols = {
            "pin_id": pda.Column(**text, nullable=False, unique=True),
            "title": pda.Column(**text, nullable=False),
            "description": pda.Column(**text, nullable=True, required=False),
            "image": pda.Column(**text, nullable=True, required=False),
        }
    elif kind == "events":
        cols = {
            "pinner_id": pda.Column(**text, nullable=False),
            "pin_id": pda.Column(**text, nullable=False,
                                 checks=None if pin_ids is None else Check(lambda s: s.isin(pin_ids), name="known_pin")),
            "action": pda.Column(**text, nullable=False, checks=Check(lambda s: s.isin(ACTIONS), name="known_action")),
            "ts": pda.Column(nullable=False),
            "board_id": pda.Column(
                **text, nullable=True, required=False,
                checks=None if board_ids is None else Check(lambda s: s.isna() | s.isin(board_ids), name="known_board")),
        }
    else:
        cols = {
            "board_id": pda.Column(**text, nullable=False, unique=True),
            "pinner_id": pda.Column(**text, nullable=False),
            "name": pda.Column(**text, nullable=True),
        }
    return pda.DataFrameSchema(cols, strict=False)


def _explain(file: str, column, check: str, cases: pd.DataFrame, df: pd.DataFrame) -> str:
    rows = _rows(cases["index"])
    if check == "not_nullable":
        return f"{file}: column {column!r} is empty at {rows}"
    if check == "field_uniqueness":
        return f"{file}: duplicate {column} {_values(cases['failure_case'])} at {rows}: each {column} must appear once"
    if check == "known_pin":
        return f"{file}: pin_id {_values(cases['failure_case'])} at {rows} is not in the pins file: add those pins or drop the events"
    if check == "known_action":
        return (f"{file}: unknown action {_values(cases['failure_case'])} at {rows}: "
                f"use one of {', '.join(ACTIONS)}")
    if check == "known_board":
        return f"{file}: board_id {_values(cases['failure_case'])} at {rows} is not in the boards file"
    if check.startswith("dtype("):
        got = df[column].dtype if column in df else "?"
        return f"{file}: column {column!r} must be text but holds {got} values (at {rows}): store it as strings"
    return f"{file}: column {column!r} fails check {check} at {rows}: {_values(cases['failure_case'])}"


def _validate(df: pd.DataFrame, kind: str, file: str, **ids) -> list[str]:
    try:
        _schema(kind, **ids).validate(df, lazy=True)
    except pda.errors.SchemaErrors as e:
        fc = e.failure_cases
        problems = []
        for (column, check), cases in fc.groupby([fc["column"].astype(str), fc["check"].astype(str)], sort=False, dropna=False):
            if check == "column_in_dataframe":
                for _, case in cases.iterrows():
                    hint = " — or a numeric 'rating' column, for a ratings log" if (kind, case['failure_case']) == ("events", "action") else ""
                    problems.append(f"{file}: missing column {case['failure_case']!r} (required: {', '.join(REQUIRED[kind])}{hint})")
                continue
            problems.append(_explain(file, None if column == "None" else column, check, cases, df))
        return problems
    return []


def _check_images(pins: pd.DataFrame, images: Path | None, file: str, progress: bool) -> list[str]:
    from PIL import Image
    from tqdm.auto import tqdm

    if "image" not in pins.columns or pins["image"].isna().all():
        return []
    named = pins["image"].notna()
    if images is None:
        return [f"{file}: {_rows(pins.index[named])} name an image but no images folder was given: pass --images DIR "
                "(or leave the image column empty for a text-only catalog)"]
    if not images.is_dir():
        return [f"images folder {str(images)!r} does not exist"]
    root = images.resolve()
    missing, outside, unreadable = [], [], []
    for i, rel in tqdm(pins["image"][named].items(), total=int(named.sum()), desc="checking images", disable=not progress):
        path = (root / str(rel)).resolve()
        if Path(str(rel)).is_absolute() or root not in path.parents:
            outside.append(i)
        elif not path.is_file():
            missing.append(i)
        else:
            try:
                with Image.open(path) as im:
                    im.verify()
            except Exception:
                unreadable.append(i)
    problems = []
    if outside:
        problems.append(f"{file}: image paths at {_rows(outside)} leave the images folder: give paths relative to it")
    if missing:
        problems.append(f"{file}: image files at {_rows(missing)} are missing from {root} (e.g. {pins['image'][missing[0]]!r})")
    if unreadable:
        problems.append(f"{file}: image files at {_rows(unreadable)} cannot be read as images (e.g. {pins['image'][unreadable[0]]!r})")
    return problems


def _already_known(df: pd.DataFrame, column: str, known, file: str, rule: str) -> list[str]:
    """Appending: rows whose `column` is already in the catalog, as one problem (or none)."""
    again = df.index[df[column].astype(str).isin(known)]
    if not len(again):
        return []
    return [f"{file}: {column} {df[column][again[0]]!r} at {_rows(again)} is already in the catalog: appended {rule}"]


def _timestamp_like(col: pd.Series, name: str) -> bool:
    return name.endswith(("_at", "_ts")) and (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col))


# ---------------------------------------------------------------------------------------------------------
# import / export
# ---------------------------------------------------------------------------------------------------------
def validate_catalog(pins, events, boards=None, images=None, *, progress: bool = False, known_pins=None,
                     known_boards=None, not_before=None, allow_no_pins: bool = False):
    """Check everything; return clean (pins, events, boards) tables, or raise InvalidInput listing every problem.

    For `data import --append`: `known_pins` / `known_boards` are the ids already in the catalog (events may name
    them; new pins and boards may not reuse them), `not_before` the catalog's last event time (appended events may
    not be earlier), `allow_no_pins` lets the pins file be empty (only new events)."""
    pins, pins_file = _as_table(pins, "pins")
    events, events_file = _as_table(events, "events")
    boards, boards_file = (None, None) if boards is None else _as_table(boards, "boards")
    images = None if images is None else Path(images).expanduser()
    events, problems = ratings_as_actions(events, events_file)

    problems += _validate(pins, "pins", pins_file)
    if "image" in pins.columns:
        problems += _check_images(pins, images, pins_file, progress)
    elif images is not None:
        problems.append(f"{pins_file}: an images folder was given but there is no 'image' column naming each pin's file")
    if boards is not None:
        problems += _validate(boards, "boards", boards_file)
    pin_ids = set(pins["pin_id"].dropna().astype(str)) if "pin_id" in pins else None  # no ids: don't flag every event
    board_ids = None if boards is None or "board_id" not in boards else set(boards["board_id"].dropna().astype(str))
    if known_pins is not None and pin_ids is not None:
        problems += _already_known(pins, "pin_id", known_pins, pins_file, "pins must be new (events may name existing pins)")
        pin_ids = pin_ids | set(known_pins)
    if known_boards is not None:
        if board_ids is not None:
            problems += _already_known(boards, "board_id", known_boards, boards_file, "boards must be new")
        if board_ids is not None or known_boards:  # a catalog without boards keeps its board_ids free text
            board_ids = (board_ids or set()) | set(known_boards)
    problems += _validate(events, "events", events_file, pin_ids=pin_ids, board_ids=board_ids)
    if "ts" in events.columns:
        ts = parse_times(events["ts"])
        bad = ts.isna() & events["ts"].notna()
        if bad.any():
            problems.append(f"{events_file}: timestamps at {_rows(events.index[bad])} cannot be parsed "
                            f"(e.g. {events['ts'][bad].iloc[0]!r}): use ISO-8601 like 2025-01-31T12:00:00Z or unix seconds")
        events = events.assign(ts=ts)
        if not_before is not None:
            early = ts.notna() & (ts < not_before)
            if early.any():
                problems.append(f"{events_file}: events at {_rows(events.index[early])} are before the catalog's last "
                                f"event ({not_before.isoformat()}): --append adds what happened since")
    if len(pins) == 0 and not allow_no_pins:
        problems.append(f"{pins_file}: has no rows")
    if len(events) == 0:
        problems.append(f"{events_file}: has no rows (a catalog needs engagement history)")
    if problems:
        raise InvalidInput(f"catalog import refused, {len(problems)} problem(s) found and nothing was written:\n  - "
                           + "\n  - ".join(problems))

    # clean tables in the catalog's column order and types; extra pin columns kept as metadata
    pins = pins.copy()
    pins["description"] = pins["description"].fillna("") if "description" in pins else ""
    if "image" not in pins:
        pins["image"] = None
    for col in pins.columns.difference(list(PIN_COLUMNS)):
        if _timestamp_like(pins[col], col):
            parsed = parse_times(pins[col])
            if not (parsed.isna() & pins[col].notna()).any():
                pins[col] = parsed
    pins = pins[[*PIN_COLUMNS] + [c for c in pins.columns if c not in PIN_COLUMNS]]
    if "board_id" not in events:
        events = events.assign(board_id=None)
    events = events[list(EVENT_COLUMNS)]
    if boards is None:
        boards = pd.DataFrame({c: pd.Series(dtype="str") for c in BOARD_COLUMNS})
    return pins, events, boards[list(BOARD_COLUMNS)]


EVENT_SCHEMA = pa.schema([("pinner_id", pa.string()), ("pin_id", pa.string()), ("action", pa.string()),
                          ("ts", pa.timestamp("us", tz="UTC")), ("board_id", pa.string())])
BOARD_SCHEMA = pa.schema([("board_id", pa.string()), ("pinner_id", pa.string()), ("name", pa.string())])


def import_catalog(sandbox=None, pins=None, events=None, boards=None, images=None, *, progress: bool = True,
                   config=None) -> Catalog:
    """Validate and publish a user's catalog as `catalog/imported` (the sandbox's catalog from then on).

    The lower-level call under `run_catalog(sb, CatalogConfig(source="import", pins=..., events=...))`.
    `pins`, `events`, `boards`: paths to CSV/Parquet files or DataFrames; `images`: the folder the pins'
    `image` column is relative to (optional: text-only catalogs are first-class). Raises InvalidInput listing
    every problem, with row numbers, and writes nothing unless all checks pass. `config`: the CatalogConfig
    saved with the artifact (default: one naming these files; DataFrames passed from Python appear as None).
    """
    from pinsandbox.catalog.config import CatalogConfig
    from pinsandbox.sandbox import resolve

    if pins is None or events is None:
        raise InvalidInput("import needs at least a pins file and an events file (--pins FILE --events FILE)")
    sb = resolve(sandbox)
    pins_df, events_df, boards_df = validate_catalog(pins, events, boards, images, progress=progress)
    events_df = events_df.sort_values(["ts", "pinner_id", "pin_id"], kind="stable").reset_index(drop=True)
    ts = events_df["ts"]
    cutoff = ts.quantile(CUTOFF_QUANTILE)
    # where it came from (file paths; None for DataFrames passed from Python)
    params = {k: None if v is None or isinstance(v, pd.DataFrame) else str(v)
              for k, v in {"pins": pins, "events": events, "boards": boards, "images": images}.items()}
    config = config or CatalogConfig(source="import", **params)
    info = {"source": "imported", "start": ts.min().isoformat(), "end": ts.max().isoformat(),
            "cutoff": cutoff.isoformat(), "files": params}
    with sb.artifacts.write("catalog", "imported", config=config, link_at="catalog") as w:
        write_imported(w.path, pins_df, events_df, boards_df, info)
        copy_images(images, pins_df, w.path / "images")
    return load_catalog(sb)


def write_imported(folder: Path, pins: pd.DataFrame, events: pd.DataFrame, boards: pd.DataFrame, info: dict) -> None:
    """An imported catalog's tables and info into an artifact folder being written (import and append alike)."""
    write_table(pa.Table.from_pandas(pins, preserve_index=False), folder / "pins.parquet")
    write_table(pa.Table.from_pandas(events, schema=EVENT_SCHEMA, preserve_index=False), folder / "events.parquet")
    write_table(pa.Table.from_pandas(boards.astype(object), schema=BOARD_SCHEMA, preserve_index=False), folder / "boards.parquet")
    (folder / CATALOG_INFO).write_text(json.dumps(info, indent=1, sort_keys=True))


def copy_images(images, pins: pd.DataFrame, dest_dir: Path) -> None:
    """Copy the image each of `pins` names from the user's `images` folder (None: no images) into `dest_dir`."""
    dest_dir.mkdir(exist_ok=True)
    if images is None:
        return
    root = Path(images).expanduser().resolve()
    for rel in pins["image"].dropna().unique():
        dest = dest_dir / str(rel)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / str(rel), dest)


def export_catalog(sandbox=None, out_dir=None, *, fmt: str = "csv") -> Path:
    """Write the sandbox's current catalog in the import format (pins/events/boards + images/) to `out_dir`."""
    if fmt not in ("csv", "parquet"):
        raise InvalidInput(f"unknown export format {fmt!r}: use csv or parquet")
    if out_dir is None:
        raise InvalidInput("export needs an output folder (--out DIR)")
    out = Path(out_dir).expanduser()
    if out.exists() and any(out.iterdir()):
        raise InvalidInput(f"export folder {str(out)!r} is not empty: choose a new or empty folder")
    catalog = load_catalog(sandbox)
    out.mkdir(parents=True, exist_ok=True)
    for name, df in (("pins", catalog.pins), ("events", catalog.events), ("boards", catalog.boards)):
        if fmt == "csv":
            df = df.copy()
            for col in df.columns:
                if isinstance(df[col].dtype, pd.DatetimeTZDtype):
                    df[col] = df[col].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            df.to_csv(out / f"{name}.csv", index=False)
        else:
            df.to_parquet(out / f"{name}.parquet", index=False)
    images = catalog.pins["image"].dropna()
    if len(images):
        shutil.copytree(catalog.images_dir, out / "images")
    return out


__all__ = ["export_catalog", "import_catalog", "read_table", "validate_catalog"]
