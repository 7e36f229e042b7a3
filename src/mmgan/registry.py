"""One registry for every pluggable part, keyed by (kind, lowercase name).

Kinds used in mmgan: dataset, model, loss, augment, phases, encoder, fusion, metric, features (a feature
network per target), default_metrics (per target), codec (mmgan.modalities).
The same lowercase name is used on the CLI, in YAML, over HTTP and here.
A part may register typed options with it (model families: the model.extra keys they read, a
mmgan.model_options.Options subclass); `options(kind, name)` returns them.
"""
from __future__ import annotations

from typing import Any, Callable, Dict

_REGISTRY: Dict[str, Dict[str, Callable[..., Any]]] = {}
_OPTIONS: Dict[str, Dict[str, Any]] = {}


class UnknownNameError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; we want it readable
        return str(self.args[0])


def register(kind: str, name: str, options: Any = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register(kind, name)(factory). Names are lowercase and unique within a kind.
    `options`: the part's declared options (for kind "model", its model.extra keys)."""
    if name != name.lower():
        raise ValueError(f"registry names are lowercase: got {name!r} for kind {kind!r}")

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        table = _REGISTRY.setdefault(kind, {})
        if name in table and table[name] is not fn:
            raise ValueError(f"{kind} {name!r} is registered twice")
        table[name] = fn
        if options is not None:
            _OPTIONS.setdefault(kind, {})[name] = options
        return fn

    return deco


def _ensure_loaded(kind: str) -> None:
    # Importing the package that owns a kind registers its parts.
    import importlib

    owners = {
        "dataset": "mmgan.data",
        "model": "mmgan.models",
        "loss": "mmgan.losses",
        "augment": "mmgan.losses",
        "phases": "mmgan.losses",
        "encoder": "mmgan.encoders",
        "fusion": "mmgan.fusion",
        "metric": "mmgan.metrics",
        "features": "mmgan.metrics",
        "default_metrics": "mmgan.metrics",
        "codec": "mmgan.modalities",
    }
    if kind in owners:
        for mod in owners[kind] if isinstance(owners[kind], tuple) else (owners[kind],):
            importlib.import_module(mod)


def get(kind: str, name: str) -> Callable[..., Any]:
    _ensure_loaded(kind)
    table = _REGISTRY.get(kind, {})
    key = name.lower()
    if key not in table:
        valid = ", ".join(sorted(table)) or "(none registered)"
        raise UnknownNameError(f"unknown {kind} {name!r}; valid {kind} names: {valid}")
    return table[key]


def options(kind: str, name: str) -> Any:
    """The options registered with a part (None if it declared none); an unknown name fails as get() does."""
    get(kind, name)
    return _OPTIONS.get(kind, {}).get(name.lower())


def build(kind: str, name: str, *args: Any, **kwargs: Any) -> Any:
    return get(kind, name)(*args, **kwargs)


def names(kind: str) -> list[str]:
    _ensure_loaded(kind)
    return sorted(_REGISTRY.get(kind, {}))
