"""Load a policy from YAML, with errors that name the file, line, column and field.

The YAML is composed into nodes (which carry their marks) and turned into plain data by
hand, so every value's position is known; pydantic's error locations are then mapped back
to those positions:

    policy.yaml:12:7: scoring.fit[2].points: Input should be a valid number

Scalars follow the YAML 1.2 core schema, not PyYAML's YAML 1.1 default: `NO`, `on` and
`yes` stay strings (Norway's country code does not turn into `false`), `010` is ten,
`10:30` and `2025-03-01` are strings. Duplicate keys, custom tags, non-finite numbers and
recursive aliases are rejected. Merge keys (`<<: *defaults`) work.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from baton_router.domain.policy.model import Policy

MAX_DOCUMENT_CHARS = 1_000_000
MAX_NODES = 200_000
"""Alias expansion beyond this many nodes is refused (the "billion laughs" document)."""

DEFAULT_POLICY = "default.yaml"

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class PolicyProblem:
    """One thing wrong with a policy document. `line` and `column` are 1-based."""

    source: str
    message: str
    line: int | None = None
    column: int | None = None
    path: str = ""

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class PolicyError(ValueError):
    """A policy document that cannot be used; `problems` lists everything found."""

    def __init__(self, source: str, problems: Sequence[PolicyProblem]) -> None:
        self.source = source
        self.problems: tuple[PolicyProblem, ...] = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


# --- YAML with positions -------------------------------------------------------------------

_TAG = "tag:yaml.org,2002:"


class _Loader(yaml.SafeLoader):
    """SafeLoader with the YAML 1.2 core schema's implicit scalar types."""

    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}


for _tag, _pattern, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("merge", r"^(?:<<)$", "<"),
):
    _Loader.add_implicit_resolver(_TAG + _tag, re.compile(_pattern), list(_first))


class _Problem(Exception):
    def __init__(self, mark: Mark | None, message: str, path: Path_ = ()) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message
        self.path = path


def _scalar(node: ScalarNode, path: Path_) -> Any:
    tag, value = node.tag, node.value
    if tag == _TAG + "str":
        return value
    if tag == _TAG + "null":
        return None
    if tag == _TAG + "bool":
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
    elif tag == _TAG + "int":
        text = value.replace("_", "")
        try:
            if text.startswith("0o"):
                return int(text[2:], 8)
            if text.startswith("0x"):
                return int(text[2:], 16)
            return int(text)
        except ValueError:
            pass
    elif tag == _TAG + "float":
        try:
            number = float(
                value.replace("_", "").lower().replace(".inf", "inf").replace(".nan", "nan")
            )
        except ValueError:
            pass
        else:
            if not math.isfinite(number):
                raise _Problem(node.start_mark, "numbers must be finite (no .inf or .nan)", path)
            return number
    else:
        raise _Problem(node.start_mark, f"unsupported YAML tag {tag!r}", path)
    raise _Problem(node.start_mark, f"{value!r} is not a valid {tag.removeprefix(_TAG)}", path)


