"""Paths into nested configs: ``"a/b"`` names, flattened partial configs, setting a value.

A path is a tuple of keys (dict keys and list indices) from the config's root; its name is
the keys joined with ``/``. Points to evaluate are partial configs flattened to
``{path: value}`` against the config they override.

Example:
    >>> format_path(("net", "layers", 0))
    'net/layers/0'
    >>> flatten_points({"net": {"lr": 0.1}, "a/b": 2}, {"net": {"lr": 0.5, "wd": 0}})
    {('net', 'lr'): 0.1, ('a', 'b'): 2}
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from tuneflows.search.config_values import is_grid_dict

__all__ = ["format_path", "flatten_points", "set_path"]


def format_path(path: Sequence[Any]) -> str:
    """The ``"a/b"`` name of a config path (``""`` for the root)."""
    return "/".join(str(p) for p in path)


def flatten_points(point: Mapping[str, Any], config: Mapping[str, Any]) -> dict[tuple, Any]:
    """Flattens a partial config to ``{path: value}``.

    A key may be a nested dict following the config's nesting, or a ``"a/b"`` path string.
    Descent stops where the config holds a domain or a constant (the value replaces it).
    """
    out: dict[tuple, Any] = {}

    def rec(p: Mapping[str, Any], cfg: Any, prefix: tuple) -> None:
        for k, v in p.items():
            keys = tuple(k.split("/")) if isinstance(k, str) and "/" in k else (k,)
            sub = cfg
            for kk in keys:
                sub = sub.get(kk) if _is_subtree(sub) else None
            path = prefix + keys
            if isinstance(v, Mapping) and _is_subtree(sub):
                rec(v, sub, path)
            else:
                out[path] = v

    rec(point, config, ())
    return out


def set_path(tree: Any, path: tuple, value: Any) -> None:
    """Sets ``tree[path[0]][path[1]]… = value``, making dicts where the path is missing."""
    node = tree
    for k in path[:-1]:
        if isinstance(node, Mapping):
            if k not in node or not isinstance(node[k], (Mapping, list)) or is_grid_dict(node[k]):
                node[k] = {}
        node = node[k]
    node[path[-1]] = value


def _is_subtree(value: Any) -> bool:
    return isinstance(value, Mapping) and not is_grid_dict(value)
