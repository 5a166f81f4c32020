"""Sweeps: train one entry many times over a grid or a random sample of its options.

The question a sweep answers is the one this zoo invites: which loss, optimizer, L1/L2
and dropout keep a model from overfitting. `sweep("mlp-cancer", grid={"l2": [0, 1e-3],
"dropout": [0, 0.3]})` trains the cartesian product (4 trials); `random={"l2":
"1e-5..1e-2:log", "dropout": "0..0.5"}, trials=8` draws 8 (seeded). Every trial's
config goes through `TrainConfig` before the first one starts, so a bad option or value
is one `ConfigError` line and nothing is trained.

Each trial is an ordinary `zoo.train` run: a stored version with metrics, diagnosis and
baselines, tagged with its sweep in the version's own checksummed `sweep.json` (the
sweep id, the trial's number and options). A trial that fails (a NaN loss, any
exception) is recorded as failed with its one-line reason and the sweep goes on. The
sweep's summary is `<store>/_sweeps/<id>.json`, rewritten atomically after every trial.

The trials run on KerasTuner (`zoo.sweep_engine`): in this process one at a time, or
`parallel=K` worker processes that take trials from a chief oracle over 127.0.0.1
(KerasTuner's distributed mode). The README's "Sweeps" says why KerasTuner, not Ray Tune.

Example:
    >>> expand_grid(parse_grid(["l2=0,1e-3", "dropout=0,0.3"]))  # doctest: +NORMALIZE_WHITESPACE
    [{'l2': 0.0, 'dropout': 0.0}, {'l2': 0.0, 'dropout': 0.3},
     {'l2': 0.001, 'dropout': 0.0}, {'l2': 0.001, 'dropout': 0.3}]
"""

from __future__ import annotations

import contextlib
import difflib
import itertools
import json
import math
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zoo import config as zconfig
from zoo.errors import ConfigError, UnknownModelError, ZooError
from zoo.options import show
from zoo.registry import get_spec
from zoo.store import Store, atomic_write_text, write_json

__all__ = [
    "SWEEPS_DIR",
    "SWEEP_FILE",
    "Range",
    "SweepResult",
    "TrialResult",
    "expand_grid",
    "list_sweeps",
    "load_sweep",
    "parse_grid",
    "parse_random",
    "plan",
    "sample_random",
    "sweep",
    "version_sweep",
]

SWEEPS_DIR = "_sweeps"  # <store>/_sweeps/<id>.json: one summary per sweep
SWEEP_FILE = "sweep.json"  # in a trial's version folder: its sweep id and options
FORMAT = 1
# A runaway `--trials 1e6` or a grid of ten options with ten values each would queue
# days of training; past this the user should narrow the space first.
MAX_TRIALS = 1000
ENGINE = "keras-tuner"

# progress(done, total, trial): called as each trial ends (done counts finished trials).
ProgressFn = Callable[[int, int, "TrialResult"], None]


@dataclass(frozen=True)
class Range:
    """A range to draw from: `low..high`, uniform or log-uniform, float or int.

    Example:
        >>> import numpy as np
        >>> r = Range(1e-5, 1e-2, log=True)
        >>> r.text(), 1e-5 <= r.draw(np.random.default_rng(0)) <= 1e-2
        ('1e-05..0.01:log', True)
    """

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def draw(self, rng: Any) -> float | int:
        """One value, rounded to 3 significant digits (a table people read), in range.

        Example:
            >>> import numpy as np
            >>> Range(2, 5, integer=True).draw(np.random.default_rng(1)) in (2, 3, 4, 5)
            True
        """
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        if self.integer:
            return int(min(max(round(value), self.low), self.high))
        return min(max(float(f"{value:.3g}"), self.low), self.high)

    def text(self) -> str:
        """As it is written on the command line.

        Example:
            >>> Range(0, 0.5).text()
            '0..0.5'
        """
        return f"{self.low:g}..{self.high:g}" + (":log" if self.log else "")


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


