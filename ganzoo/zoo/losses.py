"""Built-in adversarial losses, on raw logits / critic scores.

Every loss is a pair of pure functions of D's outputs: ``d_loss(real, fake)`` and
``g_loss(fake, real)``, plus the keyword parameters it declares (lsgan's targets, hinge's
margin; their defaults are the papers'). With D's logit ``l`` and ``sigmoid(l) = P(real)``:
``-log sigmoid(l) = softplus(-l)`` and ``-log(1 - sigmoid(l)) = softplus(l)`` (stable for any
logit). What a loss needs besides (a gradient penalty, weight clipping) it declares as
companions; training settings it needs (n_critic, betas) live in its recipes in registry.yaml.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.hooks import hookimpl
from ganzoo.hooktypes import RegisterLoss

GOODFELLOW = "https://arxiv.org/abs/1406.2661"
HINGE = "https://arxiv.org/abs/1705.02894"  # Lim & Ye 2017; Miyato et al. 2018 use it with SN
WGAN = "https://arxiv.org/abs/1701.07875"
WGAN_GP = "https://arxiv.org/abs/1704.00028"
LSGAN = "https://arxiv.org/abs/1611.04076"
RAGAN = "https://arxiv.org/abs/1807.00734"
R3GAN = "https://arxiv.org/abs/2501.05441"

WGAN_CLIP = 0.01  # Arjovsky et al. 2017, Algorithm 1
WGAN_GP_LAMBDA = 10.0  # Gulrajani et al. 2017
# R1 and R2 weight (gamma) the rpgan loss brings; recipes set their own (R3GAN: 0.05 on
# CIFAR-10, up to 2 at 64x64), and train.schedule=cosine decays it with the learning rate.
RPGAN_GAMMA = 0.1
# Mao et al. 2017's targets: D regresses fakes to a and reals to b, G pushes fakes to c. These
# (0-1 coding) are the defaults; their a=-1, b=1, c=0 minimises the Pearson chi^2 divergence.
LSGAN_TARGETS = {"a": 0.0, "b": 1.0, "c": 1.0}
HINGE_MARGIN = 1.0


# -- BCE (Goodfellow et al. 2014) --------------------------------------------------------------


def bce_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """-[log D(x) + log(1 - D(G(z)))]."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def bce_minimax_g_loss(fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    """log(1 - D(G(z))): the original minimax objective (gradients vanish when D wins)."""
    return -F.softplus(fake).mean()


def bce_ns_g_loss(fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    """-log D(G(z)): the non-saturating form used in practice."""
    return F.softplus(-fake).mean()


# -- hinge (Lim & Ye 2017; Miyato et al. 2018) -------------------------------------------------


def hinge_d_loss(real: torch.Tensor, fake: torch.Tensor, *,
                 margin: float = HINGE_MARGIN) -> torch.Tensor:
    """E[max(0, m - D(x))] + E[max(0, m + D(G(z)))]: only margin violations are penalised."""
    return F.relu(margin - real).mean() + F.relu(margin + fake).mean()


def hinge_g_loss(fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    """-E[D(G(z))]."""
    return -fake.mean()


# -- Wasserstein (Arjovsky et al. 2017) --------------------------------------------------------


def wasserstein_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[D(G(z))] - E[D(x)]: the negated critic estimate of the Wasserstein-1 distance."""
    return fake.mean() - real.mean()


