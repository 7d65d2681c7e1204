"""Configs are dataclasses, and they travel with what they made (as peft saves `adapter_config.json`).

`ArtifactStore.write(..., config=cfg)` writes `config.json` into the artifact; `Artifact.config()` gives the
same dataclass back, so whoever loads an artifact can rerun, or score, with exactly what made it.
"""

from __future__ import annotations

import dataclasses
import importlib
import typing

from pinsandbox.errors import CorruptArtifact, InvalidInput


def config_to_dict(config) -> dict:
    """A config dataclass as plain JSON-ready values (nested configs as dicts, tuples as lists)."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise InvalidInput(f"a config must be a dataclass instance, got {type(config).__name__}")
    return _plain(dataclasses.asdict(config))


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def config_from_dict(cls, data: dict):
    """Rebuild `cls` (a config dataclass) from `config_to_dict` output; nested config fields are rebuilt too.

    An unknown key is refused, so a renamed field fails loudly instead of silently taking its default."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{cls.__name__} needs a mapping of its fields, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise InvalidInput(f"{cls.__name__} has no field(s) {', '.join(unknown)}: it takes {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in data.items():
        hint = _dataclass_in(hints.get(name))
        if hint is not None and isinstance(value, dict):
            value = config_from_dict(hint, value)
        elif _is_tuple(hints.get(name)) and isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def _dataclass_in(hint):
    """The config dataclass a field holds: `Inner`, or `Inner | None` (an optional nested config)."""
    if dataclasses.is_dataclass(hint):
        return hint
    found = [a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)]
    return found[0] if len(found) == 1 else None


def _is_tuple(hint) -> bool:
    return hint is tuple or typing.get_origin(hint) is tuple or any(_is_tuple(a) for a in typing.get_args(hint))


def class_path(cls) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def load_config(path: str, data: dict):
    """The config saved as `{"class": "module:Name", "values": {...}}` (an artifact's config.json)."""
    module, _, name = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise CorruptArtifact(f"config class {path!r} no longer exists: re-run the stage that made this artifact") from None
    return config_from_dict(cls, data)
