"""Transfer learning: start a training from another stored version's weights.

`init_from(net, cfg, store)` copies the weights of every layer of the stored version
`cfg.init` whose name and weight shapes match a layer of the new network (the zoo's
builders name their layers, so the same family built for other data lines up), always
leaving the output layer new (it is sized for the new task, and even with the same size
its units mean other classes), then freezes what `cfg.freeze` says: `all-but-head`
(every copied layer) or `N` (the first N layers with weights). Frozen BatchNormalization
layers run in inference mode, as Keras documents for fine-tuning.
"""

from __future__ import annotations

from typing import Any

from zoo.errors import ConfigError


def _weighted(model: Any) -> list[Any]:
    return [layer for layer in model.layers if layer.weights]


def init_from(net: Any, cfg: Any, store: Any) -> dict[str, Any]:
    """Copy matching weights from version `cfg.init` into `net`, freeze per `cfg.freeze`.

    Returns what happened ({"from": ref, "copied": [...], "frozen": [...], "new": [...]})
    for the version's metrics. Raises `ConfigError` (one line) when the version cannot be
    loaded, is a GAN, or shares no layer with `net`.

    Example:
        >>> import zoo, tempfile
        >>> from zoo.compiling import build_model
        >>> from zoo.config import TrainConfig
        >>> store = tempfile.mkdtemp()
        >>> _ = zoo.train("mlp-cancer", epochs=1, store=store)
        >>> cfg = TrainConfig.for_model("mlp-cancer", init="mlp-cancer@1", freeze="all-but-head")
        >>> net = build_model(cfg, zoo.dataset("mlp-cancer"))
        >>> done = init_from(net, cfg, zoo.Store(store))
        >>> done["from"], done["copied"], done["frozen"], done["new"]
        ('mlp-cancer@1', ['dense0'], ['dense0'], ['output'])
    """
    from zoo.errors import ZooError
    from zoo.trained import load_trained

    try:
        source = load_trained(cfg.init, store)
    except ZooError as err:
        raise ConfigError(f"init={cfg.init!r}: {err}") from None
    if source.family == "gan" or source.model is None:
        raise ConfigError(
            f"init={cfg.init!r} is a {source.family} version; expected a classifier or "
            "forecaster of the same family (cnn, rnn or mlp) to copy layers from"
        )
    theirs = {layer.name: layer for layer in _weighted(source.model)}
    mine = _weighted(net)
    head = mine[-1].name if mine else None
    copied, new = [], []
    for layer in mine:
        other = theirs.get(layer.name)
        shapes = [tuple(w.shape) for w in layer.weights]
        if (
            layer.name != head
            and other is not None
            and [tuple(w.shape) for w in other.weights] == shapes
        ):
            layer.set_weights(other.get_weights())
            copied.append(layer.name)
        else:
            new.append(layer.name)
    if not copied:
        raise ConfigError(
            f"init={cfg.init!r} shares no layer (same name and weight shapes) with "
            f"{cfg.model!r}: its layers are {', '.join(theirs) or 'none'}; start from a "
            "version of the same family with the same architecture options"
        )
    if cfg.freeze == "all-but-head":
        frozen = list(copied)
    elif cfg.freeze.isdigit():
        count = int(cfg.freeze)
        if count >= len(mine):
            raise ConfigError(
                f"freeze={cfg.freeze} would freeze every layer with weights ({len(mine)}), the "
                f"output layer included; expected at most {len(mine) - 1}, or all-but-head"
            )
        frozen = [layer.name for layer in mine[:count]]
        fresh = [name for name in frozen if name not in copied]
        if fresh:
            raise ConfigError(
                f"freeze={cfg.freeze} would keep {', '.join(fresh)} fixed, but its weights "
                f"are new (not copied from {cfg.init}); freeze fewer layers or use all-but-head"
            )
    else:
        frozen = []
    for layer in mine:
        layer.trainable = layer.name not in frozen
    return {"from": source.ref, "copied": copied, "frozen": frozen, "new": new}
