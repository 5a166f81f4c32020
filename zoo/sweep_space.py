"""A sweep's search space: grid and random options parsed, drawn and planned into trials.

`parse_grid` and `parse_random` read `OPTION=VALUES` words (the CLI's `--grid` /
`--random`) or a mapping (Python) into typed values and `Range`s, checked like `zoo
train`'s flags; `expand_grid` and `sample_random` turn a space into trials; `plan`
checks a whole sweep and validates every trial's `TrainConfig` before anything trains.
`zoo.sweeps` runs the planned trials (and re-exports these names).

Example:
    >>> plan("mlp-cancer", grid=["dropout=0,0.3"], options={"epochs": 2})[:3]
    ... # doctest: +NORMALIZE_WHITESPACE
    ('grid', {'dropout': '0 | 0.3'}, [{'dropout': 0.0}, {'dropout': 0.3}])
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zoo import config as zconfig
from zoo.errors import ConfigError, UnknownModelError
from zoo.options import show
from zoo.registry import get_spec

# A runaway `--trials 1e6` or a grid of ten options with ten values each would queue
# days of training; past this the user should narrow the space first.
MAX_TRIALS = 1000


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
