"""Shared by the hostile property tests and the signature attacks: JSON value strategies,
near-valid documents (a valid one, damaged in a few places), and the Hypothesis settings
every property here runs with (derandomized, no example database: each run is the same)."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


def property_settings(max_examples: int) -> Any:
    return settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=max_examples,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# Numbers a JSON body can carry through `json.loads` (which takes NaN and Infinity, and
# integers of up to 4300 digits).
EDGE_NUMBERS: list[int | float] = [
    0,
    -1,
    2**53 + 1,
    2**63,
    -(2**64),
    10**300,
    -(10**4000),
    1e308,
    -1e-308,
    5e-324,
    math.nan,
    math.inf,
    -math.inf,
]
# Strings near what the normalisers and loaders parse: dates, counts, booleans, hosts,
# e-mails, durations, regular expressions.
EDGE_STRINGS = [
    "",
    " ",
    "\u0000",
    "\u2028",
    "NaN",
    "Infinity",
    "-1",
    "1e400",
    "1_000",
    "1,000,000",
    "25-50",
    "1000+",
    "99999999999999999999-",
    "\u0661\u0662\u0663",
    "\uff12\uff10\uff12\uff14",
    "2024-02-30",
    "2024-13-45T25:61:61",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+14:00",
    "1710408600000",
    "99999999999999999",
    "yes",
    "checked",
    "http://[::1",
    "http://",
    "www.",
    "a" * 300 + ".example",
    "@",
    "a@",
    "x" * 5000,
    "5m",
    "-5m",
    "0s",
    "0.000001s",
    "99999999999999999999d",
    "9" * 400 + "s",
    "PT5M",
    "-PT5M",
    "P99999999999D",
    "(",
    "[a-",
    "(?P<x>",
    "a{99999}",
    "Mars/Olympus",
    "Europe/Berlin",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(EDGE_NUMBERS)
    | st.sampled_from(EDGE_STRINGS)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
# The wrong shape for any field: another scalar, a container, a container of the value.
wrong_values = (
    json_values
    | st.just([])
    | st.just({})
    | st.builds(lambda value: {"value": value}, scalars)
    | st.builds(lambda value: [value], scalars)
)


def paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON document, the root `()` first."""
    yield path
    if isinstance(node, dict):
        for key, child in node.items():
            yield from paths(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from paths(child, (*path, index))


@st.composite
def near_valid(draw: st.DrawFn, documents: list[Any], values: Any = wrong_values) -> Any:
    """One of `documents` with one to three places removed (or, in an array, repeated),
    replaced by `values`, wrapped in an array, or emptied."""
    document = copy.deepcopy(draw(st.sampled_from(documents)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(list(paths(document))))
        if not path:
            if draw(st.integers(0, 9)) == 0:
                document = draw(values)  # the whole document
            continue
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        operation = draw(st.sampled_from(["remove", "replace", "replace", "wrap", "empty"]))
        if operation == "remove" and isinstance(parent, list) and draw(st.booleans()):
            parent.append(copy.deepcopy(parent[key]))  # an array entry repeated
        elif operation == "remove":
            del parent[key]
        elif operation == "replace":
            parent[key] = draw(values)
        elif operation == "wrap":
            parent[key] = [parent[key]]
        else:
            value = parent[key]
            parent[key] = type(value)() if isinstance(value, dict | list | str) else None
    return document
