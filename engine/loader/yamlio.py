"""Safe YAML that remembers where every value came from.

``load_yaml(path)`` returns plain Python data whose dicts and lists are
:class:`LineDict` / :class:`LineList`: they behave as ``dict`` / ``list`` and carry
``.line`` (1-based line of the node) and ``.lines`` (line of each key / item), so
every validation message can say ``file:line: message``.

Safety: built on ``yaml.SafeLoader`` (no object tags). Implicit timestamps are
switched off: ``2022-02-30`` stays text and is reported by the date parser,
instead of crashing the YAML constructor.

Speed: when PyYAML has libyaml (``yaml.__with_libyaml__``) the C parser is used
under the same safe constructors (about ten times faster: ``hanchot check`` of a
thousand rule files must take under two seconds).

Bounded: aliases are expanded as the document is built, so a kilobyte of nested
aliases (a "billion laughs" document) could otherwise grow to gigabytes. Every
value built and every pair a merge key (``<<:``) copies is counted; a document
needing more than :data:`MAX_NODES` is refused with ``file:line: too many aliases``.
A number with more digits than Python converts (4300) is refused with its line.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

from engine.errors import ConfigError, Problem
from engine.i18n import _


class LineDict(dict):
    line: int = 0
    lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class LineList(list):
    line: int = 0
    lines: list[int]

    def line_of(self, index: int) -> int:
        return self.lines[index] if 0 <= index < len(self.lines) else self.line


_Base = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader


class _Loader(_Base):  # type: ignore[misc,valid-type]
    pass


# No implicit timestamps: dates are parsed (and reported) by engine.core.spans.parse_date.
# Booleans as in YAML 1.2 (true/false only): SPEC's `{on: 2022-07-29}` must keep the key
# "on", and a unit id or attribute "no"/"yes" must stay text.
_Loader.yaml_implicit_resolvers = {
    ch: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
    ]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


_MAP = yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG
_SEQ = yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG
_STR = yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG
_MERGE = "tag:yaml.org,2002:merge"

#: Values one document may expand to (counting each alias use again). The largest
#: real files (a year of events, a thousand rules in one file) stay far below it.
MAX_NODES = 1_000_000


class _TooManyAliases(yaml.constructor.ConstructorError):
    """The document expands to more than :data:`MAX_NODES` values."""


class _Budget:
    """How many values the document being built may still produce."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = MAX_NODES

    def spend(self, n: int, node: yaml.Node) -> None:
        self.left -= n
        if self.left < 0:
            raise _TooManyAliases(None, None, "too many aliases", node.start_mark)


def _budget(loader: _Loader) -> _Budget:
    b = getattr(loader, "_hanchot_budget", None)
    if b is None:
        b = loader._hanchot_budget = _Budget()
    return b


def _build(loader: _Loader, node: yaml.Node, active: set[int]) -> Any:
    """Construct ``node`` (plain text, mappings and lists on a fast path).

    Equivalent to the safe constructors with :func:`_construct_mapping` and
    :func:`_construct_sequence`, without PyYAML's generic recursion machinery
    (``hanchot check`` of a thousand files spends most of its time here).
    Any other tag goes through the safe constructor, which refuses object tags.
    """
    _budget(loader).spend(1, node)
    tag = node.tag
    if tag == _STR and isinstance(node, yaml.ScalarNode):
        return node.value
    if tag == _MAP and isinstance(node, yaml.MappingNode):
        return _mapping(loader, node, active)
    if tag == _SEQ and isinstance(node, yaml.SequenceNode):
        if id(node) in active:
            raise yaml.constructor.ConstructorError(
                None, None, _("a recursive alias is not allowed"), node.start_mark
            )
        active.add(id(node))
        out = LineList(_build(loader, child, active) for child in node.value)
        active.discard(id(node))
        out.line = node.start_mark.line + 1
        out.lines = [child.start_mark.line + 1 for child in node.value]
        return out
    try:
        return loader.construct_object(node, deep=True)
    except ValueError as e:  # int("9" * 5000): more digits than Python converts
        if "digits" in str(e):
            what = _("a number may have at most {limit} digits").format(
                limit=sys.get_int_max_str_digits()
            )
        else:
            what = _("value cannot be read: {error}").format(error=e)
        raise yaml.constructor.ConstructorError(None, None, what, node.start_mark) from None


