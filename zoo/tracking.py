"""TensorBoard logs and MLflow runs for every training, in the views users already know.

Every `zoo.train` (so `zoo train` and the dashboard too) writes TensorBoard event files
into the version it stores, so `tensorboard --logdir $ZOO_HOME` lists every run:

```
<store>/<name>/<version>/tensorboard/
  events.*             HParams (the options that apply to the family, plus `tagged`
                       tags such as a sweep), the test metrics (`test/<metric>`) and,
                       for the GAN, its sample grid (`samples`, step 0 = untrained)
  train/events.*       per epoch: epoch_loss, epoch_<metric>, epoch_learning_rate,
                       epoch_seconds (the GAN: epoch_d_loss, epoch_g_loss, epoch_fid)
  validation/events.*  per epoch: epoch_loss, epoch_<metric> (the `val_*` logs)
```

Steps are epochs, counted from 1 as in `history.csv`. The files are written with
TensorBoard's own protos and record format, not `tf.summary`, so they are the same on
every Keras backend. They go into the version's staging folder while it trains (a live
`tensorboard` shows the run as it goes) and are renamed into place with it. They are
written from the run's history rows, one event file per TensorBoard run: a training
resumed after a kill writes every epoch once (the killed run's staging folder is
removed). The folder is derived, like `explain/`: the manifest does not checksum it
(`zoo.artifact.UNCHECKED_DIRS`), and a missing or damaged one never marks a version
corrupted. Failing to write it is one warning; the training goes on.

With `MLFLOW_TRACKING_URI` set, `log_mlflow` (re-exported here, in `zoo.mlflow_logging`,
which says what it logs) also logs every stored version as an MLflow run.

This module writes the TensorBoard logs. The tags, HParams values and scalar metrics
both share are `zoo.tracking_values`; the MLflow client is `zoo.mlflow_logging`. Their
public names are importable from here too.

Example:
    >>> scalar_name("val_loss"), scalar_name("lr")
    (('validation', 'epoch_loss'), ('train', 'epoch_learning_rate'))
"""

from __future__ import annotations

import functools
import io
import itertools
import logging
import math
import os
import socket
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo.mlflow_logging import MLFLOW_EXPERIMENT as MLFLOW_EXPERIMENT
from zoo.mlflow_logging import log_mlflow as log_mlflow
from zoo.tracking_values import HParamValue as HParamValue
from zoo.tracking_values import (
    _one_line,
    current_tags,
    hparams_from_config,
    scalar_metrics,
)
from zoo.tracking_values import tagged as tagged

log = logging.getLogger("zoo")

TENSORBOARD_DIR = "tensorboard"  # in a version folder
TRAIN_RUN, VALIDATION_RUN = "train", "validation"
SAMPLES_TAG = "samples"

# A unique suffix for each event file this process starts (TensorBoard's own scheme).
_FILE_NUMBER = itertools.count()


def scalar_name(key: str) -> tuple[str, str]:
    """The TensorBoard (run, tag) of a history key, in Keras' own naming.

    `val_<m>` goes to the validation run, everything else to the train run, both as
    `epoch_<m>`, so loss and val_loss share one chart; `lr` is `epoch_learning_rate`.

    Example:
        >>> scalar_name("accuracy"), scalar_name("epoch_time")
        (('train', 'epoch_accuracy'), ('train', 'epoch_seconds'))
    """
    if key.startswith("val_"):
        return VALIDATION_RUN, f"epoch_{key[4:]}"
    return TRAIN_RUN, {"lr": "epoch_learning_rate", "epoch_time": "epoch_seconds"}.get(
        key, f"epoch_{key}"
    )


# --- TensorBoard ------------------------------------------------------------------------


