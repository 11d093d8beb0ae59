"""Config mappings (params.yaml sections, training configs) checked against frozen dataclasses.

A section is a dataclass whose fields, with their types and defaults, say what the YAML may hold;
`from_mapping(cls, values, "filter")` builds one, or fails with one line naming the key:

    filter.min_length.min_char: unknown key; did you mean filter.min_length.min_chars?
    filter.min_length.min_chars: expected int, got 'two hundred'

Types understood: bool, int, float (an int is accepted), str, None, unions (`int | None`), tuple /
list / frozenset of one type, dict[str, X] and Mapping, Literal choices, nested dataclasses, Any.
Field metadata refines a field:
    key="decontamination"   the YAML name, where it differs from the field's
    overrides=Cls           a mapping of name -> partial Cls (every key and type checked, none
                            required; the mapping is kept as written, for the caller to merge)
A dataclass may set `REFUSED_KEYS = {"api_key": "why"}`: keys refused with their own message.
A section's `__post_init__` may raise ValueError for what types cannot say; it is reported with
the section's name.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from typing import Any


class ConfigError(ValueError):
    """A config value that cannot be used, as one line naming its key."""


def yaml_key(f: dataclasses.Field) -> str:
    return f.metadata.get("key", f.name)


def section_keys(cls) -> dict[str, dataclasses.Field]:
    """YAML key -> field of a section dataclass."""
    return {yaml_key(f): f for f in dataclasses.fields(cls) if f.init}


def unknown_key(where: str, key: str, known) -> ConfigError:
    nearest = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
    hint = f"did you mean {_join(where, nearest[0])}?" if nearest else f"known: {', '.join(sorted(known))}"
    return ConfigError(f"{_join(where, key)}: unknown key; {hint}")


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def check_keys(cls, values: Any, where: str) -> dict:
    """`values` as a dict whose every key is a field of `cls` and whose every value has its type
    (converted: lists to tuples, ints to floats, mappings to sections). Missing keys are left out."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where or 'params'}: expected a mapping of {', '.join(section_keys(cls))}, got {values!r}")
    known = section_keys(cls)
    refused = getattr(cls, "REFUSED_KEYS", {})
    hints = typing.get_type_hints(cls)
    out = {}
    for key, value in values.items():
        if key in refused:
            raise ConfigError(f"{_join(where, key)}: {refused[key]}")
        if key not in known:
            raise unknown_key(where, key, known)
        f = known[key]
        here = _join(where, key)
        if "overrides" in f.metadata:
            out[f.name] = check_overrides(f.metadata["overrides"], value, here)
        else:
            out[f.name] = check_value(hints[f.name], value, here)
    return out


def to_mapping(section) -> dict:
    """A section as its YAML mapping (the inverse of `from_mapping`), nested sections included."""
    def plain(value):
        if dataclasses.is_dataclass(value):
            return to_mapping(value)
        return {k: plain(v) for k, v in value.items()} if isinstance(value, dict) else value

    return {yaml_key(f): plain(getattr(section, f.name)) for f in dataclasses.fields(section)}


def from_mapping(cls, values: Any, where: str = ""):
    """A `cls` from a YAML mapping (None: every default)."""
    kwargs = check_keys(cls, {} if values is None else values, where)
    missing = [yaml_key(f) for f in dataclasses.fields(cls) if f.init and f.name not in kwargs
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{where or 'params'}: missing key {_join(where, missing[0])}")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(f"{where or cls.__name__}: {error}") from None


def check_overrides(cls, values: Any, where: str) -> dict:
    """name -> partial `cls`, each checked key by key; returned as written (for merging later)."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: expected a mapping of name -> settings, got {values!r}")
    for name, override in values.items():
        check_keys(cls, override or {}, f"{where}.{name}")
    return dict(values)


def type_name(hint) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is type(None):
        return "null"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is tuple and args and args[-1] is not Ellipsis:
        return f"a list [{', '.join(type_name(a) for a in args)}]"
    if origin in (tuple, list, frozenset, set):
        return f"a list of {type_name(args[0])}" if args else "a list"
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return "a mapping"
    if dataclasses.is_dataclass(hint):
        return f"a mapping ({hint.__name__})"
    return getattr(hint, "__name__", str(hint))


def check_value(hint, value: Any, where: str) -> Any:
    """`value` if it has the type `hint` says (converted where YAML cannot say it), else ConfigError."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is object:
        return value
    if origin in (typing.Union, types.UnionType):
        sections = [a for a in args if dataclasses.is_dataclass(a)]
        if isinstance(value, Mapping) and len(sections) == 1:
            return from_mapping(sections[0], value, where)  # its own errors name the inner key
        for option in args:
            try:
                return check_value(option, value, where)
            except ConfigError:
                continue
        raise _wrong(hint, value, where)
    if origin is typing.Literal:
        if value in args:
            return value
        raise _wrong(hint, value, where)
    if hint is type(None):
        if value is None:
            return None
        raise _wrong(hint, value, where)
    if dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, where)
    if origin in (tuple, list, frozenset, set) or hint in (tuple, list, frozenset, set):
        if not isinstance(value, (list, tuple)):
            raise _wrong(hint, value, where)
        if origin is tuple and args and args[-1] is not Ellipsis:  # fixed length: (n, fraction)
            if len(value) != len(args):
                raise _wrong(hint, value, where)
            return tuple(check_value(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        item = args[0] if args else Any
        items = [check_value(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return (origin or hint)(items) if (origin or hint) is not list else items
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise _wrong(hint, value, where)
        item = args[1] if len(args) == 2 else Any
        return {k: check_value(item, v, _join(where, str(k))) for k, v in value.items()}
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _wrong(hint, value, where)
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _wrong(hint, value, where)
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _wrong(hint, value, where)
    if hint is str:
        if isinstance(value, str):
            return value
        raise _wrong(hint, value, where)
    return value  # a type this checker does not know: the dataclass's own checks decide


def _wrong(hint, value: Any, where: str) -> ConfigError:
    return ConfigError(f"{where}: expected {type_name(hint)}, got {value!r}")
