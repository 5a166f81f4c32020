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


def baseline_lines(metrics: dict[str, Any]) -> list[str]:
    """The card's "Baselines" section: each baseline with its interval, then the model vs
    the best of them in words ([] for a version without baselines).

    Example:
        >>> m = {"baselines": {"metric": "mse", "fit_on": "train + validation", "n_fit": 9,
        ...      "n_test": 4, "models": {"naive": {"label": "naive", "value": 0.25,
        ...      "interval": [0.2, 0.3], "params": {}}}}, "vs_baseline": {"label": "naive",
        ...      "difference": -0.1, "interval": [-0.15, -0.05], "verdict": "beats the baseline"}}
        >>> baseline_lines(m)[-1]
        '- **model − naive**: -0.100 [-0.150, -0.0500]: beats the baseline'
    """
    from zoo.summary import interval_text, number_text

    base = metrics.get("baselines") or {}
    if not base.get("models"):
        return ["", "## Baselines", f"Not available: {base['error']}"] if "error" in base else []
    metric = base.get("metric", "")
    acc = metric == "accuracy"
    if metric == "fid_final":
        how = (
            f"Fitted to the {base.get('n_fit')} training images and scored like the model: "
            f"the Fréchet distance to the same {base.get('n_test')} real validation and test "
            "images, in the same feature space; intervals are 95 % bootstrap intervals over "
            "real and generated samples."
        )
    else:
        how = (
            f"Fitted on the {base.get('fit_on')} splits ({base.get('n_fit')} samples; "
            "hyper-parameters by cross-validation there) and scored on the same "
            f"{base.get('n_test')} test samples as the model; intervals are 95 % bootstrap "
            "intervals over the test samples."
        )
    lines = ["", "## Baselines", how]
    for record in base["models"].values():
        params = ", ".join(f"{k}={f'{v:.3g}' if isinstance(v, float) else v}"
                           for k, v in (record.get("params") or {}).items())  # fmt: skip
        lines.append(
            f"- {record.get('label')}{f' ({params})' if params else ''}: {metric} "
            f"{number_text(record.get('value'), accuracy=acc)} "
            f"{interval_text(record.get('interval'), accuracy=acc)}".rstrip()
        )
    vs = metrics.get("vs_baseline") or {}
    if vs:
        lines.append(
            f"- **model − {vs.get('label')}**: "
            f"{number_text(vs.get('difference'), signed=True, accuracy=acc)} "
            f"{interval_text(vs.get('interval'), signed=True, accuracy=acc)}: {vs.get('verdict')}"
        )
    return lines


def origin_text(config: dict[str, Any]) -> str:
    """How a version came to be, from its stored config ("" for one the zoo trained):
    an imported model (`zoo import`) or an ensemble (`zoo ensemble`), which record it
    under `origin` instead of training options.

    Example:
        >>> origin_text({"origin": {"kind": "ensemble", "method": "mean",
        ...                         "members": ["mlp-cancer@1", "mlp-cancer@2"]}})[:61]
        "ensemble (mean of the members' probabilities) of mlp-cancer@1"
        >>> origin_text({"model": "mlp-cancer", "epochs": 3})
        ''
    """
    origin = config.get("origin")
    if not isinstance(origin, dict):
        return ""
    if origin.get("kind") == "ensemble":
        how = {
            "vote": "majority vote; the mean of the members' probabilities is explained",
            "mean": "mean of the members' probabilities",
        }.get(str(origin.get("method")), "mean of the members' outputs")
        if origin.get("task") == "regression":
            how = "mean of the members' forecasts"
        members = ", ".join(str(m) for m in origin.get("members", []))
        return f"ensemble ({how}) of {members}; not trained here"
    source = origin.get("source", "a Keras model")
    return f"imported from {source} (trained outside the zoo: no training options or history)"


def model_card(
    name: str, cfg: TrainConfig, data: Dataset, metrics: dict[str, Any], *, origin: str = ""
) -> str:
    """The markdown model card written into every artifact as `card.md`.

    `origin` replaces the training options for a version the zoo did not train
    (`origin_text`: an imported model or an ensemble).

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
        origin or f"`{cfg.summary()}`",
        "",
        "## Test metrics",
    ]
    ivs = metrics.get("intervals", {}).get("metrics", {})
    for key in _HEADLINE_METRICS:
        if key in metrics:
            iv = ivs.get(key)
            ci = f" (95 % interval {iv[0]:.4g} to {iv[1]:.4g})" if iv else ""
            lines.append(f"- {key}: {metrics[key]:.4g}{ci}")
    lines += baseline_lines(metrics)
    diagnosis = metrics.get("diagnosis", {})
    if diagnosis.get("message"):
        lines += ["", "## Fit", diagnosis["message"]]
    lines += ["", "## Limits", limits(name), ""]
    return "\n".join(lines)