class _Builder:
    """Turns composed nodes into plain data, recording each value's mark by path."""

    def __init__(self) -> None:
        self.marks: dict[Path_, Mark] = {}
        self.problems: list[_Problem] = []
        self._visited = 0
        self._stack: set[int] = set()

    def build(self, node: Node, path: Path_, mark: Mark) -> Any:
        self._visited += 1
        if self._visited > MAX_NODES:
            raise _Problem(node.start_mark, "document too large (aliases expand too far)", path)
        if id(node) in self._stack:
            raise _Problem(node.start_mark, "recursive alias", path)
        self.marks.setdefault(path, mark)
        if isinstance(node, ScalarNode):
            return _scalar(node, path)
        self._stack.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                if node.tag != _TAG + "seq":
                    raise _Problem(node.start_mark, f"unsupported YAML tag {node.tag!r}", path)
                return [
                    self.build(item, (*path, index), item.start_mark)
                    for index, item in enumerate(node.value)
                ]
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            raise _Problem(node.start_mark, "unsupported YAML node", path)  # pragma: no cover
        finally:
            self._stack.discard(id(node))

    def _mapping(self, node: MappingNode, path: Path_) -> dict[str, Any]:
        if node.tag != _TAG + "map":
            raise _Problem(node.start_mark, f"unsupported YAML tag {node.tag!r}", path)
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == _TAG + "merge":
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                raise _Problem(key_node.start_mark, "mapping keys must be plain names", path)
            key = key_node.value
            if key in first_line:
                self.problems.append(
                    _Problem(
                        key_node.start_mark,
                        f"duplicate key {key!r} (first defined at line {first_line[key]})",
                        (*path, key),
                    )
                )
                continue
            first_line[key] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, (*path, key), key_node.start_mark)
        for source in merges:
            for merged in self._merge_sources(source, path):
                for key, value in merged.items():
                    result.setdefault(key, value)
        return result

    def _merge_sources(self, node: Node, path: Path_) -> list[dict[str, Any]]:
        """`<<: *a` or `<<: [*a, *b]`: earlier sources win, explicit keys win over all."""
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: list[dict[str, Any]] = []
        for source in sources:
            if not isinstance(source, MappingNode):
                raise _Problem(source.start_mark, "a merge key (<<) takes mappings", path)
            merged.append(self.build(source, path, source.start_mark))
        return merged


