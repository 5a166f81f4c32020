"""A self-contained HTML report of one sweep: the ranked trials and what each option did.

Like the model report: one file that opens offline, CSS inline, the figure a PNG
``data:`` URI, no script, a Content-Security-Policy that fetches nothing, and Jinja2
with autoescaping (option values and failure reasons never become markup). The
figure has one panel per swept option: its value against the trial's best validation
loss, coloured by the overfitting verdict, the generalization gap written beside each
point. ``zoo report --sweep ID --out sweep.html`` writes it.

Example:
    >>> from zoo.sweeps import SweepResult, TrialResult
    >>> s = SweepResult("demo", "mlp-cancer", "grid", {"l2": "0 | 0.001"}, trials=[
    ...     TrialResult(1, {"l2": 0.0}, "ok", ref="mlp-cancer@1", best_val_loss=0.31,
    ...                 gap=0.08, metric="accuracy", value=0.95, verdict="overfitting"),
    ...     TrialResult(2, {"l2": 0.001}, "failed", reason="NaN <loss>")])
    >>> html = build_sweep_report(s)
    >>> "mlp-cancer@1" in html, "NaN &lt;loss&gt;" in html, "<script" in html
    (True, True, False)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.store import atomic_write_bytes
from zoo.sweeps import SweepResult, load_sweep, value_text

from .figures import png

VERDICT_COLORS = {
    "good fit": "#2ca02c",
    "overfitting": "#d62728",
    "underfitting": "#ff7f0e",
}

TEMPLATE = "sweep.html"  # explain/templates/


def _fmt(value: Any, signed: bool = False) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:+.4g}" if signed else f"{value:.4g}"
    return str(value)


def options_figure(result: SweepResult) -> Any:
    """One matplotlib panel per swept option: value (x) vs best validation loss (y),
    coloured by verdict, the gap written beside each point; None if no trial is good.

    Example:
        >>> from zoo.sweeps import TrialResult
        >>> s = SweepResult("d", "m", "random", {"l2": "1e-05..0.01:log"}, trials=[
        ...     TrialResult(1, {"l2": 1e-4}, "ok", best_val_loss=0.3, gap=0.1, verdict="good fit")])
        >>> len(options_figure(s).axes)
        1
    """
    from matplotlib.figure import Figure

    good = [t for t in result.trials if t.status == "ok" and t.best_val_loss is not None]
    if not good or not result.space:
        return None
    keys = list(result.space)
    fig = Figure(figsize=(4.2 * len(keys), 3.4), layout="constrained")
    for ax, key in zip(fig.subplots(1, len(keys), squeeze=False)[0], keys, strict=True):
        values = [t.options.get(key) for t in good]
        numeric = result.mode == "random" and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        )
        if numeric:
            xs: list[Any] = values
            if result.space[key].endswith(":log"):
                ax.set_xscale("log")
        else:
            labels = sorted({value_text(v) for v in values}, key=_order)
            xs = [labels.index(value_text(v)) for v in values]
            ax.set_xticks(range(len(labels)), labels)
        for x, t in zip(xs, good, strict=True):
            color = VERDICT_COLORS.get(t.verdict or "", "#7f7f7f")
            ax.scatter([x], [t.best_val_loss], color=color, s=40, zorder=3)
            ax.annotate(
                f"gap {_fmt(t.gap, signed=True)}",
                (x, t.best_val_loss),
                textcoords="offset points",
                xytext=(5, 4),
                fontsize=7,
                color="#5b6475",
            )
        ax.margins(x=0.15, y=0.15)  # room for the gap labels
        ax.set_xlabel(key)
        ax.set_ylabel("best validation loss")
        ax.grid(alpha=0.3)
    handles = [fig.axes[0].scatter([], [], color=c, label=v) for v, c in VERDICT_COLORS.items()]
    fig.legend(handles=handles, loc="outside upper center", ncols=3, fontsize=8, frameon=False)
    return fig


def _order(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def build_sweep_report(result: SweepResult, *, title: str | None = None) -> str:
    """The sweep's report as one HTML string (self-contained; see the module).

    Example:
        >>> from zoo.sweeps import SweepResult
        >>> "<table>" in build_sweep_report(SweepResult("d", "mlp-cancer", "grid", {}))
        True
    """
    import jinja2

    if not isinstance(result, SweepResult):
        raise ZooError(
            f"cannot report on a {type(result).__name__}; expected a SweepResult from "
            "zoo.sweep(...) or zoo.load_sweep(ID)"
        )
    options = list(result.space)
    header = ["rank", "trial", *options, "best val loss", "gap", "best epoch", "test metric",
              "verdict", "version", "note"]  # fmt: skip
    best = result.best
    rows = []
    for row in result.table():
        metric = f"{row['test metric']} {_fmt(row['test value'])}" if row["test metric"] else "-"
        cells = [
            (row["rank"], True),
            (row["trial"], True),
            *((row[k], False) for k in options),
            (_fmt(row["best val loss"]), True),
            (_fmt(row["gap (val - train)"], signed=True), True),
            (_fmt(row["best epoch"]), True),
            (metric, False),
            (row["verdict"] or "-", False),
            (row["version"] or "-", False),
            (row["reason"], False),
        ]
        rows.append({"cells": cells, "best": best is not None and row["version"] == best.ref})
    fig = options_figure(result)
    figure = (
        png(
            fig,
            f"best validation loss against {', '.join(options)}",
            "Colour: verdict (green good fit, red overfitting, orange underfitting); the "
            "label beside each point is its generalization gap.",
        )
        if fig is not None
        else None
    )
    counts = ", ".join(f"{n} {status}" for status, n in result.counts().items()) or "no trials"
    took = f" in {result.seconds:.0f} s" if result.seconds else ""
    facts = (
        f"{result.mode} search over "
        + "; ".join(f"{k}: {v}" for k, v in result.space.items())
        + f". {result.status}{took}: {counts}; {result.parallel} at a time on {result.engine}"
        + (
            f"; fixed: {' '.join(f'{k}={v}' for k, v in result.options.items())}"
            if result.options
            else ""
        )
        + f". Created {result.created or '-'}."
    )
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("explain", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template(TEMPLATE).render(
        title=title or f"Sweep {result.id} of {result.name}",
        facts=facts,
        best=best,
        header=header,
        rows=rows,
        figure=figure,
    )


def write_sweep_report(sweep: SweepResult | str, out: str | Path, *, store: Any = None) -> Path:
    """Write the report of a sweep (a `SweepResult` or a stored sweep's id) to `out`,
    atomically; a folder puts it there as `<id>.html`. Returns the path written.

    Example:
        >>> from zoo.sweeps import SweepResult
        >>> write_sweep_report(SweepResult("d1", "mlp-cancer", "grid", {}), "out/").as_posix()
        'out/d1.html'
    """
    result = sweep if isinstance(sweep, SweepResult) else load_sweep(sweep, store=store)
    folder_like = str(out).endswith(("/", "\\"))
    target = Path(out)
    if target.is_dir() or folder_like:
        target = target / f"{result.id}.html"
    try:
        return atomic_write_bytes(target, build_sweep_report(result).encode("utf-8"))
    except OSError as err:
        raise ZooError(
            f"cannot write the sweep report to {target} ({err.strerror or err}); expected a "
            "writable folder; pass another --out path"
        ) from None


def sweep_report_command(sweep_id: str, *, store: Any = None, out: str | Path) -> int:
    """`zoo report --sweep ID --out FILE`: write a stored sweep's report, print the path.

    Example:
        >>> sweep_report_command("no-such-sweep", out="s.html")
        Traceback (most recent call last):
        ...
        zoo.errors.UnknownModelError: no sweep 'no-such-sweep' in ...
    """
    result = load_sweep(sweep_id, store=store)
    path = write_sweep_report(result, out)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB): {len(result.trials)} trials")
    return 0
