"""Model cards: a short markdown page per artifact (data, intended use, metrics, limits).

What an entry is for and what it does not cover are facts of its spec and its dataset
(`ModelSpec.intended_use`, `ModelSpec.limits`, `zoo.data.facts(dataset).limits`), so a
new entry's card says the right thing without touching this module.
"""

from __future__ import annotations

from typing import Any

from zoo.config import TrainConfig
from zoo.data import Dataset, facts
from zoo.registry import get_spec

# The test metrics a card lists, where the run has them (classifier, forecaster, GAN).
_HEADLINE_METRICS = (
    "accuracy", "f1_macro", "roc_auc",
    "mse", "mae", "r2", "naive_mse", "skill",
    "fid_untrained", "fid_final", "fid_ratio",
)  # fmt: skip


def limits(name: str) -> str:
    """What entry `name`'s model card says it does not cover.

    The entry's own statement where its spec has one (the GAN's), else its dataset's.

    Example:
        >>> limits("cnn-fashion-mnist").startswith("Trained on 28x28 grayscale photos")
        True
        >>> "handwritten digits" in limits("cnn-digits")
        True
    """
    spec = get_spec(name)
    return spec.limits or facts(spec.dataset).limits


def model_card(name: str, cfg: TrainConfig, data: Dataset, metrics: dict[str, Any]) -> str:
    """The markdown model card written into every artifact as `card.md`.

    Example:
        >>> from zoo.data import load_dataset
        >>> card = model_card("mlp-cancer", TrainConfig.for_model("mlp-cancer"),
        ...                   load_dataset("cancer"), {"accuracy": 0.97})
        >>> card.splitlines()[0]
        '# mlp-cancer'
    """
    spec = get_spec(name)
    desc = data.description
    splits = desc.get("splits", {})
    lines = [
        f"# {name}",
        "",
        f"{spec.summary}. Family: {spec.family}; task: {spec.task}.",
        "",
        "## Data",
        f"- Source: {desc.get('source', data.name)} ({desc.get('url', '')})",
        f"- Input: {desc.get('input', '')}",
        f"- Split: {desc.get('split', '')}; train {splits.get('train')}, "
        f"validation {splits.get('val')}, test {splits.get('test')}",
    ]
    if data.class_names:
        lines.append(f"- Classes: {', '.join(data.class_names)}")
    lines += [
        "",
        "## Intended use",
        spec.intended_use,
        "",
        "## Training",
        f"`{cfg.summary()}`",
        "",
        "## Test metrics",
    ]
    for key in _HEADLINE_METRICS:
        if key in metrics:
            lines.append(f"- {key}: {metrics[key]:.4g}")
    diagnosis = metrics.get("diagnosis", {})
    if diagnosis.get("message"):
        lines += ["", "## Fit", diagnosis["message"]]
    lines += ["", "## Limits", limits(name), ""]
    return "\n".join(lines)
