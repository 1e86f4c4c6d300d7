"""The types of the ``register`` callbacks each hook of :mod:`ganzoo.hookspecs` receives.

Annotate a hook with them and an editor or a type checker checks every call::

    from ganzoo.hooktypes import RegisterLoss

    @ganzoo.hookimpl
    def register_losses(register: RegisterLoss) -> None:
        register("acme", d_loss=acme_d, g_loss=acme_g)

Every callback takes the component's short name first; ``replaces="plugin:name"`` declares
that this component takes over a short name another plugin provides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from torch import Tensor, nn

    from ganzoo.data import ImageData

    #: ``d_loss(real_logits, fake_logits, **params)`` / ``g_loss(fake_logits, real_logits,
    #: **params)`` -> scalar (each receives the declared params its signature names)
    LossFn = Callable[..., Tensor]
    #: ``fn(D, real, fake, labels)`` -> an unweighted scalar penalty
    PenaltyFn = Callable[[nn.Module, Tensor, Tensor, Tensor | None], Tensor]


class RegisterArchitecture(Protocol):
    def __call__(self, name: str, /, *, generator: type[nn.Module] | None = None,
                 discriminator: type[nn.Module] | None = None, description: str = "",
                 paper: str = "", replaces: str | None = None) -> None: ...


class RegisterLoss(Protocol):
    def __call__(self, name: str, /, *, d_loss: LossFn, g_loss: LossFn, description: str = "",
                 paper: str = "", uses_real_in_g: bool = False,
                 regularizers: tuple[str | Mapping[str, Any], ...] = (),
                 after_d_step: Callable[[nn.Module], None] | None = None,
                 params: Mapping[str, bool | int | float | str] | None = None,
                 replaces: str | None = None) -> None: ...


class RegisterRegularizer(Protocol):
    def __call__(self, name: str, /, *, fn: PenaltyFn, weight: float = 1.0, interval: int = 1,
                 description: str = "", paper: str = "",
                 replaces: str | None = None) -> None: ...


class RegisterDataset(Protocol):
    def __call__(self, name: str, /, *, load: Callable[[int], ImageData],
                 description: str = "", replaces: str | None = None) -> None: ...


class RegisterRecipe(Protocol):
    def __call__(self, name: str, recipe: Mapping[str, Any], /, *, source: str = "",
                 replaces: str | None = None) -> None: ...


class RegisterFeatureExtractor(Protocol):
    def __call__(self, name: str, /, *, load: Callable[..., Any], sha256: str = "",
                 channels: tuple[int, ...] = (1, 3),
                 input_range: tuple[float, float] = (-1.0, 1.0), resize: str = "",
                 score_names: Mapping[str, str] | None = None, description: str = "",
                 replaces: str | None = None) -> None: ...


class RegisterWeights(Protocol):
    def __call__(self, name: str, /, *, file: str, sha256: str, size: int,
                 sources: tuple[str, ...] | list[str], recipe: str = "", dataset: str = "",
                 command: str = "", steps: int = 0, scores: Mapping[str, float] | None = None,
                 protocol: str = "", license: str = "", description: str = "",
                 replaces: str | None = None) -> None: ...