def value_text(value: Any) -> str:
    """An option value as a person writes it: 0.001, 64,32, true.

    Example:
        >>> value_text(1e-4), value_text([64, 32]), value_text(True), value_text("adam")
        ('0.0001', '64,32', 'true', 'adam')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def _num(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


# --- the search space -----------------------------------------------------------------

_RANGE = re.compile(r"^(?P<low>[^.][^:]*?)\.\.(?P<high>[^:]+?)(?::(?P<scale>\w+))?$")


def _items(spec: Mapping[str, Any] | Iterable[str] | None, flag: str) -> list[tuple[str, Any]]:
    """`OPTION=VALUES` words (CLI) or a mapping (Python) as (option, values) pairs."""
    if spec is None:
        return []
    if isinstance(spec, Mapping):
        pairs = list(spec.items())
    else:
        if isinstance(spec, str):
            spec = spec.split()
        pairs = []
        for word in spec:
            key, eq, values = str(word).partition("=")
            if not eq or not key.strip() or not values.strip():
                raise ConfigError(
                    f"{flag} {show(word)}: expected OPTION=VALUES, e.g. {flag} "
                    + (
                        "l2=0,1e-4,1e-3 dropout=0,0.3"
                        if flag == "--grid"
                        else "l2=1e-5..1e-2:log dropout=0..0.5 optimizer=adam,sgd"
                    )
                )
            pairs.append((key.strip().replace("-", "_"), values.strip()))
    seen: set[str] = set()
    for key, _ in pairs:
        _check_option(key, flag)
        if key in seen:
            raise ConfigError(f"{flag}: option {key!r} is given twice; give it once")
        seen.add(key)
    return pairs


def _check_option(key: Any, flag: str) -> None:
    names = [n for n in zconfig.option_names()]
    if key not in names:
        close = difflib.get_close_matches(str(key), names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"{flag}: unknown training option {show(key)}.{hint} Sweepable options are "
            f"the training options of `zoo train --help` ({', '.join(names[:6])}, ...)"
        )


def _split(key: str, values: Any) -> list[Any]:
    """A value list: a string splits at '|' when it has one (list options: `64,32|128`),
    else at commas; a sequence is taken as it is."""
    if isinstance(values, str):
        sep = "|" if "|" in values else ","
        if sep == "," and _is_list_option(key):
            # '64,32' for dense_units is one architecture, not two: only '|' separates.
            return [v.strip() for v in values.split("|")]
        return [v.strip() for v in values.split(sep) if v.strip()]
    if isinstance(values, Sequence) and not isinstance(values, tuple):
        return list(values)
    if isinstance(values, tuple) and not _is_list_option(key):
        return list(values)
    return [values]


def _is_list_option(key: str) -> bool:
    return zconfig.option_type(key) not in (bool, int, float, str)


def _coerce(key: str, value: Any, flag: str) -> Any:
    try:
        return zconfig.coerce(key, zconfig.option_type(key), value)
    except ConfigError as err:
        raise ConfigError(f"{flag} {key}: {err}") from None


def parse_grid(spec: Mapping[str, Any] | Iterable[str] | str) -> dict[str, list[Any]]:
    """A grid from `OPTION=V1,V2,...` words or a mapping: option -> typed values.

    Values are converted like `zoo train`'s flags. A list option (`dense_units`,
    `filters`) separates its values with '|': `dense_units=64,32|128` is two values.

    Example:
        >>> parse_grid(["l2=0,1e-4", "optimizer=adam,sgd"])
        {'l2': [0.0, 0.0001], 'optimizer': ['adam', 'sgd']}
        >>> parse_grid({"dense_units": "64,32|128", "batch_norm": [True, False]})
        {'dense_units': [(64, 32), (128,)], 'batch_norm': [True, False]}
        >>> parse_grid(["dropuot=0,1"])
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: --grid: unknown training option 'dropuot'. Did you mean ...
    """
    grid: dict[str, list[Any]] = {}
    for key, values in _items(spec, "--grid"):
        parts = _split(key, values)
        if not parts:
            raise ConfigError(f"--grid {key}: no values; give at least one, e.g. {key}=0,1")
        typed = [_coerce(key, v, "--grid") for v in parts]
        grid[key] = list(dict.fromkeys(typed))  # a repeated value is one trial, not two
    return grid


def parse_random(spec: Mapping[str, Any] | Iterable[str] | str) -> dict[str, Range | list[Any]]:
    """A random-search space: `OPTION=LOW..HIGH` (`:log` for log-uniform) for numbers,
    `OPTION=A,B,C` for a choice (any option).

    A `Range` of an integer option draws integers. Each range's ends are checked like a
    value of `zoo train` (so `dropout=0..1` fails: dropout must stay below 1).

    Example:
        >>> parse_random(["l2=1e-5..1e-2:log", "dropout=0..0.5", "optimizer=adam,sgd"])
        ... # doctest: +NORMALIZE_WHITESPACE
        {'l2': Range(low=1e-05, high=0.01, log=True, integer=False),
         'dropout': Range(low=0.0, high=0.5, log=False, integer=False),
         'optimizer': ['adam', 'sgd']}
        >>> parse_random(["l2=1e-2..0"])
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: --random l2=1e-2..0: the low end must be below the high end; ...
    """
    space: dict[str, Range | list[Any]] = {}
    for key, values in _items(spec, "--random"):
        if isinstance(values, Range):
            space[key] = values
            continue
        match = _RANGE.match(values) if isinstance(values, str) else None
        if match is None:
            parts = _split(key, values)
            space[key] = list(dict.fromkeys(_coerce(key, v, "--random") for v in parts))
            continue
        kind = zconfig.option_type(key)
        written = f"--random {key}={values}"
        if kind not in (int, float):
            raise ConfigError(
                f"{written}: a range needs a numeric option, and {key} is not one; list "
                f"its choices instead, e.g. {key}=a,b"
            )
        scale = match["scale"]
        if scale not in (None, "log"):
            raise ConfigError(f"{written}: unknown scale {scale!r}; expected ':log' or nothing")
        low = _coerce(key, match["low"].strip(), "--random")
        high = _coerce(key, match["high"].strip(), "--random")
        if not low < high:
            raise ConfigError(
                f"{written}: the low end must be below the high end; write LOW..HIGH, "
                f"e.g. {key}=0..0.5"
            )
        if scale == "log" and low <= 0:
            raise ConfigError(
                f"{written}: a log range needs a positive low end; e.g. {key}=1e-5..1e-2:log"
            )
        for end in (low, high):
            try:
                zconfig.option_spec(key).check(key, end)
            except ConfigError as err:
                raise ConfigError(f"{written}: {err}") from None
        space[key] = Range(float(low), float(high), log=scale == "log", integer=kind is int)
    return space


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The cartesian product of a grid, the first option varying slowest.

    Example:
        >>> expand_grid({"l2": [0, 1], "dropout": [0, 0.3, 0.5]})[:4]
        ... # doctest: +NORMALIZE_WHITESPACE
        [{'l2': 0, 'dropout': 0}, {'l2': 0, 'dropout': 0.3}, {'l2': 0, 'dropout': 0.5},
         {'l2': 1, 'dropout': 0}]
    """
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def sample_random(
    space: Mapping[str, Range | Sequence[Any]], trials: int, *, seed: int = 0
) -> list[dict[str, Any]]:
    """`trials` distinct draws from a random-search space (seeded: same seed, same draws).

    Example:
        >>> draws = sample_random({"dropout": Range(0, 0.5), "optimizer": ["adam", "sgd"]},
        ...                       3, seed=1)
        >>> len(draws), all(0 <= d["dropout"] <= 0.5 for d in draws)
        (3, True)
        >>> sample_random({"optimizer": ["adam", "sgd"]}, 3)
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: --trials 3: the space has only 2 distinct combinations; ...
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    # Identical configs would train the same model twice (and share a resume backup).
    for _ in range(100 * trials):
        draw = {
            k: v.draw(rng) if isinstance(v, Range) else v[int(rng.integers(len(v)))]
            for k, v in space.items()
        }
        key = json.dumps(draw, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(draw)
            if len(out) == trials:
                return out
    distinct = len(out)
    raise ConfigError(
        f"--trials {trials}: the space has only {distinct} distinct combinations; ask for "
        f"--trials {distinct} or fewer, widen a range, or use --grid"
    )


def _space_text(mode: str, space: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for key, values in space.items():
        if isinstance(values, Range):
            out[key] = values.text()
        else:
            out[key] = " | ".join(value_text(v) for v in values)
    return out


def plan(
    name: str,
    *,
    grid: Mapping[str, Any] | Iterable[str] | str | None = None,
    random: Mapping[str, Any] | Iterable[str] | str | None = None,
    trials: int | None = None,
    sample_seed: int = 0,
    quick: bool = False,
    options: Mapping[str, Any] | None = None,
) -> tuple[str, dict[str, str], list[dict[str, Any]], list[zconfig.TrainConfig]]:
    """Check a sweep and list its trials; nothing is trained.

    Returns (mode, the space as text, each trial's options, each trial's validated
    `TrainConfig`). Every trial's config is checked here, so a bad option or value fails
    before any training starts, as one `ConfigError` line naming the trial.

    Example:
        >>> mode, space, trials, configs = plan("mlp-cancer", grid={"dropout": [0, 0.3]},
        ...                                     options={"epochs": 2})
        >>> mode, space, [c.dropout for c in configs], configs[0].epochs
        ('grid', {'dropout': '0 | 0.3'}, [0.0, 0.3], 2)
        >>> plan("mlp-cancer", grid=["dropout=0,1.5"])
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: sweep trial 2 of 2 (dropout=1.5): dropout=1.5 is out of range: ...
    """
    if not isinstance(name, str):
        raise UnknownModelError(f"name a zoo entry to sweep, e.g. 'mlp-cancer'; got {show(name)}")
    spec = get_spec(name)
    if spec.task == "generation":
        raise ConfigError(
            f"{name} is a GAN: sweeps rank trials by validation loss, which a GAN has "
            "none of; sweep a classifier or forecaster (see `zoo list`)"
        )
    if (grid is None) == (random is None):
        raise ConfigError(
            "a sweep needs exactly one search space: --grid OPTION=V1,V2 ... (every "
            "combination) or --random OPTION=LOW..HIGH ... with --trials N"
        )
    options = {k: v for k, v in (options or {}).items() if v is not None}
    space: Mapping[str, Any]
    if grid is not None:
        if trials is not None:
            raise ConfigError(
                "--trials is for --random; a grid runs every combination (drop --trials)"
            )
        mode, space = "grid", parse_grid(grid)
        chosen = expand_grid(space)
    else:
        if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
            raise ConfigError(
                f"--random needs --trials N, a positive number of draws; got {show(trials)}"
            )
        mode, space = "random", parse_random(random if random is not None else {})
        if trials > MAX_TRIALS:
            raise ConfigError(
                f"--trials {trials} is over {MAX_TRIALS} (a cap against runaway sweeps); "
                "narrow the space and ask for fewer"
            )
        chosen = sample_random(space, trials, seed=sample_seed)
    if not space:
        raise ConfigError("the search space is empty; give at least one OPTION=VALUES")
    both = sorted(set(space) & set(options))
    if both:
        raise ConfigError(
            f"{', '.join(both)} is both swept and fixed (a training flag); drop one of them"
        )
    if len(chosen) > MAX_TRIALS:
        raise ConfigError(
            f"the grid has {len(chosen)} combinations, over {MAX_TRIALS} (a cap against "
            "runaway sweeps); fewer values per option, or --random with --trials"
        )
    configs = []
    for i, trial in enumerate(chosen, 1):
        try:
            configs.append(zconfig.TrainConfig.for_model(name, quick=quick, **options, **trial))
        except ConfigError as err:
            words = " ".join(f"{k}={value_text(v)}" for k, v in trial.items())
            raise ConfigError(f"sweep trial {i} of {len(chosen)} ({words}): {err}") from None
    return mode, _space_text(mode, space), chosen, configs


# --- one trial --------------------------------------------------------------------------


class _TaggingStore(Store):
    """A store that writes the sweep's tag into every version it commits (checksummed
    with the rest of the version) and remembers the last version it committed."""

    def __init__(self, root: str | Path, tag: dict[str, Any]) -> None:
        super().__init__(root)
        self.tag = tag
        self.committed: str | None = None

    def commit(self, name: str, folder: Path, *, status: str = "ok", error: str = "") -> int:
        write_json(folder, SWEEP_FILE, self.tag)
        version = super().commit(name, folder, status=status, error=error)
        self.committed = f"{name}@{version}"
        return version


def one_line(err: BaseException) -> str:
    """An exception as one line: a zoo error's message, else its type and message.

    Example:
        >>> one_line(ValueError("bad\\nshape"))
        'ValueError: bad shape'
    """
    text = " ".join(str(err).split())
    return text if isinstance(err, ZooError) else f"{type(err).__name__}: {text}"


def run_trial(
    root: str | Path,
    sweep_id: str,
    index: int,
    options: Mapping[str, Any],
    config: Mapping[str, Any],
) -> TrialResult:
    """Train one trial (`zoo.training.train`) into the store at `root`, tagged with its
    sweep; never raises for a failed trial (except Ctrl-C): the result says why.

    Example:
        >>> import tempfile
        >>> cfg = zoo.TrainConfig.for_model("mlp-cancer", epochs=2).to_dict()
        >>> t = run_trial(tempfile.mkdtemp(), "demo", 1, {"epochs": 2}, cfg)
        >>> t.status, t.ref, t.metric
        ('ok', 'mlp-cancer@1', 'accuracy')
    """
    from zoo.summary import headline

    cfg = zconfig.TrainConfig.from_dict(config)
    plain = {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()}
    result = TrialResult(index=index, options=plain)
    store = _TaggingStore(root, {"sweep": sweep_id, "trial": index, "options": plain})
    start = time.perf_counter()
    try:
        from zoo.training import train

        with _tracking_tags(sweep=sweep_id, trial=index):
            trained = train(cfg.model, store=store, config=cfg)
    except KeyboardInterrupt:
        raise
    except Exception as err:  # one trial's failure (NaN, a bug, no memory) is recorded
        result.status, result.reason, result.ref = "failed", one_line(err), store.committed
        result.seconds = time.perf_counter() - start
        return result
    diagnosis = trained.metrics.get("diagnosis", {})
    metric, value = headline(trained.task, trained.metrics)
    result.status, result.ref = "ok", trained.ref
    result.best_val_loss = _finite(diagnosis.get("best_val_loss"))
    result.gap = _finite(diagnosis.get("gap_at_best"))
    result.best_epoch = diagnosis.get("best_epoch")
    result.verdict = diagnosis.get("verdict")
    result.metric, result.value = metric, value
    result.seconds = time.perf_counter() - start
    if result.best_val_loss is None:
        result.status, result.reason = "failed", "no finite validation loss to rank it by"
    return result


def _tracking_tags(**tags: Any) -> Any:
    # TensorBoard's HParams (and MLflow) of the trial carry the sweep id and trial number,
    # so their views can filter one sweep's runs (`zoo.tracking.tagged`).
    try:
        from zoo.tracking import tagged
    except ImportError:  # a zoo without run tracking
        return contextlib.nullcontext()
    return tagged(**tags)


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


# --- the sweep --------------------------------------------------------------------------


def new_id(name: str) -> str:
    """A sweep id people can read and sort: `<entry>-<UTC date-time>-<4 hex>`.

    Example:
        >>> new_id("mlp-cancer").startswith("mlp-cancer-")
        True
    """
    return f"{name}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:4]}"


def sweep(
    name: str,
    *,
    grid: Mapping[str, Any] | Iterable[str] | str | None = None,
    random: Mapping[str, Any] | Iterable[str] | str | None = None,
    trials: int | None = None,
    parallel: int = 1,
    quick: bool = False,
    sample_seed: int = 0,
    store: Store | str | Path | None = None,
    progress: ProgressFn | None = None,
    **options: Any,
) -> SweepResult:
    """Train `name` over a grid or a random sample of options; every trial is stored.

    `grid={"l2": [0, 1e-3], "dropout": "0,0.3"}` runs every combination; `random={"l2":
    "1e-5..1e-2:log", "dropout": "0..0.5", "optimizer": ["adam", "sgd"]}` with
    `trials=N` draws N (seeded by `sample_seed`). `options` are training options every trial
    shares (`epochs=5`); `quick` starts from the entry's quick settings. `parallel=K`
    runs K trials at once in worker processes (KerasTuner's chief/worker mode on
    127.0.0.1). Returns the sweep with its trials ranked by best validation loss; its
    summary is `<store>/_sweeps/<id>.json`.

    Example:
        >>> import tempfile
        >>> s = sweep("mlp-cancer", grid={"dropout": [0, 0.3]}, epochs=2,
        ...           store=tempfile.mkdtemp())
        >>> s.counts(), sorted(t.ref for t in s.trials)
        ({'ok': 2}, ['mlp-cancer@1', 'mlp-cancer@2'])
    """
    from zoo import sweep_engine

    store = store if isinstance(store, Store) else Store(store)
    if isinstance(parallel, bool) or not isinstance(parallel, int) or not 1 <= parallel <= 64:
        raise ConfigError(
            f"parallel={show(parallel)}: expected a number of trials at once from 1 to 64 "
            f"(this machine has {os.cpu_count()} cores)"
        )
    mode, space, chosen, configs = plan(
        name,
        grid=grid,
        random=random,
        trials=trials,
        sample_seed=sample_seed,
        quick=quick,
        options=options,
    )
    store.ensure_root()
    result = SweepResult(
        id=new_id(name),
        name=name,
        mode=mode,
        space=space,
        options={k: value_text(v) for k, v in options.items() if v is not None},
        quick=quick,
        parallel=min(parallel, len(chosen)),
        sample_seed=sample_seed,
        engine=sweep_engine.engine_name(),
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        trials=[TrialResult(i, _plain(t)) for i, t in enumerate(chosen, 1)],
    )
    save_sweep(store, result)
    jobs = [
        {"index": i, "options": _plain(t), "config": c.to_dict()}
        for i, (t, c) in enumerate(zip(chosen, configs, strict=True), 1)
    ]
    done = 0
    start = time.perf_counter()

    def finished(trial: TrialResult) -> None:
        nonlocal done
        done += 1
        result.trials[trial.index - 1] = trial
        result.seconds = time.perf_counter() - start
        save_sweep(store, result)
        if progress is not None:
            progress(done, len(jobs), trial)

    try:
        sweep_engine.run(store.root, result.id, jobs, result.parallel, finished)
    except KeyboardInterrupt:
        result.status = "interrupted"
        result.seconds = time.perf_counter() - start
        save_sweep(store, result)
        raise
    result.status = "done"
    result.seconds = time.perf_counter() - start
    save_sweep(store, result)
    return result


def _plain(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()}


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
