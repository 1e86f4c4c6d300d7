"""Loss parameters: how a recipe writes them, what a loss may declare, and which of them each
of its two functions receives.

A loss declares typed parameters with their defaults (``params={"a": 0.0, "b": 1.0}``: a
default's type is the parameter's); a recipe writes the loss as a name (``loss: lsgan``) or as
a mapping with values for some of them (``loss: {name: lsgan, a: -1, b: 1, c: 0}``);
``d_loss`` and ``g_loss`` receive, as keyword arguments, the parameters their signatures name.
Checking a recipe's values against a loss's declaration is recipe resolution's job
(:mod:`ganzoo.recipes`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from ganzoo.errors import GanzooError

#: the loss of a recipe that names none
DEFAULT_LOSS = "bce-ns"
#: the types a parameter may have (its default's type is the one a recipe must give)
PARAM_TYPES = (bool, int, float, str)
#: what :func:`keyword_names` gives for a function that takes ``**kwargs``: every parameter
ALL_KEYWORDS = frozenset({"*"})
EXAMPLE = "{name: lsgan, a: -1, b: 1, c: 0}"


def loss_entry(value: Any, where: str) -> tuple[str, dict[str, Any]]:
    """A recipe's ``loss``, a name (``hinge``) or a mapping with parameters, as ``(name,
    {parameter: value})``."""
    if isinstance(value, str):
        return value, {}
    if isinstance(value, dict):
        name = value.get("name")
        if not isinstance(name, str):
            raise GanzooError(f"{where}: loss {value!r} needs a 'name' naming the loss, e.g. "
                              f"{EXAMPLE}")
        return name, {k: v for k, v in value.items() if k != "name"}
    raise GanzooError(f"{where}: loss must be a name such as 'hinge', got {value!r}; to set "
                      f"a loss's parameters write a mapping such as {EXAMPLE}")


def _after_logits(fn: Callable[..., Any]) -> list[inspect.Parameter] | None:
    """``fn``'s parameters after the two logit tensors it is called with, or None if its
    signature cannot be read."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    positional = [p for p in parameters if p.kind in (inspect.Parameter.POSITIONAL_ONLY,
                                                      inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    return [p for p in parameters if p not in positional[:2]]


_BY_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def keyword_names(fn: Callable[..., Any]) -> frozenset[str] | None:
    """The names ``fn`` takes by keyword besides its two logits (:data:`ALL_KEYWORDS` with
    ``**kwargs``), or None if its signature cannot be read."""
    parameters = _after_logits(fn)
    if parameters is None:
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return ALL_KEYWORDS
    return frozenset(p.name for p in parameters if p.kind in _BY_KEYWORD)


def check_declared(params: Any, d_loss: Callable[..., Any], g_loss: Callable[..., Any],
                   where: str) -> None:
    """A GanzooError naming ``where`` unless ``params`` maps identifiers to defaults of a
    :data:`PARAM_TYPES` type, each taken by ``d_loss`` or ``g_loss``, and neither function
    needs an argument that is not one of them."""
    if not isinstance(params, Mapping):
        raise GanzooError(f"{where}: params must map parameter names to their defaults, "
                          f"e.g. {{'margin': 1.0}}, got {params!r}")
    for key, value in params.items():
        if not (isinstance(key, str) and key.isidentifier()) or key == "name":
            raise GanzooError(f"{where}: parameter name {key!r} must be a Python identifier "
                              "other than 'name' (a recipe writes {name: LOSS, PARAM: VALUE})")
        if not isinstance(value, PARAM_TYPES):
            raise GanzooError(f"{where}: parameter '{key}' needs a default of type bool, int, "
                              f"float or str (its type is the parameter's), got {value!r}")
    takes = []
    for side, fn in (("d_loss", d_loss), ("g_loss", g_loss)):
        names = keyword_names(fn)
        if names is None and params:
            raise GanzooError(f"{where}: cannot read the signature of {side}, so cannot pass "
                              "it its parameters; give a plain function")
        takes.append(names or frozenset())
        for p in _after_logits(fn) or ():
            if p.kind in _BY_KEYWORD and p.default is p.empty and p.name not in params:
                raise GanzooError(f"{where}: {side} requires the argument '{p.name}'; declare "
                                  "it in params with its default")
    for key in params:
        if not any(names is ALL_KEYWORDS or key in names for names in takes):
            raise GanzooError(f"{where}: parameter '{key}' is taken by neither d_loss nor "
                              f"g_loss; add a keyword argument '{key}' to the one that uses it")


def bind(fn: Callable[..., Any], values: Mapping[str, Any]) -> Callable[..., Any]:
    """``fn`` with the parameters it takes (by name, or all for ``**kwargs``) set from
    ``values``."""
    names = keyword_names(fn) or frozenset()
    given = {k: v for k, v in values.items() if names is ALL_KEYWORDS or k in names}
    return functools.partial(fn, **given) if given else fn


def describe(values: Mapping[str, Any]) -> str:
    """``a -1, b 1, c 0``."""
    return ", ".join(f"{key} {value:g}" if isinstance(value, float) else f"{key} {value!r}"
                     if isinstance(value, str) else f"{key} {value}"
                     for key, value in values.items())
