"""Model cards: a short markdown page per artifact (data, intended use, metrics, limits)."""

from __future__ import annotations

from typing import Any

from zoo.config import TrainConfig
from zoo.data import Dataset
from zoo.registry import get_spec

_LIMITS = {
    "cnn": "Trained on small, centred 8x8 scans of handwritten digits; it has not seen other "
    "resolutions, stroke widths or backgrounds, and will still answer confidently on them.",
    "rnn": "Reads fixed-length sequences shaped like its training windows; outside that range "
    "of values (another station, another era of CO2 growth) its forecasts are untested.",
    "mlp": "A research demo on 569 cases from one hospital; not a medical device and not "
    "validated for diagnosis.",
    "gan": "Generates 8x8 digit-like images for demonstration; samples can be ambiguous and "
    "the Fréchet distance is measured with the zoo's own small classifier.",
}


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
        "Teaching and comparing training choices (losses, optimizers, regularization) and "
        "explaining predictions; not for decisions about people.",
        "",
        "## Training",
        f"`{cfg.summary()}`",
        "",
        "## Test metrics",
    ]
    for key in ("accuracy", "f1_macro", "roc_auc", "mse", "mae", "r2", "naive_mse", "skill"):
        if key in metrics:
            lines.append(f"- {key}: {metrics[key]:.4g}")
    for key in ("fid_untrained", "fid_final", "fid_ratio"):
        if key in metrics:
            lines.append(f"- {key}: {metrics[key]:.4g}")
    diagnosis = metrics.get("diagnosis", {})
    if diagnosis.get("message"):
        lines += ["", "## Fit", diagnosis["message"]]
    lines += ["", "## Limits", _LIMITS[spec.family], ""]
    return "\n".join(lines)
