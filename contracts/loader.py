"""Load YAML documents into contracts, with errors that name file:line, the path and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping key and sequence item."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    lines: dict[Any, int] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise ConfigError(
                f"duplicate key {key!r}",
                line=key_node.start_mark.line + 1,
                fix="keep one of the two entries",
            )
        result[key] = loader.construct_object(value_node, deep=True)
        lines[key] = key_node.start_mark.line + 1
    result["__lines__"] = lines
    result["__line__"] = node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> list[Any]:
    items = [loader.construct_object(child, deep=True) for child in node.value]
    return _LinedList(items, [child.start_mark.line + 1 for child in node.value])


class _LinedList(list):  # type: ignore[type-arg]
    def __init__(self, items: list[Any], lines: list[int]) -> None:
        super().__init__(items)
        self.lines = lines


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in ("__lines__", "__line__")}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _line_of(doc: Any, loc: tuple[int | str, ...]) -> int | None:
    """Walk ``loc`` through the lined document; return the deepest line known."""
    line: int | None = doc.get("__line__") if isinstance(doc, dict) else None
    node = doc
    for part in loc:
        if isinstance(node, dict) and part in node:
            line = node.get("__lines__", {}).get(part, line)
            node = node[part]
        elif isinstance(node, _LinedList) and isinstance(part, int) and part < len(node):
            line = node.lines[part]
            node = node[part]
        else:
            break
    return line


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _fix_for(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return "add this field"
    if kind == "extra_forbidden":
        return "remove it, or check its spelling against `egiz schema`"
    if kind.startswith("literal_error") or kind == "enum":
        return f"use one of the allowed values ({err.get('ctx', {}).get('expected', '')})"
    if kind == "union_tag_invalid":
        return f"set kind to one of {err.get('ctx', {}).get('expected_tags', '')}"
    return "correct the value; `egiz schema` shows the expected shape"


def _clean_loc(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    # Discriminated unions insert the tag ('opcua') into the location; it is not a YAML key.
    out: list[int | str] = []
    for part in loc:
        if isinstance(part, str) and part in ("opcua", "mqtt") and out and isinstance(out[-1], int):
            continue
        out.append(part)
    return tuple(out)


def parse_yaml(text: str, file: str) -> Any:
    """Parse YAML text keeping line numbers; a syntax error becomes a ConfigError."""
    try:
        return yaml.load(text, Loader=_LineLoader)
    except ConfigError as err:
        err.file = file
        raise ConfigError(err.reason, file=file, line=err.line, fix=err.fix) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(
            f"not valid YAML: {problem}", file=file, line=line, fix="check indentation and quoting"
        ) from None


def validate_document(model: type[M], doc: Any, file: str) -> M:
    """Validate a lined document against ``model``; the first error becomes a ConfigError."""
    if not isinstance(doc, dict):
        raise ConfigError("the document must be a YAML mapping", file=file, line=1)
    try:
        return model.model_validate(_strip(doc))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = _clean_loc(tuple(err["loc"]))
        msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(
            msg,
            file=file,
            line=_line_of(doc, loc),
            path=_dotted(loc) or None,
            fix=_fix_for(err),
        ) from None


def load_yaml_model(model: type[M], path: str | Path) -> M:
    """Read ``path`` and return it validated as ``model``; every failure is a ConfigError."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(
            f"cannot read: {err.strerror}", file=str(p), fix="check the path"
        ) from None
    return validate_document(model, parse_yaml(text, str(p)), str(p))
