"""A YAML reader that remembers the line of every key and list item, for errors naming file:line."""

from __future__ import annotations

from typing import Any

import yaml

from .errors import ScenarioError


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
