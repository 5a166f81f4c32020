"""The option schema: what each `TrainConfig` field means, where it applies, what it allows.

A field of `TrainConfig` is declared once with `option(default, group, help, ...)`; its
`Option` (in the field's metadata) is what validation, the CLI flags and help, the
web UI's Train form, the report's config table and the tests read. Adding an option
is adding one such field.

Example:
    >>> import dataclasses
    >>> @dataclasses.dataclass(frozen=True)
    ... class Demo:
    ...     rate: float = option(0.5, FITTING, "a rate", low=0, high=1, high_open=True)
    >>> meta = schema(Demo)["rate"]
    >>> meta.group, meta.range_text("rate")
    ('Fitting', '0 <= rate < 1')
    >>> meta.check("rate", 1.0)
    Traceback (most recent call last):
    ...
    zoo.errors.ConfigError: rate=1.0 is out of range: expected 0 <= rate < 1; pass a value in range
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoo.errors import ConfigError

# Groups, in the order the form and `zoo train --help` show them.
OBJECTIVE = "Objective and optimizer"
LAYERS = "Hidden layers and regularization"
FITTING = "Fitting"
ARCHITECTURE = "Architecture"
GAN = "GAN"
EXECUTION = "Execution"
GROUPS = (OBJECTIVE, LAYERS, FITTING, ARCHITECTURE, GAN, EXECUTION)

FAMILIES = ("cnn", "rnn", "mlp", "gan")
# The GAN has no validation loss to stop on or schedule by.
SUPERVISED = ("cnn", "rnn", "mlp")


@dataclass(frozen=True)
class Option:
    """One option's metadata: its group, help, the families it applies to, what it allows.

    `families` empty means every family. `low`/`high` bound a number (or every item of an
    integer list, of at most `max_items` items) and `why` says where a bound comes from
    (a library's range, memory), for the error message; `choices` is a closed set of
    strings; `keras` names the Keras collection an open name is resolved in ("loss",
    "optimizer", "activation"). Every float must also be finite in float32, the
    precision the models compute in.

    Example:
        >>> Option(FITTING, "patience", families=SUPERVISED).applies_to("gan")
        False
    """

    group: str
    help: str
    families: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    keras: str = ""
    why: str = ""
    max_items: int | None = None

    def applies_to(self, family: str) -> bool:
        """Whether the option means something for models of `family`.

        Example:
            >>> Option(GAN, "noise size", families=("gan",)).applies_to("cnn")
            False
        """
        return not self.families or family in self.families

    def range_text(self, name: str) -> str:
        """The allowed range as people write it (`0 <= dropout < 1`), or '' if unbounded.

        Example:
            >>> Option(FITTING, "epochs", low=1).range_text("epochs")
            '1 <= epochs'
        """
        if self.low is None and self.high is None:
            return ""
        lo = "" if self.low is None else f"{_num(self.low)} {'<' if self.low_open else '<='} "
        hi = "" if self.high is None else f" {'<' if self.high_open else '<='} {_num(self.high)}"
        return f"{lo}{name}{hi}"

    def check(self, name: str, value: Any) -> None:
        """Raise `ConfigError` unless `value` is in range and among the choices.

        Example:
            >>> try:
            ...     Option(ARCHITECTURE, "cell", choices=("lstm", "gru")).check("cell", "lstn")
            ... except ConfigError as err:
            ...     print(err)
            cell='lstn' is not valid. Did you mean 'lstm'? Expected one of: ('lstm', 'gru').
        """
        if self.choices and value not in self.choices:
            close = difflib.get_close_matches(value, self.choices, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{name}={show(value)} is not valid.{hint} Expected one of: {self.choices}."
            )
        why = f" ({self.why})" if self.why else ""
        if isinstance(value, tuple):
            if self.max_items is not None and len(value) > self.max_items:
                raise ConfigError(
                    f"{name} lists {len(value)} layers; expected at most {self.max_items} (a "
                    f"cap against runaway values); shorten the list, e.g. {name}=32,64"
                )
            bad = [v for v in value if not (isinstance(v, int) and self._inside(v))]
            if bad:
                if (self.low, self.high) == (1, None):
                    want = "positive integers"
                else:
                    want = f"integers with {self.range_text('each')}"
                raise ConfigError(
                    f"{name}={show(value)} must be {want}{why}, got {show(bad[0])}; fix the "
                    f"list, e.g. {name}=32,64"
                )
        elif isinstance(value, float) and not finite32(value):
            raise ConfigError(
                f"{name}={show(value)} is not a finite number: the models compute in float32 "
                f"(|x| <= {FLOAT32_MAX:.3g}); pass a finite value"
                + (f" with {self.range_text(name)}" if self.range_text(name) else "")
            )
        elif isinstance(value, float) and value != 0 and float(np.float32(value)) == 0.0:
            raise ConfigError(
                f"{name}={show(value)} is 0 in float32, which the models compute in (the "
                f"smallest positive float32 is {FLOAT32_TINY:.2g}); pass a larger value"
                + (f" with {self.range_text(name)}" if self.range_text(name) else "")
            )
        elif isinstance(value, int | float) and not self._inside(value):
            raise ConfigError(
                f"{name}={show(value)} is out of range: expected {self.range_text(name)}{why}; "
                "pass a value in range"
            )

    def _inside(self, value: float) -> bool:
        low, high = self.low, self.high
        return not (
            (low is not None and (value < low or (self.low_open and value == low)))
            or (high is not None and (value > high or (self.high_open and value == high)))
            or value != value  # NaN
        )

    def describe(self, name: str) -> str:
        """The help text with the choices or the range appended (CLI help, form tooltips).

        Example:
            >>> Option(FITTING, "dropout rate", low=0, high=1, high_open=True).describe("dropout")
            'dropout rate; 0 <= dropout < 1'
            >>> Option(FITTING, "schedule", choices=("constant", "cosine")).describe("schedule")
            'schedule: constant, cosine'
        """
        if self.choices:
            return f"{self.help}: {', '.join(self.choices)}"
        bounds = self.range_text(name)
        return f"{self.help}; {bounds}" if bounds else self.help


def option(default: Any, group: str, help: str, **meta: Any) -> Any:
    """A dataclass field with default `default` and its `Option` metadata.

    Example:
        >>> f = option(3, FITTING, "patience", low=0)
        >>> f.default, f.metadata["option"].low
        (3, 0)
    """
    return dataclasses.field(default=default, metadata={"option": Option(group, help, **meta)})


def schema(cls: type) -> dict[str, Option]:
    """Every field of dataclass `cls` declared with `option`, in declaration order.

    Example:
        >>> from zoo.config import TrainConfig
        >>> list(schema(TrainConfig))[:3]
        ['loss', 'optimizer', 'learning_rate']
    """
    return {f.name: f.metadata["option"] for f in dataclasses.fields(cls) if "option" in f.metadata}


_EXPECTED = {bool: "true or false", int: "an integer", float: "a number", str: "a name"}
FLOAT32_MAX = 3.4028234663852886e38
FLOAT32_TINY = 1.401298464324817e-45  # the smallest positive (subnormal) float32
# No Keras name comes near this; a longer "name" is a pasted file, not a typo.
MAX_NAME_LENGTH = 100


def finite32(value: float) -> bool:
    """Whether `value` is a finite number in float32 (1e308 overflows to inf there).

    Example:
        >>> finite32(1e-3), finite32(float("inf")), finite32(1e308)
        (True, False, False)
    """
    return math.isfinite(value) and abs(value) <= FLOAT32_MAX


def show(value: Any, width: int = 60) -> str:
    """`repr(value)` cut to `width` characters, so an error stays one readable line.

    Example:
        >>> show(10**80)
        '100000000000000000000000000000000000000000000000000000000...'
    """
    try:
        text = repr(value)
    except ValueError:  # an int too long for repr (over 4300 digits)
        return f"<an integer of about {value.bit_length() * 0.30103:.0f} digits>"
    return text if len(text) <= width else text[: width - 3] + "..."


def _num(value: float) -> str:
    # Bounds as a person writes them: 4294967295, not 4.29497e+09; 0.01, not 1e-02.
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:g}"


def coerce(name: str, kind: Any, value: Any) -> Any:
    """Turn a CLI string / TOML value into type `kind`, or fail naming the option.

    Example:
        >>> coerce("filters", tuple[int, ...], "16, 32"), coerce("augment", bool, "off")
        ((16, 32), False)
    """
    try:
        converted = _convert(kind, value)
    except OverflowError:
        raise ConfigError(
            f"{name}={show(value)} is too large for a number the models can use; pass a "
            "finite value"
        ) from None
    except (TypeError, ValueError):
        want = _EXPECTED.get(kind, "a comma-separated list of integers such as 32,64")
        if isinstance(value, str) and kind is not str and not value.isascii():
            want += " written in ASCII digits (0-9)"
        raise ConfigError(f"{name}={show(value)} has the wrong type: expected {want}") from None
    if kind is str and len(converted) > MAX_NAME_LENGTH:
        raise ConfigError(
            f"{name}={show(converted)} is {len(converted)} characters long; expected a name "
            f"of at most {MAX_NAME_LENGTH}; check the value"
        )
    return converted


def _convert(kind: Any, value: Any) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
            return False
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ValueError
    if isinstance(value, str) and kind is not str and not value.isascii():
        # Python's int() and float() read any script's digits ('３' is 3): a number
        # option takes the ASCII digits a person types, as refs do.
        raise ValueError
    if kind in (int, float):
        if isinstance(value, bool):  # an int to Python, never to a person
            raise ValueError
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError  # 2.5 epochs is not 2
        return kind(value)
    if kind is str:
        if not isinstance(value, str):
            raise ValueError
        return value.strip()
    if typing.get_origin(kind) is not tuple:
        raise TypeError(f"no coercion to {kind}")
    if isinstance(value, str):
        value = value.replace(" ", "").split(",")
        if "" in value:  # "32,,64" or "": a slip, never a layer of size nothing
            raise ValueError
    if isinstance(value, int):
        value = [value]
    out = []
    for v in value:
        if isinstance(v, float) and not v.is_integer():
            raise ValueError
        out.append(int(v))
    return tuple(out)