class EventWriter:
    """Appends TensorBoard events to one event file in `logdir` (one TensorBoard run).

    Each write opens the file, appends and closes it: nothing stays open or runs in a
    thread, so an interrupted training leaks nothing, and every epoch is on disk as
    soon as it is written. A second writer for the same folder appends to the file the
    first one started, so a run folder holds one event file.

    Example:
        >>> import tempfile
        >>> writer = EventWriter(tempfile.mkdtemp())
        >>> writer.scalars({"epoch_loss": 0.5}, step=1)
        >>> writer.path.name.startswith("events.out.tfevents.")
        True
    """

    def __init__(self, logdir: str | Path) -> None:
        self.logdir = Path(logdir)
        self.path: Path | None = None

    def scalars(self, values: Mapping[str, float], step: int) -> None:
        """Write one scalar per tag at `step`."""
        from tensorboard.compat.proto import summary_pb2

        summary = summary_pb2.Summary(
            value=[
                summary_pb2.Summary.Value(tag=tag, simple_value=float(value))
                for tag, value in values.items()
            ]
        )
        self.write(summary, step)

    def image(self, tag: str, pixels: np.ndarray, step: int) -> None:
        """Write an image (uint8, height x width, grey) as a PNG at `step`."""
        from PIL import Image
        from tensorboard.compat.proto import summary_pb2

        buffer = io.BytesIO()
        Image.fromarray(np.asarray(pixels, "uint8")).save(buffer, format="PNG")
        height, width = pixels.shape[:2]
        image = summary_pb2.Summary.Image(
            height=height, width=width, colorspace=1, encoded_image_string=buffer.getvalue()
        )
        self.write(
            summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, image=image)]), step
        )

    def write(self, summary: Any, step: int) -> None:
        """Append a `Summary` proto as an event at `step`."""
        from tensorboard.compat.proto import event_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter

        events = []
        if self.path is None:
            self.path = self._existing() or self._new_path()
            if not self.path.exists():
                # The version record TensorBoard reads first; version 2 means "purge only
                # on a restart marker", never on steps that go back (the GAN's step 0).
                events.append(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))
        events.append(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))
        with open(self.path, "ab") as fh:
            writer = RecordWriter(fh)
            for event in events:
                writer.write(event.SerializeToString())

    def _existing(self) -> Path | None:
        if not self.logdir.is_dir():
            return None
        mine = sorted(self.logdir.glob("events.out.tfevents.*.zoo"))
        return mine[-1] if mine else None

    def _new_path(self) -> Path:
        self.logdir.mkdir(parents=True, exist_ok=True)
        # TensorBoard's naming (it lists files containing "tfevents", sorted by name).
        name = (
            f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
            f"{os.getpid()}.{next(_FILE_NUMBER)}.zoo"
        )
        return self.logdir / name


def hparams_summary(
    config: Mapping[str, Any],
    tags: Mapping[str, Any] | None = None,
    *,
    trial_id: str | None = None,
) -> Any:
    """TensorBoard's HParams `Summary` of a config (`hparams_from_config`) and tags.

    Example:
        >>> summary = hparams_summary({"model": "mlp-cancer", "l2": 0.01}, {"sweep": "s1"})
        >>> summary.value[0].tag
        '_hparams_/session_start_info'
    """
    from tensorboard.plugins.hparams import summary_v2

    return summary_v2.hparams_pb(hparams_from_config(config, **(tags or {})), trial_id=trial_id)


def write_hparams(
    logdir: str | Path,
    config: Mapping[str, Any],
    *,
    sweep: str | None = None,
    trial_id: str | None = None,
    **tags: Any,
) -> Path:
    """Record a config's options (and a sweep tag) for TensorBoard's HParams view.

    `logdir` is the TensorBoard run the scalars of that training are in or under (a
    version's `tensorboard/` folder; every training writes its own there already). The
    tags of the enclosing `tagged` block are added; `sweep` and `tags` win over them.
    Returns the event file.

    Example:
        >>> import tempfile
        >>> path = write_hparams(tempfile.mkdtemp(), {"model": "mlp-cancer", "l2": 0.01},
        ...                      sweep="mlp-cancer-demo")
        >>> path.name.startswith("events.out.tfevents.")
        True
    """
    tags = {**current_tags(), **tags, **({"sweep": sweep} if sweep is not None else {})}
    writer = EventWriter(logdir)
    writer.write(hparams_summary(config, tags, trial_id=trial_id), step=0)
    assert writer.path is not None  # write() picked it
    return writer.path


def image_grid(images: np.ndarray, *, scale: int = 4) -> np.ndarray:
    """Images in [-1, 1], shape (n, h, w[, 1]), as one square grey grid (uint8), enlarged.

    Example:
        >>> image_grid(np.zeros((64, 8, 8, 1)), scale=4).shape
        (256, 256)
    """
    array = np.asarray(images, "float32")
    array = array.reshape(array.shape[:3])
    n, height, width = (int(size) for size in np.shape(array)[:3])
    columns = max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / columns)
    grid = np.zeros((rows * height, columns * width), "float32")
    for i, image in enumerate(array):
        r, c = divmod(i, columns)
        grid[r * height : (r + 1) * height, c * width : (c + 1) * width] = image
    pixels = np.clip((grid + 1.0) * 127.5, 0, 255).round().astype("uint8")
    return np.kron(pixels, np.ones((scale, scale), "uint8"))


