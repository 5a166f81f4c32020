"""What a sweep stores: its trials' results, its summary file and reading them back.

`TrialResult` and `SweepResult` are a sweep's results (ranked, tabled the same in the
CLI, the dashboard and the HTML report); `save_sweep` writes the summary atomically to
`<store>/_sweeps/<id>.json`, `load_sweep` and `list_sweeps` read the stored ones, and
`version_sweep` reads the sweep tag a trial's version carries (`sweep.json`).
`zoo.sweeps` runs sweeps (and re-exports these names).

Example:
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = save_sweep(Store(root), SweepResult("s1", "mlp-cancer", "grid", {"l2": "0"}))
    >>> [s.id for s in list_sweeps(root)]
    ['s1']
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zoo.errors import UnknownModelError, ZooError
from zoo.options import show
from zoo.store import Store, atomic_write_text
from zoo.sweep_space import value_text

SWEEPS_DIR = "_sweeps"  # <store>/_sweeps/<id>.json: one summary per sweep
SWEEP_FILE = "sweep.json"  # in a trial's version folder: its sweep id and options
FORMAT = 1
ENGINE = "keras-tuner"


@dataclass
class TrialResult:
    """One trial: its options, its stored version and what it measured.

    `status` is 'ok', 'failed' (with the one-line `reason`; `ref` is the failed version
    when training got as far as storing one) or 'pending' (not finished). `gap` is the
    generalization gap, validation minus training loss at the best epoch; `metric` and
    `value` the test split's headline metric (accuracy, mse).

    Example:
        >>> t = TrialResult(1, {"l2": 0.001}, "ok", ref="mlp-cancer@3", best_val_loss=0.1)
        >>> t.options_text(), t.ref
        ('l2=0.001', 'mlp-cancer@3')
    """

    index: int
    options: dict[str, Any]
    status: str = "pending"
    reason: str = ""
    ref: str | None = None
    best_val_loss: float | None = None
    gap: float | None = None
    best_epoch: int | None = None
    metric: str | None = None
    value: float | None = None
    verdict: str | None = None
    seconds: float | None = None

    def options_text(self) -> str:
        """The trial's options as `key=value` words.

        Example:
            >>> TrialResult(1, {"dropout": 0.3, "dense_units": [64, 32]}).options_text()
            'dropout=0.3 dense_units=64,32'
        """
        return " ".join(f"{k}={value_text(v)}" for k, v in self.options.items())

    def result_text(self) -> str:
        """What the trial measured, in one line (or why it failed).

        Example:
            >>> TrialResult(1, {}, "failed", reason="loss became NaN").result_text()
            'failed: loss became NaN'
        """
        if self.status != "ok":
            return f"{self.status}: {self.reason}" if self.reason else self.status
        parts = [f"best val_loss {_num(self.best_val_loss)}", f"gap {_num(self.gap, True)}"]
        if self.metric:
            parts.append(f"{self.metric} {_num(self.value)}")
        if self.verdict:
            parts.append(self.verdict)
        return ", ".join(parts) + f" ({self.ref})"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialResult:
        """Rebuild a trial from its JSON form (unknown keys ignored).

        Example:
            >>> TrialResult.from_dict({"index": 2, "options": {}, "extra": 1}).index
            2
        """
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class SweepResult:
    """A sweep: what was searched and every trial, ranked by best validation loss.

    Example:
        >>> s = SweepResult("s1", "mlp-cancer", "grid", {"l2": "0, 0.001"}, trials=[
        ...     TrialResult(1, {"l2": 0.0}, "ok", best_val_loss=0.3),
        ...     TrialResult(2, {"l2": 0.001}, "ok", best_val_loss=0.2),
        ...     TrialResult(3, {"l2": 0.01}, "failed", reason="NaN")])
        >>> [t.index for t in s.ranked()], s.best.index, s.counts()
        ([2, 1, 3], 2, {'ok': 2, 'failed': 1})
    """

    id: str
    name: str
    mode: str
    space: dict[str, str]
    options: dict[str, Any] = field(default_factory=dict)
    quick: bool = False
    parallel: int = 1
    sample_seed: int = 0
    engine: str = ENGINE
    status: str = "running"
    created: str = ""
    seconds: float | None = None
    trials: list[TrialResult] = field(default_factory=list)

    def ranked(self) -> list[TrialResult]:
        """Trials by best validation loss, lowest first; failed and pending ones last.

        Example:
            >>> SweepResult("s", "mlp-cancer", "grid", {}).ranked()
            []
        """

        def key(t: TrialResult) -> tuple[int, float, int]:
            good = t.status == "ok" and t.best_val_loss is not None
            return (0 if good else 1, t.best_val_loss if good else 0.0, t.index)  # type: ignore[return-value]

        return sorted(self.trials, key=key)

    @property
    def best(self) -> TrialResult | None:
        """The good trial with the lowest best validation loss (None when none is good)."""
        ranked = self.ranked()
        return ranked[0] if ranked and ranked[0].status == "ok" else None

    def counts(self) -> dict[str, int]:
        """How many trials ended in each status.

        Example:
            >>> SweepResult("s", "m", "grid", {}, trials=[TrialResult(1, {}, "ok")]).counts()
            {'ok': 1}
        """
        out: dict[str, int] = {}
        for t in self.trials:
            out[t.status] = out.get(t.status, 0) + 1
        return out

    def table(self) -> list[dict[str, Any]]:
        """The results table, ranked: one row per trial, the same in the CLI, the
        dashboard and the HTML report.

        Example:
            >>> s = SweepResult("s", "m", "grid", {"l2": "0"}, trials=[
            ...     TrialResult(1, {"l2": 0.0}, "ok", ref="m@1", best_val_loss=0.25,
            ...                 gap=0.05, metric="accuracy", value=0.9, verdict="good fit")])
            >>> s.table()[0]["best val loss"], s.table()[0]["version"]
            (0.25, 'm@1')
        """
        rows = []
        for rank, t in enumerate(self.ranked(), 1):
            row: dict[str, Any] = {"rank": rank, "trial": t.index}
            for key in self.space:
                row[key] = value_text(t.options.get(key))
            row.update(
                {
                    "best val loss": t.best_val_loss,
                    "gap (val - train)": t.gap,
                    "best epoch": t.best_epoch,
                    "test metric": t.metric or "",
                    "test value": t.value,
                    "verdict": t.verdict or ("" if t.status == "ok" else t.status),
                    "version": t.ref or "",
                    "reason": t.reason,
                }
            )
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what `<store>/_sweeps/<id>.json` holds).

        Example:
            >>> SweepResult("s", "m", "grid", {}).to_dict()["format"]
            1
        """
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepResult:
        """Rebuild a sweep from `to_dict`'s form (unknown keys ignored).

        Example:
            >>> s = SweepResult("s", "m", "grid", {}, trials=[TrialResult(1, {})])
            >>> SweepResult.from_dict(s.to_dict()) == s
            True
        """
        known = cls.__dataclass_fields__
        values = {k: v for k, v in data.items() if k in known and k != "trials"}
        trials = [TrialResult.from_dict(t) for t in data.get("trials", [])]
        return cls(**values, trials=trials)