def _mapping(loader: _Loader, node: yaml.MappingNode, active: set[int]) -> LineDict:
    if id(node) in active:
        raise yaml.constructor.ConstructorError(
            None, None, _("a recursive alias is not allowed"), node.start_mark
        )
    active.add(id(node))
    own = sum(1 for k, _ in node.value if k.tag != _MERGE)
    loader.flatten_mapping(node)
    merged = len(node.value) - own  # `<<: *base` pairs come first; own keys override them
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.lines = {}
    own_keys: set[Any] = set()
    for i, (key_node, value_node) in enumerate(node.value):
        key = _build(loader, key_node, active)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, _("a mapping key must be a plain value"), key_node.start_mark
            ) from None
        if i >= merged:
            if key in own_keys:
                raise yaml.constructor.ConstructorError(
                    None, None, _("duplicate key {key!r}").format(key=key), key_node.start_mark
                )
            own_keys.add(key)
        out[key] = _build(loader, value_node, active)
        out.lines[key] = key_node.start_mark.line + 1
    active.discard(id(node))
    return out


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    return _mapping(loader, node, set())


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    return _build(loader, node, set())


def _get_single_data(self: _Loader) -> Any:
    node = self.get_single_node()
    if node is None:
        return None
    return _build(self, node, set())


def _flatten_mapping(self: _Loader, node: yaml.MappingNode) -> None:
    # A merge key copies the pairs of the merged mappings; nested `<<: [*a, *a]`
    # double them at every level, so the copies count against the budget too.
    merges = any(pair[0].tag == _MERGE for pair in node.value)
    yaml.constructor.SafeConstructor.flatten_mapping(self, node)
    if merges:
        _budget(self).spend(len(node.value), node)


_Loader.flatten_mapping = _flatten_mapping  # type: ignore[method-assign]
_Loader.add_constructor(_MAP, _construct_mapping)
_Loader.add_constructor(_SEQ, _construct_sequence)
_Loader.get_single_data = _get_single_data  # type: ignore[method-assign]


def parse_yaml(text: str, name: str) -> Any:
    """Parse YAML ``text``; ``name`` is the file name used in error messages."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        if isinstance(e, _TooManyAliases):
            msg = _("too many aliases: the document expands to more than {limit} values")
            raise ConfigError(Problem(name, line, msg.format(limit=MAX_NODES))) from None
        # PyYAML's own description of a syntax error stays as the library words it
        what = e.problem or e.context or _("invalid YAML")
        if "could not determine a constructor" in (e.problem or ""):
            tag = e.problem.split("for the tag")[-1].strip()
            what = _("tags are not allowed ({tag})").format(tag=tag)
        raise ConfigError(Problem(name, line, _("YAML: {problem}").format(problem=what))) from None
    except yaml.YAMLError as e:
        raise ConfigError(Problem(name, None, _("YAML: {problem}").format(problem=e))) from None


def load_yaml(path: Path | str, display: str | None = None) -> Any:
    """Read and parse one YAML file (UTF-8). ``display`` names it in messages."""
    path = Path(path)
    name = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        msg = _("cannot read: {error}").format(error=e.strerror or e)
        raise ConfigError(Problem(name, None, msg)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        msg = _("not UTF-8 text; save the file as UTF-8")
        raise ConfigError(Problem(name, line, msg)) from None
    return parse_yaml(text, name)


def line_of(node: Any, key: Any = None, default: int | None = None) -> int | None:
    """Line of ``node[key]`` (or of ``node``) when known."""
    if isinstance(node, LineDict):
        return node.line_of(key) if key is not None else node.line
    if isinstance(node, LineList):
        return node.line_of(key) if isinstance(key, int) else node.line
    return default
