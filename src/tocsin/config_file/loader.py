"""YAML text → plain data, remembering the line of every mapping key and list item.

PyYAML's `safe_load` forgets where things were and lets a repeated key quietly
win, so this composes the node graph (SafeLoader: no arbitrary Python objects)
and builds the data itself: it records each path's line, reports every
duplicate key, and refuses tags other than the standard ones. Merge keys
(`<<: *defaults`) work as in YAML 1.1: keys written out win over merged ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tocsin.config_file.errors import InvalidConfig, Issue, Path

_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
# Aliases can make a small file expand enormously ("billion laughs"); a real
# config has a few thousand nodes.
MAX_NODES = 100_000


@dataclass(frozen=True)
class Source:
    filename: str
    data: Any
    lines: Mapping[Path, int]

    def line_of(self, path: Path) -> int:
        """The line of `path`, or of its nearest ancestor written in the file
        (a missing field is reported on the line of the mapping that lacks it)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return 1

    def locate(self, issue: Issue) -> Issue:
        return issue if issue.line is not None else issue.at(self.line_of(issue.path))


def parse(text: str, filename: str) -> Source:
    """Raises InvalidConfig for a syntax error (one issue) or duplicate keys and unsupported tags (all of them)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise InvalidConfig([_syntax_issue(exc)]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, e.g. a NUL byte
        line = text.count("\n", 0, exc.position) + 1
        character = chr(exc.character) if isinstance(exc.character, int) else exc.character
        raise InvalidConfig([Issue((), f"character {character!r} is not allowed in YAML", line=line)]) from None
    except yaml.YAMLError as exc:
        raise InvalidConfig([Issue((), str(exc), line=1)]) from None
    except RecursionError:
        raise InvalidConfig([Issue((), "the document is nested too deeply", line=1)]) from None
    if root is None:  # an empty file (or only comments) declares nothing
        return Source(filename, {}, {(): 1})
    builder = _Builder()
    try:
        data = builder.build(root, ())
    except RecursionError:
        raise InvalidConfig([Issue((), "the document is nested too deeply", line=1)]) from None
    if builder.issues:
        raise InvalidConfig(builder.issues)
    return Source(filename, data, builder.lines)


def _syntax_issue(exc: yaml.MarkedYAMLError) -> Issue:
    mark = exc.problem_mark or exc.context_mark
    message = exc.problem or exc.context or "invalid YAML"
    if exc.problem and exc.context:
        # "expected <block end>, but found '-' (while parsing a block mapping that starts at line 3)"
        started = f" that starts at line {exc.context_mark.line + 1}" if exc.context_mark is not None else ""
        message = f"{exc.problem} ({exc.context}{started})"
    return Issue((), message, line=mark.line + 1 if mark is not None else 1)


class _Builder:
    def __init__(self) -> None:
        self.lines: dict[Path, int] = {}
        self.issues: list[Issue] = []
        self._constructor = SafeConstructor()
        self._open: set[int] = set()  # nodes being built: an alias to one of them is a cycle
        self._count = 0

    def _issue(self, path: Path, node: Node, message: str) -> None:
        self.issues.append(Issue(path, message, line=node.start_mark.line + 1))

    def build(self, node: Node, path: Path) -> Any:
        self._count += 1
        if self._count > MAX_NODES:
            if self._count == MAX_NODES + 1:
                self._issue(path, node, f"the document expands to more than {MAX_NODES} values (aliases?)")
            return None
        if id(node) in self._open:
            self._issue(path, node, "an alias refers to a value that contains it")
            return None
        self.lines.setdefault(path, node.start_mark.line + 1)
        self._open.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                return self._sequence(node, path)
            return self._scalar(node, path)
        finally:
            self._open.discard(id(node))

    def _scalar(self, node: Node, path: Path) -> Any:
        if node.tag not in SafeConstructor.yaml_constructors or node.tag in (_MAP, _SEQ):
            self._issue(path, node, f"unsupported tag {node.tag!r}")
            return None
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            self._issue(path, node, exc.problem or "invalid value")
            return None

    def _sequence(self, node: SequenceNode, path: Path) -> list[Any]:
        if node.tag != _SEQ:
            self._issue(path, node, f"unsupported tag {node.tag!r}")
            return []
        items = []
        for index, child in enumerate(node.value):
            self.lines[(*path, index)] = child.start_mark.line + 1
            items.append(self.build(child, (*path, index)))
        return items

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        if node.tag != _MAP:
            self._issue(path, node, f"unsupported tag {node.tag!r}")
            return {}
        written, merged = self._entries(node, path)
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key, key_node, value_node in written:
            line = key_node.start_mark.line + 1
            if key in first_line:
                self.issues.append(
                    Issue((*path, key), f"duplicate key {key!r} (first at line {first_line[key]})", line)
                )
            first_line[key] = line
            self.lines[(*path, key)] = line
            result[key] = self.build(value_node, (*path, key))
        for key, key_node, value_node in merged:
            if key not in result:
                self.lines[(*path, key)] = key_node.start_mark.line + 1
                result[key] = self.build(value_node, (*path, key))
        return result

    def _entries(
        self, node: MappingNode, path: Path
    ) -> tuple[list[tuple[str, Node, Node]], list[tuple[str, Node, Node]]]:
        """The keys written in `node`, and those it merges in (earlier merges first, as YAML says)."""
        written: list[tuple[str, Node, Node]] = []
        merged: list[tuple[str, Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, MappingNode) or source.tag != _MAP or id(source) in self._open:
                        self._issue(path, value_node, "'<<' merges a mapping or a list of mappings")
                        continue
                    self._open.add(id(source))
                    try:
                        inner_written, inner_merged = self._entries(source, path)
                    finally:
                        self._open.discard(id(source))
                    merged.extend(inner_written + inner_merged)
                continue
            key = self._key(key_node, path)
            if key is not None:
                written.append((key, key_node, value_node))
        return written, merged

    def _key(self, node: Node, path: Path) -> str | None:
        if not isinstance(node, ScalarNode):
            self._issue(path, node, "a key must be plain text, not a list or mapping")
            return None
        value = self._scalar(node, path)
        if not isinstance(value, str):
            # `on:`, `yes:` and `1:` are a boolean and a number in YAML; say so rather than lose them.
            self._issue(path, node, f"key {node.value!r} is read as {type(value).__name__}; quote it")
            return None
        return value
