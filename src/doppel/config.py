"""Stage configuration: frozen dataclasses that the CLI and TOML files are generated from.

A field's metadata carries `help` (required), and optionally `positional=True`, `short="-o"`,
`min=`/`max=` bounds. Types: bool, int, float, str, Path, Fraction, Literal[...], `X | None`
and `tuple[X, ...]`. A field whose type is itself a Config dataclass (a plugin's or a shared
part's options, e.g. the video writer's) is flattened: its fields become options of their own.
"""

from __future__ import annotations

import argparse
import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

from doppel.errors import DoppelError

C = TypeVar("C")


@dataclasses.dataclass(frozen=True)
class _FieldType:
    base: Any  # the scalar type: int, float, str, bool, Path, Fraction
    choices: tuple[Any, ...] | None
    optional: bool
    many: bool


def _field_type(hint: Any) -> _FieldType:
    optional, many, choices = False, False, None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional, hint = True, args[0]
        origin = typing.get_origin(hint)
    if origin is tuple:
        many, hint = True, typing.get_args(hint)[0]
        origin = typing.get_origin(hint)
    if origin is typing.Literal:
        choices = typing.get_args(hint)
        hint = type(choices[0])
    return _FieldType(hint, choices, optional, many)


def _convert(value: Any, ftype: _FieldType, name: str) -> Any:
    if value is None:
        return None
    if ftype.many and isinstance(value, (list, tuple)):
        return tuple(_convert(v, dataclasses.replace(ftype, many=False), name) for v in value)
    base = ftype.base
    try:
        if base is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            return bool(value)
        if base is Fraction:
            return Fraction(str(value))
        converted = base(value)
    except (TypeError, ValueError, ZeroDivisionError):
        raise DoppelError(f"{name}: {value!r} is not a valid {base.__name__}") from None
    if ftype.choices is not None and converted not in ftype.choices:
        options = ", ".join(map(str, ftype.choices))
        raise DoppelError(f"{name}: {value!r} is not one of {options}")
    return converted


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def option_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def check_fields(config: Any) -> None:
    """Check min/max bounds and Literal choices; call it from a Config's __post_init__."""
    hints = _hints(type(config))
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        ftype = _field_type(hints[field.name])
        values = value if ftype.many and isinstance(value, tuple) else (value,)
        for item in values:
            if item is None:
                continue
            if ftype.choices is not None and item not in ftype.choices:
                options = ", ".join(map(str, ftype.choices))
                raise DoppelError(f"{option_name(field.name)}: {item!r} is not one of {options}")
            low, high = field.metadata.get("min"), field.metadata.get("max")
            if (low is not None and item < low) or (high is not None and item > high):
                raise DoppelError(
                    f"{option_name(field.name)}={item} is out of range [{low}, {high}]"
                )


def add_arguments(parser: argparse.ArgumentParser, cls: type, base: Any = None) -> None:
    """Add one argument per field of the dataclass `cls`.

    Options default to argparse.SUPPRESS so that only what the user typed reaches
    `build_config`, which layers it over TOML values and the dataclass defaults.
    """
    hints = _hints(cls)
    for field in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[field.name]):
            add_arguments(parser, hints[field.name],
                          field.default_factory()
                          if field.default_factory is not dataclasses.MISSING else None)
            continue
        ftype = _field_type(hints[field.name])
        meta = field.metadata
        help_text = meta.get("help", "")
        default = getattr(base, field.name) if base is not None else field.default
        if default is not dataclasses.MISSING and default is not None:
            shown = default
            if isinstance(shown, tuple):
                shown = " ".join(map(str, shown)) or "none"
            help_text += f" (default: {shown})"
        kwargs: dict[str, Any] = {"help": help_text}
        if ftype.choices is not None:
            kwargs["choices"] = ftype.choices
        if meta.get("positional"):
            has_default = (field.default is not dataclasses.MISSING
                           or field.default_factory is not dataclasses.MISSING)
            if ftype.many:
                kwargs["nargs"] = "*" if has_default else "+"
                if has_default:
                    kwargs["default"] = argparse.SUPPRESS
                    # argparse checks a suppressed default against choices and fails;
                    # build_config checks the values instead.
                    if kwargs.pop("choices", None) is not None:
                        kwargs["help"] += f" (choices: {', '.join(map(str, ftype.choices))})"
            elif has_default:
                kwargs["nargs"] = "?"
                kwargs["default"] = argparse.SUPPRESS
            kwargs["metavar"] = meta.get("metavar", field.name.upper())
            parser.add_argument(field.name, **kwargs)
            continue
        names = [option_name(field.name)] + ([meta["short"]] if "short" in meta else [])
        kwargs["dest"] = field.name
        kwargs["default"] = argparse.SUPPRESS
        if ftype.base is bool and not ftype.many:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            if ftype.many:
                kwargs["nargs"] = "*"
            kwargs["metavar"] = meta.get("metavar", field.name.upper())
        parser.add_argument(*names, **kwargs)


def build_config(cls: type[C], *layers: Mapping[str, Any]) -> C:
    """Make a `cls` from layers of raw values (later layers win), converting each value.

    Keys are field names (`-` or `_`); fields of nested Config dataclasses are given flat.
    """
    values: dict[str, Any] = {}
    for layer in layers:
        values.update({key.replace("-", "_"): raw for key, raw in layer.items()})
    config = _build(cls, values)
    if values:
        raise DoppelError(f"unknown setting(s) {', '.join(sorted(values))} for "
                          f"{cls.__name__}: remove them")
    return config


def _build(cls: type[C], values: dict[str, Any], base: Any = None) -> C:
    """Build `cls`, consuming the keys of `values` that it (or a nested Config) uses; fields
    not given keep `base`'s values when there is one (a nested Config's default_factory: a
    command may default its encoding differently from another), else their defaults."""
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    missing = []
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        hint = hints[field.name]
        if dataclasses.is_dataclass(hint):
            nested_base = (field.default_factory()
                           if field.default_factory is not dataclasses.MISSING else None)
            kwargs[field.name] = _build(hint, values, nested_base)
        elif field.name in values:
            kwargs[field.name] = _convert(
                values.pop(field.name), _field_type(hint), option_name(field.name)
            )
        elif base is not None:
            kwargs[field.name] = getattr(base, field.name)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            missing.append(option_name(field.name))
    if missing:
        raise DoppelError(f"missing required setting(s): {', '.join(missing)}")
    return cls(**kwargs)


def load_toml(path: Path, section: str) -> dict[str, Any]:
    """Read one `[section]` of a TOML settings file; a missing section gives {}."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise DoppelError(f"settings file not found: {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise DoppelError(f"settings file {path} is not valid TOML ({error}): fix it") from None
    table = data.get(section, {})
    if not isinstance(table, dict):
        raise DoppelError(f"{path}: [{section}] must be a table of settings")
    return table


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready copy of a config, written next to every artefact."""

    def plain(value: Any) -> Any:
        if isinstance(value, (Path, Fraction)):
            return str(value)
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        if dataclasses.is_dataclass(value):
            return to_dict(value)
        return value

    return {f.name: plain(getattr(config, f.name)) for f in dataclasses.fields(config)}
