"""Which Keras backend each `zoo train` training runs on, and the child process for the other.

Keras fixes its backend when it is imported, so a `zoo train` process starts the first
training's backend (`backends_for`) and reruns the same command for a training that wants
the other one in a child process (`train_in_child`), whose lines keep the parent's
`[i/n] ` prefix (`line_prefix`). The choice itself is `zoo.backend.for_training`.

Example:
    >>> line_prefix(2, 6)
    '[2/6] '
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from zoo.errors import ZooError
from zoo.registry import get_spec

PREFIX = "ZOO_LINE_PREFIX"  # the "[i/n] " of a `zoo train --all` entry trained in a child


def backends_for(args: argparse.Namespace, configs: list[Any]) -> list[str]:
    """Each training's backend: --backend, else ZOO_BACKEND, else the user's KERAS_BACKEND,
    else auto (`zoo.backend.for_training`); trainings on several workers stay on the
    default unless one is named. Before Keras is imported, this process takes the first
    training's backend.

    Example:
        >>> from zoo.config import TrainConfig
        >>> args = argparse.Namespace(backend="tensorflow", quick=False)
        >>> backends_for(args, [TrainConfig.for_model("gru-digits")])
        ['tensorflow']
    """
    from zoo import backend

    setting = _setting(args)
    flags = ("workers", "worker_index", "workers_addresses")
    distributed = any(getattr(args, k, None) is not None for k in flags) or bool(
        os.environ.get("TF_CONFIG")
    )
    if setting == backend.AUTO and distributed:
        # Workers of one training must share a backend, and a cluster's was set up for one
        # (TF_CONFIG or JAX's coordinator): the default, unless named.
        setting = "tensorflow"
    wanted = [
        backend.for_training(
            get_spec(cfg.model).family, quick=args.quick, strategy=cfg.strategy, setting=setting
        )
        for cfg in configs
    ]
    if "keras" not in sys.modules and wanted:
        os.environ["KERAS_BACKEND"] = wanted[0]
    elif distributed and wanted and wanted[0] != backend.recorded():
        # Workers inherit this process's backend: no child can change it for them.
        raise ZooError(
            f"workers would train on {backend.recorded()}, not {wanted[0]}: Keras is already "
            f"imported here; run `zoo train` in a fresh process (or set KERAS_BACKEND)"
        )
    return wanted


def _setting(args: argparse.Namespace) -> str:
    # --backend, else ZOO_BACKEND, else the user's KERAS_BACKEND (read before the zoo set
    # it), else auto.
    from zoo import backend

    return (
        getattr(args, "backend", None)
        or os.environ.get(backend.SETTING)
        or getattr(args, "given_backend", None)
        or backend.AUTO
    )


def backend_for_sweep(args: argparse.Namespace, name: str, strategy: str = "default") -> str:
    """The backend a `zoo sweep` of entry `name` trains its trials on, chosen as `zoo train`
    chooses (`backends_for`: --backend, ZOO_BACKEND, KERAS_BACKEND, else auto) and set
    for this process and its local workers before Keras is imported. Once Keras is
    imported, its backend (a process cannot switch).

    Example:
        >>> args = argparse.Namespace(backend="tensorflow", quick=False)
        >>> backend_for_sweep(args, "gru-digits")
        'tensorflow'
    """
    from zoo import backend

    wanted = backend.for_training(
        get_spec(name).family, quick=args.quick, strategy=strategy, setting=_setting(args)
    )
    if "keras" in sys.modules:
        return backend.recorded()
    os.environ["KERAS_BACKEND"] = wanted  # the local workers inherit it
    return wanted


def line_prefix(i: int, n: int) -> str:
    """ "[i/n] " before each line of entry `i` of a run of `n`; a child keeps its parent's.

    Example:
        >>> line_prefix(1, 1)
        ''
    """
    return f"[{i}/{n}] " if n > 1 else os.environ.get(PREFIX, "")


def train_in_child(args: argparse.Namespace, name: str, wanted: str, prefix: str) -> int:
    """The same `zoo train` command for entry `name` in a fresh interpreter on `wanted`;
    its exit code (128 + N when a signal N killed it).

    Example:
        >>> args = argparse.Namespace(argv=["train", "no-such-entry"], all=False)
        >>> train_in_child(args, "no-such-entry", "jax", "")  # doctest: +ELLIPSIS
        no-such-entry trains on jax; Keras runs on ... here: in a child
        2
    """
    import subprocess

    # Without --all (argparse also takes an unambiguous prefix of it), naming the entry.
    argv = [t for t in args.argv if not (t.startswith("--a") and "--all".startswith(t))]
    if args.all:
        argv.append(name)
    argv += ["--backend", wanted]
    from zoo.backend import recorded

    code = "import sys; from zoo.cli import main; sys.exit(main(sys.argv[1:]))"
    here = recorded()
    print(f"{prefix}{name} trains on {wanted}; Keras runs on {here} here: in a child", flush=True)
    env = {**os.environ, "KERAS_BACKEND": wanted, PREFIX: prefix}
    rc = subprocess.run([sys.executable, "-c", code, *argv], env=env, check=False).returncode
    return 128 - rc if rc < 0 else rc  # killed by a signal: the shell's 128 + its number
