"""Typed config dataclasses that round-trip to TOML and JSON.

Each pipeline stage owns a frozen dataclass (``CorpusConfig``, ``TrainConfig``...) validated in
``__post_init__``. This module only knows how to turn any such dataclass into plain data and back, and how to
read and write TOML/JSON, so a config saved with a result can be loaded to redo the run exactly.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import tomli_w

from .artifacts import atomic_write_text
from .errors import ToksmithError

T = TypeVar("T")


def to_dict(obj: Any) -> Any:
    """Dataclasses (nested), tuples, lists, dicts and Paths to TOML/JSON-friendly plain data (``None`` dropped)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for f in dataclasses.fields(obj):
            v = to_dict(getattr(obj, f.name))
            if v is not None:
                out[f.name] = v
        return out
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(a, value, where)
            except (TypeError, ValueError, ToksmithError) as e:
                errors.append(str(e))
        raise ToksmithError(f"{where}: value {value!r} does not fit {tp}: {'; '.join(errors)}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ToksmithError(f"{where}: expected a table for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ToksmithError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        inner = args[0] if args else Any
        seq = [_convert(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(seq) if origin is tuple else seq
    if origin is dict:
        if not isinstance(value, dict):
            raise ToksmithError(f"{where}: expected a table, got {value!r}")
        vt = args[1] if args else Any
        return {k: _convert(vt, v, f"{where}.{k}") for k, v in value.items()}
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is Path:
        return Path(value)
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ToksmithError(f"{where}: expected {tp.__name__}, got {type(value).__name__} {value!r}")
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str | None = None) -> T:
    """Build dataclass ``cls`` from plain data, checking types and rejecting unknown keys (typos)."""
    where = where or cls.__name__
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = set(data) - set(fields)
    if unknown:
        raise ToksmithError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known keys: {', '.join(sorted(fields))}"
        )
    kwargs = {k: _convert(hints[k], v, f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def read_config_file(path: str | Path, missing: str | None = None) -> dict:
    """The table of a TOML file (JSON when it ends in ``.json``); one clear error when missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise ToksmithError(missing or f"config file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
        raise ToksmithError(f"config file {path} does not parse: {e}") from None


def load_config(cls: type[T], path: str | Path, section: str | None = None) -> T:
    """Read a TOML or JSON file (optionally one table of it) into dataclass ``cls``."""
    data = read_config_file(path)
    if section is not None:
        if section not in data:
            raise ToksmithError(f"config file {path} has no [{section}] table")
        data = data[section]
    return from_dict(cls, data, where=f"{path}" + (f"[{section}]" if section else ""))


def dumps_toml(obj: Any) -> str:
    return tomli_w.dumps(to_dict(obj))


def save_config(obj: Any, path: str | Path) -> Path:
    """Write a dataclass as TOML (``.toml``) or JSON (anything else), atomically."""
    path = Path(path)
    data = to_dict(obj)
    text = tomli_w.dumps(data) if path.suffix == ".toml" else json.dumps(data, indent=2) + "\n"
    return atomic_write_text(path, text)


_SIZE_SUFFIXES = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}


def parse_size(value: int | str, what: str = "size") -> int:
    """A count written as a user would: ``32000``, ``32_000``, ``32k``, ``1.5M`` (decimal multipliers).

    >>> [parse_size(s) for s in ("32k", "32000", "32_000", "1.5M", 64)]
    [32000, 32000, 32000, 1500000, 64]
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip().lower().replace("_", "").replace(",", "")
    mult = _SIZE_SUFFIXES.get(text[-1:], 1) if text else 1
    number = text[:-1] if mult != 1 else text
    try:
        out = float(number) * mult
    except ValueError:
        raise ToksmithError(f"{what}: {value!r} is not a number; write a size such as 32000, 32_000 or 32k") from None
    if not out.is_integer() or out != out or abs(out) == float("inf"):
        raise ToksmithError(f"{what}: {value!r} is not a whole number")
    return int(out)