def tensorboard_callback(
    folder: str | Path, config: Any, history: Any, watch: Sequence[Any] = ()
) -> Any:
    """The callback that logs a training to `<folder>/tensorboard/` (see the module doc).

    `history` is the training's history callback (its `rows`, one dict per epoch, are
    what is written); `watch` the other callbacks, among which a GAN's sample monitor
    (a `samples` list: entry 0 untrained, entry k after epoch k). Add it after both.

    Example:
        >>> import tempfile
        >>> from zoo.config import TrainConfig
        >>> cb = tensorboard_callback(tempfile.mkdtemp(), TrainConfig.for_model("mlp-cancer"),
        ...                           history=None)
        >>> type(cb).__name__
        'TensorBoardLog'
    """
    return _tensorboard_class()(Path(folder) / TENSORBOARD_DIR, config, history, list(watch))


def write_test_metrics(folder: str | Path, metrics: Mapping[str, Any], history: Any) -> None:
    """Add a run's test metrics (`test/<metric>`, at its last epoch) to its TensorBoard log.

    Never raises: failing to write is one warning (the logs are derived).

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> write_test_metrics(d, {"accuracy": 0.9}, {"loss": [0.7, 0.5]})
        >>> len(list((d / "tensorboard").glob("events.out.tfevents.*")))
        1
    """
    try:
        step = max((len(v) for v in history.values()), default=0)
        values = {f"test/{k}": v for k, v in scalar_metrics(metrics).items()}
        if values:
            EventWriter(Path(folder) / TENSORBOARD_DIR).scalars(values, step)
    except Exception as err:  # derived logs must never lose the trained model
        log.warning("no TensorBoard test metrics in %s: %s", folder, _one_line(err))


@functools.cache
def _tensorboard_class() -> type:
    # Keras' Callback base class needs Keras imported: define the subclass lazily.
    from zoo._tf import keras as _keras

    callback: Any = _keras().callbacks.Callback

    class TensorBoardLog(callback):
        """Writes HParams, per-epoch scalars and a GAN's samples as the training goes."""

        def __init__(self, logdir: Path, config: Any, history: Any, watch: list[Any]) -> None:
            super().__init__()
            self.logdir, self.history = logdir, history
            self.config = config.to_dict() if hasattr(config, "to_dict") else dict(config)
            self.tags = current_tags()  # read now: fit may run callbacks elsewhere
            self.sampler = next(
                (c for c in watch if isinstance(getattr(c, "samples", None), list)), None
            )
            self.writers: dict[str, EventWriter] = {}
            self.rows_done = self.samples_done = 0
            self.broken = False
            self.hparams_done = False

        def on_train_begin(self, logs: Any = None) -> None:
            self._safely(self._catch_up)

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self._safely(self._catch_up)

        def on_train_end(self, logs: Any = None) -> None:
            # A resumed run that had finished trains no epoch: its rows are written here.
            self._safely(self._catch_up)

        def _writer(self, run: str) -> EventWriter:
            if run not in self.writers:
                self.writers[run] = EventWriter(self.logdir / run if run else self.logdir)
            return self.writers[run]

        def _catch_up(self) -> None:
            # Written from the history's rows, not this epoch's logs: after a resume
            # they hold the epochs trained before the kill too, each written once.
            if not self.hparams_done:
                self._writer("").write(hparams_summary(self.config, self.tags), step=0)
                self.hparams_done = True
            rows = list(getattr(self.history, "rows", []))
            for step, row in enumerate(rows[self.rows_done :], start=self.rows_done + 1):
                by_run: dict[str, dict[str, float]] = {}
                for key, value in row.items():
                    run, tag = scalar_name(key)
                    by_run.setdefault(run, {})[tag] = value
                for run, values in by_run.items():
                    self._writer(run).scalars(values, step)
            self.rows_done = len(rows)
            samples = list(getattr(self.sampler, "samples", []))
            for step, images in enumerate(samples[self.samples_done :], start=self.samples_done):
                self._writer("").image(SAMPLES_TAG, image_grid(images), step)
            self.samples_done = len(samples)

        def _safely(self, write: Any) -> None:
            if self.broken:
                return
            try:
                write()
            except Exception as err:  # derived logs must never stop a training
                self.broken = True
                log.warning(
                    "TensorBoard logging stopped for this training (%s); the training goes "
                    "on and is stored without it",
                    _one_line(err),
                )

    return TensorBoardLog
