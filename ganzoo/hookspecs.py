"""Every extension point of ganzoo: the one page a plugin author needs.

A plugin is a module (or any object) with functions marked ``@ganzoo.hookimpl`` whose names
match the specs below. Hooks use the *callback* style: ganzoo hands each plugin a
``register`` function and the plugin calls it once per component it provides. ganzoo calls
the plugins one at a time, so every component is recorded under the plugin that made it
(its full name is ``plugin:name``, e.g. ``ganzoo:dcgan``).

Third-party plugins are found through the ``ganzoo`` entry-point group::

    [project.entry-points.ganzoo]
    acme = "ganzoo_acme"

Built-in components (``ganzoo/zoo/``) are registered through these same hooks.

A plugin that fails (an import error, a misspelled hook, a hook argument other than the spec's,
an exception inside a hook, a malformed component) is listed as failed by ``ganzoo plugins
list`` with the reason, and everything else keeps working. A plugin module may declare the
plugin API versions it was written for, ``GANZOO_PLUGIN_API = (1, 1)`` (or ``1`` or
``"1..2"``); ganzoo provides ``ganzoo.PLUGIN_API`` and reports a plugin outside its range as
failed, saying what to upgrade or pin.

Each ``register`` callback has a typed :class:`~typing.Protocol` in :mod:`ganzoo.hooktypes`
(``RegisterArchitecture``, ``RegisterLoss``, ...): annotate a hook's parameter with it and an
editor checks every call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer

    from ganzoo.hooktypes import (
        RegisterArchitecture,
        RegisterDataset,
        RegisterFeatureExtractor,
        RegisterLoss,
        RegisterRecipe,
        RegisterRegularizer,
        RegisterWeights,
    )

hookspec = pluggy.HookspecMarker("ganzoo")

# -------------------------------------------------------------------------
# Models
# -------------------------------------------------------------------------


@hookspec
def register_architectures(register: RegisterArchitecture) -> None:
    """Register generator and/or discriminator architectures.

    :param register: ``register(name, *, generator=None, discriminator=None,
        description="", paper="", replaces=None)``. ``generator`` and ``discriminator`` are
        ``torch.nn.Module`` subclasses built as ``cls(config)``, each with a class attribute
        ``config_class``: a dataclass deriving from :class:`ganzoo.config.GeneratorConfig` or
        :class:`ganzoo.config.DiscriminatorConfig`. A generator's ``forward(z, labels=None)``
        maps ``[N, nz]`` latents to ``[N, C, H, W]`` images in ``[-1, 1]``; a discriminator's
        ``forward(x, labels=None)`` returns one raw logit (critic score) per image, ``[N]``.
        An architecture may provide only one side (a discriminator-only plugin is fine).
        ``replaces="ganzoo:dcgan"`` declares, explicitly, that the short name should resolve
        to this plugin's component instead of the named one.

    Optional, on the model classes:

    - ``resolutions``: a tuple of the resolutions the model supports; the zoo's tests run a
      forward pass at each.
    - ``conditional = True``: the model uses ``labels`` (int64 ``[N]``) when its config's
      ``num_classes > 0``. A run with ``train.conditional: true`` refuses models without it.
    - ``soft_labels = True`` (conditional generators): ``labels`` may also be float class
      weights ``[N, num_classes]`` that mix the class embeddings (``ganzoo.nn.embed_labels``
      does it); a one-hot row must give exactly its integer label's image.
      ``ganzoo sample --class-walk`` needs it.
    - Growing models (progressive growing): ``schedule(images_seen) -> dict`` on the generator
      (or, if the generator has none, the discriminator) maps the number of real images shown
      to D so far to a state, e.g. ``{"resolution": 16, "alpha": 0.5}``; before every training
      step the core passes that state to ``set_progress(state)`` of G, D and the EMA copy of G,
      whichever define it, and logs it in ``metrics.jsonl`` as ``progress``. The core knows
      nothing else about it: the schedule must be a pure function of ``images_seen`` (so a
      resumed run is in the same state), models keep the state they need for ``forward`` in
      their ``state_dict`` (``get_extra_state``) so a checkpoint alone restores it, and inputs
      and outputs stay at the full ``resolution`` whatever the stage.

    ``ganzoo export`` (ONNX, checked against torch with onnxruntime) works for a generator
    that is rebuildable from its config, deterministic in eval mode, built from
    ONNX-exportable operations and takes its batch size from ``z``; spectral norm through
    ``torch.nn.utils.parametrizations`` is baked into plain weights. docs/exporting.md lists
    the rules, the parity tolerances and what the web page (``export --web``) needs.

    Example::

        @ganzoo.hookimpl
        def register_architectures(register: RegisterArchitecture) -> None:
            register("acme-gan", generator=AcmeG, discriminator=AcmeD,
                     description="A toy GAN", paper="https://arxiv.org/abs/...")
    """


# -------------------------------------------------------------------------
# Objectives
# -------------------------------------------------------------------------


@hookspec
def register_losses(register: RegisterLoss) -> None:
    """Register adversarial losses.

    :param register: ``register(name, *, d_loss, g_loss, description="", paper="",
        uses_real_in_g=False, regularizers=(), after_d_step=None, params=None,
        replaces=None)``.

        ``d_loss(real_logits, fake_logits)`` and ``g_loss(fake_logits, real_logits)`` receive
        the discriminator's raw outputs (``[N]`` fp32 tensors, also under AMP) and return a
        scalar to minimise. ``real_logits`` is ``None`` in ``g_loss`` unless
        ``uses_real_in_g=True`` (relativistic losses), so the training core only runs D on
        reals for the G step when a loss asks for it.

        ``params``: the loss's typed parameters and their defaults, e.g. ``{"a": 0.0, "b":
        1.0, "c": 1.0}``. Each default's type (``float``, ``int``, ``bool`` or ``str``) is the
        parameter's type; a ``float`` parameter also takes integers. A recipe sets them by
        writing the loss as a mapping, ``loss: {name: lsgan, a: -1, b: 1, c: 0}`` (``loss:
        lsgan`` keeps every default), and ``--set loss.a=-1`` sets one from the command
        line. An unknown parameter name or a wrong type is an error naming the recipe and the
        loss's parameters, before anything trains; ``config.json`` records every parameter's
        value (``"loss": {"name": "ganzoo:lsgan", "a": -1.0, "b": 1.0, "c": 0.0}``), so the
        run rebuilds exactly. ``d_loss`` and ``g_loss`` receive, as keyword arguments, the
        parameters their signatures name (every one if they take ``**kwargs``): lsgan's
        ``d_loss(real, fake, *, a, b)`` gets ``a`` and ``b``, its ``g_loss(fake, real=None, *,
        c)`` gets ``c``. Registering fails if a parameter is taken by neither function, or if
        one of them needs an argument that is not a declared parameter. ``ganzoo zoo list
        --losses`` shows each loss's parameters with their defaults and types.

        A loss that is more than a pair of functions declares its companions, and the core
        runs them without knowing which loss it trains:

        ``regularizers``: regularizers the loss comes with, each a name or a mapping
        ``{"name": ..., "weight": ..., "interval": ...}`` (unset fields take the
        regularizer's defaults). Recipe resolution merges them into the recipe's
        ``regularizers`` (so ``config.json`` lists them with the values that run); a
        recipe entry naming the same regularizer overrides its fields, and ``weight: 0``
        turns it off. ``wgan-gp`` is the Wasserstein pair plus ``{"name": "gp",
        "weight": 10}``.

        ``after_d_step(D)``: a constraint called right after every D optimizer step
        (``wgan`` clips D's weights with it). Give it a readable ``repr``; ``ganzoo zoo
        list --losses`` shows it.

        Training settings a loss needs (``n_critic``, Adam ``betas``, ``lr``) belong in the
        recipes that use it (``registry.yaml`` or ``register_recipes``), not in the loss.

    Example::

        def smoothed_d_loss(real, fake, *, smoothing):
            # one-sided label smoothing (Salimans et al. 2016): reals are labelled 1 - smoothing
            target = torch.full_like(real, 1.0 - smoothing)
            return (F.binary_cross_entropy_with_logits(real, target)
                    + F.softplus(fake).mean())

        @ganzoo.hookimpl
        def register_losses(register: RegisterLoss) -> None:
            register("softplus-ns",
                     d_loss=lambda r, f: (F.softplus(-r) + F.softplus(f)).mean(),
                     g_loss=lambda f, r: F.softplus(-f).mean(),
                     regularizers=("r1",),
                     description="non-saturating logistic loss with R1")
            register("smoothed-ns", d_loss=smoothed_d_loss,
                     g_loss=lambda f, r: F.softplus(-f).mean(),
                     params={"smoothing": 0.1},  # a float; recipes: {name: smoothed-ns, ...}
                     description="non-saturating BCE with one-sided label smoothing")
    """


@hookspec
def register_regularizers(register: RegisterRegularizer) -> None:
    """Register discriminator regularizers (R1, gradient penalty, drift, ...).

    :param register: ``register(name, *, fn, weight=1.0, interval=1, description="",
        paper="", replaces=None)``. ``fn(D, real, fake, labels)`` returns an unweighted scalar
        penalty to minimise; ``D`` is the discriminator (in training mode, its parameters
        requiring grad), ``real`` and ``fake`` are image batches ``[N, C, H, W]`` (``fake``
        detached) and ``labels`` the real batch's class labels (``None`` if unconditional).
        The core calls it every ``interval`` D steps and adds ``weight * interval * fn(...)``
        to that step's D loss (lazy regularization, Karras et al. 2020); recipes set
        ``regularizers: [r1, {name: gp, weight: 5, interval: 4}]`` to choose and override.

        ``fn`` may run inside ``torch.autocast``: a penalty on input gradients should turn
        autocast off and compute in fp32 (see ``ganzoo.zoo.regularizers.input_gradients``).

    Example::

        @ganzoo.hookimpl
        def register_regularizers(register: RegisterRegularizer) -> None:
            register("logit-l2", fn=lambda D, real, fake, labels: D(real, labels).square().mean(),
                     weight=1e-3, description="keeps real logits small")
    """


# -------------------------------------------------------------------------
# Data
# -------------------------------------------------------------------------


@hookspec
def register_datasets(register: RegisterDataset) -> None:
    """Register named datasets usable as ``train.dataset`` or ``--data NAME``.

    :param register: ``register(name, *, load, description="", replaces=None)``.
        ``load(resolution)`` returns a :class:`ganzoo.data.ImageData` (uint8 images
        ``[N, C, resolution, resolution]`` and optional int64 labels), or raises
        :class:`ganzoo.errors.GanzooError` saying how to obtain the data. ``load`` is called
        only when the dataset is used, so registering stays cheap.

    Example::

        @ganzoo.hookimpl
        def register_datasets(register: RegisterDataset) -> None:
            def load(resolution):
                images = read_my_images(resolution)  # uint8 [N, C, resolution, resolution]
                return ImageData(images, source="acme-faces")

            register("acme-faces", load=load, description="faces from ACME's archive")
    """


# -------------------------------------------------------------------------
# Recipes
# -------------------------------------------------------------------------


@hookspec
def register_recipes(register: RegisterRecipe) -> None:
    """Register training recipes (the rows of the zoo).

    :param register: ``register(name, recipe)`` where ``recipe`` is a mapping shaped like an
        entry of ``registry.yaml``: ``description``, ``paper``, ``generator: {arch, ...}``,
        ``discriminator: {arch, ...}``, ``loss`` (a name, or ``{name: ..., PARAM: VALUE}``
        for a loss with parameters), ``regularizers``, ``train: {...}``.
        Every recipe is checked when the plugins load: its shape (known keys, model
        sections naming an ``arch``, a valid ``train`` section, ``loss`` a name or a mapping
        with one) as it is registered, then, once every plugin has registered, the
        components it names and every value's type (model config fields, loss parameters,
        regularizer settings). A recipe that fails is dropped, alone: the plugin and its
        other recipes stay loaded, one line on stderr names the recipe and the reason,
        ``ganzoo plugins list`` shows it under ``dropped``, and asking for it by name
        repeats the reason. A short name in a recipe means the recipe's own plugin's
        component first, so it keeps working when another plugin provides the same short
        name; a full name (``ganzoo:hinge``) names another plugin's (a short name that two
        other plugins provide is reported when the recipe is used).
        ``register(name, recipe, source=PATH)`` adds the file it came from to those errors;
        ``ganzoo.zoo.recipes.register_recipe_file(register, path)`` reads and registers a
        whole ``registry.yaml``-style file that way (a file that is not valid YAML fails the
        plugin; a bad entry drops that recipe only). Ship such a file as package data: a
        non-editable install holds only what the wheel holds (``ganzoo plugins new`` sets
        this up, with a test that builds the wheel and looks for the file).
        A plugin registered in-process (``ganzoo.host.register_plugin``, for tests) raises
        on its first bad recipe instead.

    Example::

        @ganzoo.hookimpl
        def register_recipes(register: RegisterRecipe) -> None:
            register("acme-gan-32", {
                "description": "acme-gan at 32x32",
                "generator": {"arch": "acme:acme-gan", "width": 64},
                "discriminator": {"arch": "acme:acme-gan", "width": 64},
                "loss": "ganzoo:bce-ns",
                "train": {"resolution": 32, "batch": 64, "lr": 2.0e-4, "steps": 2000},
            })
            register("acme-gan-32-lsgan", {
                "description": "acme-gan at 32x32, least squares with Mao et al.'s -1/1/0 targets",
                "generator": {"arch": "acme:acme-gan"},
                "discriminator": {"arch": "acme:acme-gan"},
                "loss": {"name": "ganzoo:lsgan", "a": -1, "b": 1, "c": 0},
            })
    """


# -------------------------------------------------------------------------
# Metrics
# -------------------------------------------------------------------------


@hookspec
def register_feature_extractors(register: RegisterFeatureExtractor) -> None:
    """Register feature extractors: the fixed networks ``ganzoo eval`` measures images with.

    :param register: ``register(name, *, load, sha256="", channels=(1, 3),
        input_range=(-1.0, 1.0), resize="", score_names=None, description="",
        replaces=None)``. ``load(**options)`` builds the network (``device`` is always passed,
        plus options such as ``weights`` from the command line) and returns an object with
        ``features(x) -> [N, D]`` and, for the Inception score, ``logits(x) -> [N, classes]``;
        ``x`` is a float batch ``[N, C, H, W]`` in ``input_range`` at the data's resolution,
        so the extractor resizes inside (``resize`` says how, for the protocol record).
        ``sha256`` identifies the weights; a loaded object's own ``sha256`` attribute wins
        (for weights the user names). Every score records it, and cached reference
        statistics are keyed by it, so a different network never reuses them. ``channels``
        are the image channel counts it accepts. Scores are named ``fd-NAME``, ``kd-NAME``,
        ``is-NAME``, ``precision-NAME``, ``recall-NAME`` unless ``score_names`` maps a metric
        (``fd``, ``kd``, ``is``, ``precision``, ``recall``) to another name, such as ``fid``
        for the standard Inception network; never call a score FID that is not. A loaded
        object's own ``score_names`` attribute wins over the registered ones (the built-in
        ``inception`` sets it when the user's weights are not pytorch-fid's).

    Example::

        @ganzoo.hookimpl
        def register_feature_extractors(register: RegisterFeatureExtractor) -> None:
            register("acme-faces", load=lambda device="cpu", **options: AcmeNet().to(device),
                     sha256=ACME_WEIGHTS_SHA256, channels=(3,), resize="bilinear to 112x112",
                     description="face-recognition embedding for face GANs")
    """


# -------------------------------------------------------------------------
# Pretrained weights
# -------------------------------------------------------------------------


@hookspec
def register_weights(register: RegisterWeights) -> None:
    """Register pretrained generator weights by tag, so ``ganzoo sample TAG`` works untrained.

    :param register: ``register(tag, *, file, sha256, size, sources, recipe="", dataset="",
        command="", steps=0, scores=None, protocol="", license="", description="",
        replaces=None)``. An entry is data only: ``file`` is the weights file's name (a
        ``generator.safetensors`` as ``ganzoo export`` writes it; fp16 tensors are fine),
        ``sha256`` and ``size`` identify its bytes, and ``sources`` say where to get it, tried
        in order: an absolute path (a file shipped inside the plugin's package),
        ``https://`` URLs, ``hf://OWNER/REPO/FILE`` (``hf://OWNER/REPO@REVISION/FILE``; needs
        ``pip install 'ganzoo[hub]'``). A folder in ``GANZOO_WEIGHTS_DIR`` holding ``file`` is
        looked at first (offline mirrors). A download streams to a temporary file in
        ``GANZOO_CACHE_DIR`` and is kept only when its size and sha256 match; nothing is
        ever unpickled. ``recipe``, ``dataset`` (``ganzoo eval TAG``'s default reference),
        ``command`` and ``steps`` say how it was trained; ``scores`` (``{"fd-fmnist": 21.4}``)
        what it measured, under ``protocol``; ``license`` its licence. Tags read
        ``ARCH.DATASET`` (``dcgan.fmnist``). ``ganzoo.weights.register_weights_file(register,
        path)`` registers every entry of a JSON file instead.

    Example::

        @ganzoo.hookimpl
        def register_weights(register: RegisterWeights) -> None:
            here = Path(__file__).parent
            register("acme-gan.faces", file="acme-gan.faces.safetensors",
                     sha256="3f5a...", size=1843921,
                     sources=(str(here / "acme-gan.faces.safetensors"),
                              "https://example.org/acme-gan.faces.safetensors"),
                     recipe="acme:acme-gan-32", dataset="acme-faces", steps=20000,
                     scores={"fd-fmnist": 21.4}, protocol="10000 generated vs ...",
                     license="CC-BY-4.0")
    """


# -------------------------------------------------------------------------
# Command line
# -------------------------------------------------------------------------


@hookspec
def register_commands(app: typer.Typer) -> None:
    """Add commands to the ``ganzoo`` command line.

    :param app: the :class:`typer.Typer` application; decorate functions with
        ``@app.command()`` to add subcommands. A plugin whose command name is already taken
        (``train``, another plugin's command) is reported as failed and adds none.

    Example::

        @ganzoo.hookimpl
        def register_commands(app: typer.Typer) -> None:
            @app.command("acme-stats")
            def acme_stats(run: str) -> None:
                # typer turns the parameters into arguments and options
                typer.echo(compute_stats(run))
    """