def wasserstein_g_loss(fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    """-E[D(G(z))]."""
    return -fake.mean()


class WeightClip:
    """Clamp every parameter of D to [-c, c]: WGAN's crude way to keep the critic Lipschitz."""

    def __init__(self, c: float) -> None:
        self.c = float(c)

    @torch.no_grad()
    def __call__(self, D: nn.Module) -> None:
        for p in D.parameters():
            p.clamp_(-self.c, self.c)

    def __repr__(self) -> str:
        return f"WeightClip(c={self.c:g})"


# -- least squares (Mao et al. 2017) -----------------------------------------------------------


def lsgan_d_loss(real: torch.Tensor, fake: torch.Tensor, *, a: float = LSGAN_TARGETS["a"],
                 b: float = LSGAN_TARGETS["b"]) -> torch.Tensor:
    """1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]: reals regressed to b, fakes to a."""
    return 0.5 * (real - b).square().mean() + 0.5 * (fake - a).square().mean()


def lsgan_g_loss(fake: torch.Tensor, real: torch.Tensor | None = None, *,
                 c: float = LSGAN_TARGETS["c"]) -> torch.Tensor:
    """1/2 E[(D(G(z)) - c)^2]: G wants D to score its fakes c."""
    return 0.5 * (fake - c).square().mean()


# -- relativistic average (Jolicoeur-Martineau 2018) -------------------------------------------


def ragan_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Reals should look more real than the average fake, and fakes less than the average real."""
    return (F.softplus(-(real - fake.mean())).mean()
            + F.softplus(fake - real.mean()).mean())


def ragan_g_loss(fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    """The D loss with the roles swapped; needs D's outputs on reals (``uses_real_in_g``)."""
    if real is None:
        raise ValueError("ragan's g_loss needs D's outputs on reals (uses_real_in_g=True)")
    return (F.softplus(-(fake - real.mean())).mean()
            + F.softplus(real - fake.mean()).mean())


# -- relativistic pairing (Sun et al. 2020; R3GAN, Huang et al. 2024) ---------------------------


def rpgan_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """softplus(-(D(x) - D(G(z)))): each real is paired with one fake and should look more
    real than it (batches of equal size, element by element)."""
    return F.softplus(-(real - fake)).mean()


def rpgan_g_loss(fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    """softplus(-(D(G(z)) - D(x))): the pairing with the roles swapped (``uses_real_in_g``)."""
    if real is None:
        raise ValueError("rpgan's g_loss needs D's outputs on reals (uses_real_in_g=True)")
    return F.softplus(-(fake - real)).mean()


@hookimpl
def register_losses(register: RegisterLoss) -> None:
    register("bce", d_loss=bce_d_loss, g_loss=bce_minimax_g_loss,
             description="minimax BCE: G minimises log(1 - D(G(z)))", paper=GOODFELLOW)
    register("bce-ns", d_loss=bce_d_loss, g_loss=bce_ns_g_loss,
             description="non-saturating BCE: G minimises -log D(G(z))", paper=GOODFELLOW)
    register("hinge", d_loss=hinge_d_loss, g_loss=hinge_g_loss,
             params={"margin": HINGE_MARGIN},
             description="hinge: D penalised only inside the margin (reals above +margin, "
                         "fakes below -margin), G maximises D(G(z))",
             paper=HINGE)
    register("wgan", d_loss=wasserstein_d_loss, g_loss=wasserstein_g_loss,
             after_d_step=WeightClip(WGAN_CLIP),
             description="Wasserstein critic, kept Lipschitz by weight clipping; its recipes "
                         "train with n_critic 5",
             paper=WGAN)
    register("wgan-gp", d_loss=wasserstein_d_loss, g_loss=wasserstein_g_loss,
             regularizers=({"name": "gp", "weight": WGAN_GP_LAMBDA, "interval": 1},),
             description="Wasserstein critic with a gradient penalty at real/fake "
                         "interpolates; its recipes train with n_critic 5, betas (0, 0.9)",
             paper=WGAN_GP)
    register("lsgan", d_loss=lsgan_d_loss, g_loss=lsgan_g_loss, params=LSGAN_TARGETS,
             description="least squares: D regresses reals to b and fakes to a, G wants its "
                         "fakes scored c (a 0, b 1, c 1; Mao et al.'s other choice is a -1, "
                         "b 1, c 0)",
             paper=LSGAN)
    register("rpgan", d_loss=rpgan_d_loss, g_loss=rpgan_g_loss, uses_real_in_g=True,
             regularizers=({"name": "r1", "weight": RPGAN_GAMMA, "interval": 1},
                           {"name": "r2", "weight": RPGAN_GAMMA, "interval": 1}),
             description="relativistic pairing: each real should look more real than its "
                         "paired fake; with zero-centred R1 and R2 (gamma 0.1), R3GAN's loss",
             paper=R3GAN)
    register("ragan", d_loss=ragan_d_loss, g_loss=ragan_g_loss, uses_real_in_g=True,
             description="relativistic average BCE: is a sample more real than the average "
                         "of the other kind?",
             paper=RAGAN)