def _parse(text: str, source_name: str) -> tuple[Any, dict[Path_, Mark], list[PolicyProblem]]:
    """(data, marks by path, problems that still let the data be validated)."""
    if len(text) > MAX_DOCUMENT_CHARS:
        message = f"document larger than {MAX_DOCUMENT_CHARS} characters"
        raise PolicyError(source_name, [PolicyProblem(source_name, message)])
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise PolicyError(source_name, [_yaml_problem(exc, source_name)]) from None
    except ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        message = f"invalid character {exc.character!r}: {exc.reason}"
        raise PolicyError(
            source_name, [PolicyProblem(source_name, message, line, column)]
        ) from None
    except yaml.YAMLError as exc:
        raise PolicyError(source_name, [PolicyProblem(source_name, str(exc))]) from None
    except RecursionError:
        message = "document nested too deeply"
        raise PolicyError(source_name, [PolicyProblem(source_name, message)]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if root is None:
        raise PolicyError(source_name, [PolicyProblem(source_name, "the document is empty", 1, 1)])
    builder = _Builder()
    try:
        data = builder.build(root, (), root.start_mark)
    except (_Problem, RecursionError) as exc:
        fatal = (
            exc
            if isinstance(exc, _Problem)
            else _Problem(root.start_mark, "document nested too deeply")
        )
        builder.problems.append(fatal)
        raise PolicyError(source_name, _builder_problems(builder, source_name)) from None
    return data, builder.marks, _builder_problems(builder, source_name)


def _builder_problems(builder: _Builder, source_name: str) -> list[PolicyProblem]:
    return [
        _problem(source_name, problem.mark, problem.path, problem.message)
        for problem in builder.problems
    ]


def _yaml_problem(exc: yaml.MarkedYAMLError, source_name: str) -> PolicyProblem:
    mark = exc.problem_mark or exc.context_mark
    problem, context = exc.problem, exc.context
    if problem and context and context.startswith("while"):
        started = exc.context_mark
        at = f" at line {started.line + 1}" if started is not None and started is not mark else ""
        message = f"{problem} ({context}{at})"
    elif problem and context:
        message = f"{context}, {problem}"
    else:
        message = problem or context or "invalid YAML"
    return _problem(source_name, mark, (), f"invalid YAML: {message}")


def _problem(source: str, mark: Mark | None, path: Path_, message: str) -> PolicyProblem:
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
    return PolicyProblem(source, message, line, column, _render(path))


def _render(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# --- pydantic errors back to lines --------------------------------------------------------


def _has(container: Any, part: Any) -> bool:
    if isinstance(container, dict):
        return isinstance(part, str) and part in container
    if isinstance(container, list):
        in_range = isinstance(part, int) and 0 <= part < len(container)
        return in_range and not isinstance(part, bool)
    return False


def _locate(data: Any, loc: tuple[Any, ...]) -> tuple[Path_, Path_]:
    """(path as shown, deepest path present in the data) for a pydantic error location.

    Segments pydantic inserts that are not in the data (union tags) are skipped; the last
    segment is kept even when absent, since it names a missing field.
    """
    shown: list[str | int] = []
    present: list[str | int] = []
    current = data
    for index, part in enumerate(loc):
        if _has(current, part):
            current = current[part]
            shown.append(part)
            present.append(part)
        elif index == len(loc) - 1 and isinstance(part, str | int):
            shown.append(part)
    return tuple(shown), tuple(present)


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    """The model inside `Model`, `Model | None` or `list[Model]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, tuple, Sequence):
        for arg in typing.get_args(annotation):
            model = _unwrap_model(arg)
            if model is not None:
                return model
    return None


def _model_at(path: Path_) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Policy
    for part in path:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = next(
            (
                info
                for name, info in model.model_fields.items()
                if (info.alias or name) == part or name == part
            ),
            None,
        )
        if field is None:
            return None
        model = _unwrap_model(field.annotation)
    return model


def _unknown_field(path: Path_) -> str:
    name = str(path[-1]) if path else ""
    model = _model_at(path[:-1])
    if model is None:
        return f"unknown field {name!r}"
    allowed = [info.alias or field for field, info in model.model_fields.items()]
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown field {name!r} ({hint}allowed: {', '.join(allowed)})"


def _message(error: Any, shown: Path_) -> str:
    kind, message = error["type"], str(error["msg"])
    if kind == "extra_forbidden":
        return _unknown_field(shown)
    if kind == "missing":
        return "required field missing"
    return message.removeprefix("Value error, ")


def _validation_problems(
    exc: ValidationError, data: Any, marks: dict[Path_, Mark], source_name: str
) -> list[PolicyProblem]:
    problems: dict[tuple[Any, ...], PolicyProblem] = {}
    for error in exc.errors():
        loc = tuple(error["loc"])
        if str(error["msg"]).startswith("Value error, invalid regular expression"):
            loc = (*loc, "matches")  # point at the pattern, not the whole condition
        shown, present = _locate(data, loc)
        problem = _problem(source_name, marks.get(present), shown, _message(error, shown))
        problems.setdefault((problem.line, problem.column, problem.path, problem.message), problem)
    return list(problems.values())


def _sorted(problems: list[PolicyProblem]) -> list[PolicyProblem]:
    return sorted(problems, key=lambda problem: (problem.line or 0, problem.column or 0))


# --- public API -----------------------------------------------------------------------------


def load_policy(text: str, source_name: str = "<policy>") -> Policy:
    """Parse and validate a policy document; raise `PolicyError` listing every problem."""
    data, marks, problems = _parse(text, source_name)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        problems += _validation_problems(exc, data, marks, source_name)
    except RecursionError:
        problems.append(PolicyProblem(source_name, "document nested too deeply"))
    if problems:
        raise PolicyError(source_name, _sorted(problems))
    return policy


def load_policy_file(path: str | os.PathLike[str]) -> Policy:
    """Read a policy file (UTF-8) and load it; unreadable files are a `PolicyError` too."""
    name = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PolicyError(name, [PolicyProblem(name, f"cannot read: {reason}")]) from None
    return load_policy(text, name)


def default_policy_text() -> str:
    """The YAML of the policy shipped with the router (`baton_router/policies/default.yaml`)."""
    return resources.files("baton_router.policies").joinpath(DEFAULT_POLICY).read_text("utf-8")


@lru_cache(maxsize=1)
def default_policy() -> Policy:
    """The policy shipped with the router, used until an operator loads their own."""
    return load_policy(default_policy_text(), f"baton_router/policies/{DEFAULT_POLICY}")