def _num(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


# --- stored sweeps ------------------------------------------------------------------------


def _sweeps_dir(store: Store | str | Path | None) -> Path:
    store = store if isinstance(store, Store) else Store(store)
    return store.root / SWEEPS_DIR


def save_sweep(store: Store, result: SweepResult) -> Path:
    """Write the sweep's summary atomically to `<store>/_sweeps/<id>.json`.

    Example:
        >>> import tempfile
        >>> p = save_sweep(Store(tempfile.mkdtemp()), SweepResult("s1", "mlp-cancer", "grid", {}))
        >>> p.name
        's1.json'
    """
    text = json.dumps(result.to_dict(), indent=2, default=str)
    return atomic_write_text(_sweeps_dir(store) / f"{result.id}.json", text)


_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,150}")


def load_sweep(sweep_id: str, store: Store | str | Path | None = None) -> SweepResult:
    """A stored sweep by id (a unique prefix is enough).

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> _ = save_sweep(Store(root), SweepResult("mlp-cancer-1", "mlp-cancer", "grid", {}))
        >>> load_sweep("mlp-cancer-1", store=root).name
        'mlp-cancer'
        >>> load_sweep("nope", store=root)
        Traceback (most recent call last):
        ...
        zoo.errors.UnknownModelError: no sweep 'nope' in ...; stored sweeps: mlp-cancer-1 ...
    """
    folder = _sweeps_dir(store)
    if not isinstance(sweep_id, str) or not _ID.fullmatch(sweep_id):
        raise UnknownModelError(
            f"{show(sweep_id)} is not a sweep id; ids look like mlp-cancer-20261126-0930-ab12 "
            "(see `zoo sweeps`)"
        )
    ids = _ids(folder)
    matches = [i for i in ids if i == sweep_id] or [i for i in ids if i.startswith(sweep_id)]
    if len(matches) != 1:
        have = ", ".join(ids[-5:]) or "none"
        what = "several sweeps start with" if matches else "no sweep"
        raise UnknownModelError(
            f"{what} {sweep_id!r} in {folder}; stored sweeps: {have} (see `zoo sweeps`)"
        )
    path = folder / f"{matches[0]}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return SweepResult.from_dict(data)
    except (OSError, ValueError, TypeError) as err:
        raise ZooError(
            f"the sweep summary {path} cannot be read ({type(err).__name__}: {err}); its "
            "trials are still stored versions (`zoo runs`)"
        ) from None


def _ids(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json") if not p.name.startswith("."))


def list_sweeps(store: Store | str | Path | None = None) -> list[SweepResult]:
    """Every stored sweep, oldest first (unreadable summaries are skipped).

    Example:
        >>> import tempfile
        >>> list_sweeps(tempfile.mkdtemp())
        []
    """
    folder = _sweeps_dir(store)
    out = []
    for sweep_id in _ids(folder):
        try:
            out.append(load_sweep(sweep_id, store=folder.parent))
        except ZooError:
            continue
    return sorted(out, key=lambda s: (s.created, s.id))


def version_sweep(store: Store | str | Path | None, ref: str) -> dict[str, Any] | None:
    """The sweep tag of stored version `ref` (`sweep`, `trial`, `options`), or None.

    Example:
        >>> version_sweep(None, "cnn-digits@1") is None
        True
    """
    from zoo.store import parse_ref

    store = store if isinstance(store, Store) else Store(store)
    name, version = parse_ref(ref)
    if version is None:
        return None
    path = store.path(name, version) / SWEEP_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
