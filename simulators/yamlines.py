"""A YAML reader that remembers the line of every key and list item, for errors naming file:line."""

from __future__ import annotations

import difflib
import re
from typing import Any

import yaml

from .errors import ScenarioError

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class LinedDict(dict):  # type: ignore[type-arg]
    """A mapping that knows its own line and the line of each key."""

    line: int
    key_lines: dict[Any, int]


class LinedList(list):  # type: ignore[type-arg]
    """A sequence that knows its own line and the line of each item."""

    line: int
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """Safe loader building LinedDict/LinedList."""


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LinedDict:
    loader.flatten_mapping(node)
    out = LinedDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise ScenarioError(
                f"duplicate key {key!r}",
                line=key_node.start_mark.line + 1,
                field=str(key),
                fix="keep one of the two entries",
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LinedList:
    out = LinedList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def parse(text: str, file: str) -> Any:
    """Parse YAML ``text``; syntax errors become ScenarioErrors naming ``file:line``."""
    try:
        return yaml.load(text, Loader=_Loader)
    except ScenarioError as err:
        raise ScenarioError(
            err.reason, file=file, line=err.line, field=err.field, fix=err.fix
        ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise ScenarioError(
            f"not valid YAML: {getattr(err, 'problem', None) or err}",
            file=file,
            line=mark.line + 1 if mark is not None else None,
            fix="check indentation and quoting",
        ) from None


def choices(value: str, options: Any) -> str:
    """Return a fix hint: the closest option (difflib) and the full list."""
    close = difflib.get_close_matches(str(value), list(options), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}use one of {', '.join(sorted(options))}"


class Reader:
    """Typed field access on lined YAML nodes; every failure is a ScenarioError."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail_line(self, line: int | None, field: str, msg: str, fix: str) -> None:
        raise ScenarioError(msg, file=self.file, line=line, field=field, fix=fix)

    def fail(self, node: Any, key: str, field: str, msg: str, fix: str) -> None:
        line = getattr(node, "key_lines", {}).get(key, getattr(node, "line", None))
        self.fail_line(line, field, msg, fix)

    def keys(self, node: Any, where: str, allowed: tuple[str, ...]) -> None:
        if not isinstance(node, dict):
            self.fail_line(
                getattr(node, "line", None), where, "must be a mapping", "write key: value pairs"
            )
        for k in node:
            if k not in allowed:
                self.fail(
                    node,
                    k,
                    f"{where}.{k}".lstrip("."),
                    f"unknown field {k!r}",
                    "remove it; " + choices(str(k), allowed),
                )

    def get(self, node: Any, key: str, where: str, typ: Any, default: Any) -> Any:
        if key not in node or node[key] is None:
            return default
        value = node[key]
        if not isinstance(value, typ) or (isinstance(value, bool) and typ in (int, (int, float))):
            names = typ.__name__ if isinstance(typ, type) else " or ".join(t.__name__ for t in typ)
            names = {"LinedDict": "a mapping", "LinedList": "a list"}.get(names, names)
            self.fail(
                node,
                key,
                f"{where}.{key}".lstrip("."),
                f"must be {names}, got {value!r}",
                f"write {key} as {names}",
            )
        return value

    def need(self, node: Any, key: str, where: str, typ: Any) -> Any:
        if key not in node or node[key] is None:
            self.fail_line(
                getattr(node, "line", None),
                f"{where}.{key}".lstrip("."),
                f"missing required field {key!r}",
                f"add `{key}:`",
            )
        return self.get(node, key, where, typ, None)

    def slug(self, node: Any, key: str, where: str, default: Any = ...) -> Any:
        value = (
            self.need(node, key, where, str)
            if default is ...
            else self.get(node, key, where, str, default)
        )
        if value is not None and not _SLUG.match(value):
            self.fail(
                node,
                key,
                f"{where}.{key}",
                f"{value!r} is not an id",
                "use lowercase letters, digits and dashes, e.g. pump-1",
            )
        return value

    def span(self, node: Any, key: str, where: str, positive: bool = False) -> tuple[float, float]:
        value = node.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            lo = hi = float(value)
        elif (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int | float) for v in value)
        ):
            lo, hi = float(value[0]), float(value[1])
        else:
            self.fail(
                node,
                key,
                f"{where}.{key}",
                f"must be hours, a number or [min, max], got {value!r}",
                f"write e.g. {key}: [100, 500]",
            )
        if lo > hi or lo < 0 or (positive and lo <= 0):
            self.fail(
                node,
                key,
                f"{where}.{key}",
                f"bad range {value!r}",
                "use 0 <= min <= max (life must be > 0)",
            )
        return lo, hi
