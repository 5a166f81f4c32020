"""``zoo explain`` and ``zoo report``: their subcommands and the work behind them.

``zoo`` does not import ``explain``: this package registers both subcommands through
entry points (``[project.entry-points."keras_zoo.commands"]`` in ``pyproject.toml``),
which ``zoo.cli`` loads only when they are asked for. Both commands print for a person
and return the exit code; errors are raised as ``ZooError`` subclasses, which
``zoo.cli.main`` prints and turns into exit code 2.

Example:
    >>> from explain.cli import explain_command
    >>> explain_command("cnn-digits", index=17, out="digit.png")
    cnn-digits@..., test sample 17 (true class: ...)
    prediction: ...
    wrote digit.png
    0
"""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import DataError, ZooError
from zoo.evaluation import time_step
from zoo.store import atomic_write_bytes

from .explainers import describe_method

TOP_K = 5


def register_explain(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``explain`` subcommand to ``commands`` (``zoo``'s subparsers).

    Example:
        >>> parser = argparse.ArgumentParser(prog="zoo")
        >>> register_explain(parser.add_subparsers(dest="command"), [])
        >>> parser.parse_args(["explain", "cnn-digits", "--index", "3"]).index
        3
    """
    p = commands.add_parser(
        "explain", parents=parents, help="explain one test prediction: print + PNG"
    )
    p.add_argument("ref")
    p.add_argument("--index", type=int, default=0, help="test-split sample index")
    p.add_argument("--out", type=Path, default=None, help="PNG path (default: REF-INDEX.png)")
    p.add_argument("--method", default="auto", help="auto, expected_gradients, gradient, deep")
    whole = p.add_argument_group("a whole dataset (resumable, in bounded memory)")
    whole.add_argument(
        "--all", action="store_true", help="explain every sample of --split or --input"
    )
    whole.add_argument("--split", default="test", help="test (default), validation or train")
    whole.add_argument("--input", type=Path, help="a .npy file of inputs instead of a split")
    whole.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    whole.add_argument("--chunk", type=int, default=256, help="samples per chunk file")
    p.set_defaults(run=_explain_one_or_all)


def _explain_one_or_all(args: argparse.Namespace, store: Any) -> int:
    if args.all or args.input is not None:
        return dataset_command(
            args.ref,
            store=store,
            split=args.split,
            x=args.input,
            method=args.method,
            workers=args.workers,
            chunk_size=args.chunk,
        )
    return explain_command(
        args.ref, store=store, index=args.index, out=args.out, method=args.method
    )


def dataset_command(
    ref: str,
    *,
    store: Any = None,
    split: str = "test",
    x: str | Path | None = None,
    method: str = "auto",
    workers: int = 1,
    chunk_size: int = 256,
) -> int:
    """Explain every sample of a split (or a ``.npy`` file): progress with ETA, resumable.

    Prints a progress line per chunk (samples done, rate, ETA), then where the values are
    (a memory-mapped ``values.npy`` in the artifact's ``explain/jobs/`` folder) and the
    additivity over every sample. Interrupted, the same command resumes.

    Example:
        >>> dataset_command("mlp-cancer", split="validation", chunk_size=64)
        explained 64/86 samples (74 %), ... samples/s, ... s elapsed, ETA ... s
        explained 86/86 samples (100 %), ...
        mlp-cancer@...: 86 samples, layerwise, ... ms per sample
        additivity: normalized p50 ..., p95 ..., max ...
        values: .../explain/jobs/validation-layerwise-.../values.npy (86, 30, 1)
        0
    """
    import explain
    import zoo

    trained = zoo.load(ref, store=store)
    e = explain.explain_dataset(
        trained,
        x,
        split=split,
        method=method,
        workers=workers,
        chunk_size=chunk_size,
        progress=lambda p: print(p, flush=True),
    )
    meta = explain.info(e)
    add = meta.additivity
    where = "cached" if meta.cached else f"{meta.ms_per_sample:.1f} ms per sample"
    print(f"{trained.ref}: {len(e.values)} samples, {meta.method}, {where}")
    print(
        f"additivity: normalized p50 {add['p50']:.2%}, p95 {add['p95']:.2%}, "
        f"max {add['normalized_max']:.2%}"
    )
    print(f"values: {Path(str(meta.cache_file)) / 'values.npy'} {tuple(e.values.shape)}")
    return 0


def register_report(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``report`` subcommand to ``commands`` (``zoo``'s subparsers).

    Example:
        >>> parser = argparse.ArgumentParser(prog="zoo")
        >>> register_report(parser.add_subparsers(dest="command"), [])
        >>> parser.parse_args(["report", "mlp-cancer", "--out", "r.html"]).samples
        6
    """
    p = commands.add_parser(
        "report", parents=parents, help="write a self-contained HTML explainability report"
    )
    p.add_argument("ref", nargs="?", help="a stored version (or --sweep ID)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--samples", type=int, default=6, help="test predictions to explain")
    p.add_argument("--sweep", metavar="ID", help="report a sweep's trials (zoo sweeps lists them)")
    p.set_defaults(run=_report_or_sweep)


def _report_or_sweep(args: argparse.Namespace, store: Any) -> int:
    if (args.ref is None) == (args.sweep is None):
        raise ZooError("zoo report needs a version (zoo report REF --out F) or --sweep ID")
    if args.sweep is not None:
        from explain.reporting.sweep import sweep_report_command

        return sweep_report_command(args.sweep, store=store, out=args.out)
    return report_command(args.ref, store=store, out=args.out, samples=args.samples)


def explain_command(
    ref: str,
    *,
    store: Any = None,
    index: int = 0,
    out: str | Path | None = None,
    method: str = "auto",
) -> int:
    """Explain test sample ``index`` of a stored model: print it, write the family's plot.

    Prints the prediction (class and probability; the forecast in the data's units, e.g.
    ppm for ``lstm-co2``; the discriminator's real score for the GAN), the top
    attributions, the method and the additivity error, and writes a PNG (default
    ``<name>-<version>-<index>.png`` in the current folder; a folder puts it there).
    Everything is in the data's units (``explain.plots.in_units``): raw feature values
    (``mean radius`` 9.567, not the standardized -1.29) and, for the forecaster, SHAP
    values, base value and additivity error in ppm.

    Example:
        >>> explain_command("lstm-co2", index=5, out="co2.png")
        lstm-co2@..., test sample 5 for the week of 1995-09-09
        forecast: ... ppm (last level 357.30 ppm, change ... ppm)
        ...
        wrote co2.png
        0
    """
    import explain
    import zoo
    from explain.plots import in_units
    from explain.units import tidy_inputs

    trained = zoo.load(ref, store=store)
    data = trained.dataset()
    n = len(data.x_test)
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < n:
        raise DataError(
            f"--index {index} is out of range: the test split of {trained.ref} has {n} "
            f"samples; expected an index 0..{n - 1}"
        )
    index = int(index)
    x = data.x_test[index : index + 1]
    labelled = trained.family != "gan" and trained.task == "classification"
    e = explain.explain(
        trained, x, method=method, y=data.y_test[index : index + 1] if labelled else None
    )
    shown = in_units(e, data)  # what a person reads: raw inputs, the forecast in ppm
    meta = explain.info(shown)
    u = f" {shown.zoo_units.output}" if shown.zoo_units.output else ""
    fu = f" {shown.zoo_units.features}" if shown.zoo_units.features else ""

    for line in _prediction_lines(trained, data, index, meta):
        print(line)
    k = _shown_output(trained, meta)
    print(
        f"method: {meta.method} (requested {method}); {describe_method(meta)}; "
        f"{1000 * meta.seconds:.0f} ms"
    )
    base = float(np.asarray(shown.base_values)[0, k])
    assert meta.predictions is not None  # explain.explain always records them
    output = float(meta.predictions[0, k])
    values = np.asarray(shown.values)[0, ..., k]
    add = meta.additivity
    print(
        f"additivity error: max {add['max']:.3g}{u}, mean {add['mean']:.3g}{u} "
        f"(base {base:.4g}{u} + sum of SHAP {float(values.sum()):.4g}{u} "
        f"vs output {output:.4g}{u}); normalized p95 {add.get('p95', float('nan')):.2%}"
    )
    labels = feature_labels(meta.input_kind, values.shape, meta.feature_names)
    flat = values.ravel()
    inputs = tidy_inputs(np.asarray(shown.display_data)[0], data).ravel()
    top = np.argsort(-np.abs(flat), kind="stable")[:TOP_K]
    what = {"image": "pixels", "sequence": "time steps", "tabular": "features"}[meta.input_kind]
    print(f"top {len(top)} {what} by |SHAP| for output {meta.output_names[k]!r}:")
    width = max(len(labels[j]) for j in top)
    for j in top:
        print(f"  {labels[j]:<{width}}  input {inputs[j]:>9.4g}{fu}  SHAP {flat[j]:+.4g}{u}")

    path = _png_path(out, f"{trained.name}-{trained.version}-{index}.png")
    from explain.plots import for_explanation

    _save_figure(for_explanation(shown, index=0), path)
    print(f"wrote {path}")
    return 0


def report_command(
    ref: str, *, store: Any = None, out: str | Path | None = None, samples: int = 6
) -> int:
    """Write the HTML report of a stored model; print its path and size.

    ``out`` defaults to ``<name>-<version>-report.html`` in the current folder (a folder
    puts it there).

    Example:
        >>> report_command("mlp-cancer", out="cancer.html", samples=1)
        building the report of mlp-cancer@... (1 explained test sample)...
        wrote cancer.html (... KiB)
        0
    """
    import zoo
    from explain.reporting import default_filename, write_report

    trained = zoo.load(ref, store=store)
    target = Path(out) if out is not None else Path.cwd() / default_filename(trained)
    plural = "" if samples == 1 else "s"
    print(f"building the report of {trained.ref} ({samples} explained test sample{plural})...")

    path = write_report(trained, target, samples=samples)
    size = path.stat().st_size
    print(f"wrote {path} ({size / 1024:.0f} KiB)")
    return 0


def feature_labels(kind: str, shape: tuple[int, ...], feature_names: Any = None) -> list[str]:
    """A readable name for every input position of one sample, in ``ravel`` order.

    Example:
        >>> feature_labels("sequence", (3, 1), ["weekly change"])
        ['weekly change, t-3', 'weekly change, t-2', 'weekly change, t-1']
        >>> feature_labels("image", (1, 2, 1))
        ['pixel (row 0, col 0)', 'pixel (row 0, col 1)']
    """
    names = [str(f) for f in feature_names] if feature_names else []
    if kind == "image":
        h, w, c = shape
        chan = (lambda ch: f" ch{ch}") if c > 1 else (lambda ch: "")
        return [
            f"pixel (row {r}, col {q}){chan(ch)}"
            for r in range(h)
            for q in range(w)
            for ch in range(c)
        ]
    if kind == "sequence":
        t_steps, feats = shape
        fname = [names[f] if f < len(names) else f"feature {f}" for f in range(feats)]
        if feats == 1:
            return [f"{fname[0]}, t-{t_steps - t}" for t in range(t_steps)]
        return [f"step {t}, {fname[f]}" for t in range(t_steps) for f in range(feats)]
    (feats,) = shape
    return [names[f] if f < len(names) else f"feature {f}" for f in range(feats)]


# --------------------------------------------------------------------------- helpers


def _shown_output(trained: Any, meta: Any) -> int:
    """The explained output to list: the predicted class when it has its own output."""
    if trained.task == "classification" and meta.predicted is not None:
        cls = int(meta.predicted[0])
        if len(meta.output_indices) > 1 and cls in meta.output_indices:
            return meta.output_indices.index(cls)
    return 0


def _prediction_lines(trained: Any, data: Any, i: int, meta: Any) -> list[str]:
    """What was predicted for test sample ``i``; ``meta`` is of the explanation in data units."""
    from zoo.evaluation import class_probabilities

    names = list(trained.class_names or data.class_names or [])

    def label(c: int) -> str:
        return names[c] if c < len(names) else str(c)

    head = f"{trained.ref}, test sample {i}"
    if trained.family == "gan":
        score = float(meta.predictions[0, 0])
        p_real = 1.0 / (1.0 + np.exp(-score))
        what = "a real test image"
        if names and data.y_test is not None:
            what += f" of class {label(int(np.ravel(data.y_test[i])[0]))}"
        return [
            f"{head}: {what}",
            f"discriminator real score: {score:.4g} (logit; p_real = {p_real:.3f})",
        ]
    if trained.task == "classification":
        proba = class_probabilities(np.asarray(meta.predictions))[0]
        order = np.argsort(-proba, kind="stable")
        true = int(np.ravel(data.y_test[i])[0])
        guess = int(order[0])
        others = ", ".join(f"{label(int(c))} ({proba[c]:.3f})" for c in order[1:3])
        verdict = "correct" if guess == true else "wrong"
        return [
            f"{head} (true class: {label(true)})",
            f"prediction: {label(guess)} (p = {proba[guess]:.3f}, {verdict}); next: {others}",
        ]
    extra = getattr(data, "extra", {}) or {}
    unit = data.unit
    change = float(meta.predictions[0, 0])  # already in data units (in_units)
    actual = float(data.to_units(np.ravel(data.y_test[i])[0]))
    when = (
        f" for the {time_step(data)} of {extra['dates_test'][i]}" if "dates_test" in extra else ""
    )
    if "last_level_test" in extra:
        last = float(extra["last_level_test"][i])
        lines = [
            f"{head}{when}",
            f"forecast: {last + change:.2f} {unit} (last level {last:.2f} {unit}, "
            f"change {change:+.3f} {unit})",
        ]
        if "next_level_test" in extra:
            nxt = float(extra["next_level_test"][i])
            lines.append(
                f"actual: {nxt:.2f} {unit} (error {last + change - nxt:+.3f} {unit}; "
                f"naive no-change error {last - nxt:+.3f} {unit})"
            )
        return lines
    return [
        f"{head}{when}",
        f"forecast: {change:.4g} {unit}; actual {actual:.4g} {unit} "
        f"(error {change - actual:+.4g} {unit})",
    ]


def _png_path(out: str | Path | None, default: str) -> Path:
    if out is None:
        return Path.cwd() / default
    path = Path(out)
    if path.is_dir() or str(out).endswith(os.sep):
        return path / default
    if path.suffix.lower() != ".png":
        raise DataError(f"--out {out} must end in .png (the plot is written as PNG)")
    return path


def _save_figure(fig: Any, path: Path) -> None:
    """Write ``fig`` as PNG atomically (temp file + rename), then close it."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=120)
    finally:
        fig.clear()
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError as err:
        raise ZooError(
            f"cannot write {path} ({err.strerror or err}); expected a writable folder; "
            "pass another --out"
        ) from None
