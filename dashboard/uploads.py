"""Uploaded data files for the Data page: checked, previewed, saved into the store.

An upload is a CSV/TSV table, a .zip of an image folder (one sub-folder per class) or a
NumPy .npz, at most the dashboard's upload cap (`server.maxUploadSize`). Everything here
works on the bytes in memory: the checks and previews write nothing. A zip is refused as a
whole, before anything is extracted, when it is not a zip, is encrypted, has too many
members, would unpack to too much, or has a member with an absolute path, a drive letter,
a `..` part or a symbolic link.

`create_entry` saves the upload into a private folder of the store,
`<store>/_uploads/<entry>/<id>/` (built under a `.partial-` name and renamed into place,
so a half-written folder is never used), then calls `zoo.add_entry` with its path, so the
entry's source stays valid after a restart. When `add_entry` refuses the data, the folder
is removed again: nothing is written. The store's listing ignores `_uploads` (it holds no
version folders; entry names start with a letter, so no entry is called `_uploads`).

Each visitor (the signed-in e-mail, or the browser session without sign-in) may upload
at most N files per window (`admit`; `zoo dashboard --upload-rate N/SECONDS`, 10 per 10
minutes by default); the count lives server-wide in `dashboard.limits.upload_limiter`.
"""

from __future__ import annotations

import collections
import io
import os
import re
import shutil
import stat
import uuid
import zipfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from dashboard import limits
from zoo.errors import ConfigError, DataError, ZooError

UPLOADS_DIR = "_uploads"
PARTIAL = ".partial-"
TABLE_SUFFIXES = (".csv", ".tsv")
KINDS = {".csv": "csv", ".tsv": "csv", ".zip": "images", ".npz": "npz"}
# A zip of images within a 5 MB cap: a few thousand small files at most.
MAX_ZIP_MEMBERS = 5000
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_COLUMNS = 1000
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_SKIPPED = re.compile(r"^(\.|__MACOSX$)")


def upload_kind(filename: str) -> str:
    """The kind of data an uploaded file holds, by its suffix: csv, images (a .zip) or npz.

    Example:
        >>> upload_kind("wine.CSV"), upload_kind("pets.zip"), upload_kind("d.npz")
        ('csv', 'images', 'npz')
        >>> upload_kind("model.keras")
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: model.keras is not a data file the zoo reads; upload a .csv ...
    """
    kind = KINDS.get(Path(filename).suffix.lower())
    if kind is None:
        raise DataError(
            f"{filename} is not a data file the zoo reads; upload a .csv or .tsv table, a "
            ".zip of an image folder (one sub-folder per class) or a .npz of arrays"
        )
    return kind


def check_size(filename: str, raw: bytes, cap_mb: float) -> None:
    """Refuse an empty upload or one over the dashboard's cap of `cap_mb` megabytes.

    Example:
        >>> check_size("big.csv", b"x" * 3_000_000, cap_mb=2)
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: big.csv is 3.0 MB; the upload limit of this dashboard is 2 MB; ...
    """
    if not raw:
        raise DataError(f"{filename} is empty; upload a file with data in it")
    if len(raw) > cap_mb * 1024 * 1024:
        raise DataError(
            f"{filename} is {len(raw) / 1e6:.1f} MB; the upload limit of this dashboard is "
            f"{cap_mb:g} MB; upload a smaller sample, or add it with `zoo add` on the server"
        )


def suggested_name(filename: str, family: str, taken: Collection[str] = ()) -> str:
    """A valid entry name for a file: `<family>-<file stem>` in lowercase words and
    hyphens, with a number added while it is one of the names `taken`.

    Example:
        >>> suggested_name("Red Wine (2024).csv", "mlp"), suggested_name("123.npz", "cnn")
        ('mlp-red-wine-2024', 'cnn-123')
        >>> suggested_name("digits.zip", "cnn", taken=["cnn-digits"])
        'cnn-digits-2'
    """
    stem = re.sub(r"[^a-z0-9]+", "-", Path(filename).stem.lower()).strip("-")[:40].strip("-")
    name = base = f"{family}-{stem or 'mydata'}"
    number = 1
    while name in taken:
        number += 1
        name = f"{base}-{number}"
    return name


# --- tables -------------------------------------------------------------------------------


@dataclass
class TablePreview:
    """What the Data page shows of a table: the first rows and the column types found."""

    head: Any
    rows: int
    numeric: list[str]
    categorical: list[str]
    missing: dict[str, int]
    suggested_target: str


def table_preview(filename: str, raw: bytes, *, head: int = 10) -> TablePreview:
    """Read an uploaded CSV/TSV (tabs for .tsv) and detect its numeric and categorical
    columns the way `zoo add` does; a file pandas cannot read is one `DataError` line.

    Example:
        >>> p = table_preview("t.csv", b"size,colour,label\\n1,red,a\\n,blue,b\\n3,red,a\\n")
        >>> p.rows, p.numeric, p.categorical, p.missing, p.suggested_target
        (3, ['size'], ['colour', 'label'], {'size': 1}, 'label')
    """
    import pandas as pd

    sep = "\t" if Path(filename).suffix.lower() == ".tsv" else ","
    first = raw.split(b"\n", 1)[0]
    if first.count(sep.encode()) + 1 > MAX_COLUMNS:
        raise DataError(f"{filename} has more than {MAX_COLUMNS} columns; keep the ones to use")
    try:
        frame = pd.read_csv(io.BytesIO(raw), sep=sep)
    except pd.errors.EmptyDataError:
        raise DataError(f"{filename} is empty; expected a header line and rows") from None
    except UnicodeDecodeError as err:
        raise DataError(
            f"{filename} is not UTF-8 text (byte {err.start}); save it as UTF-8 CSV"
        ) from None
    except (pd.errors.ParserError, ValueError) as err:
        message = " ".join(str(err).split())
        raise DataError(
            f"{filename} cannot be read as a table ({message}); expected comma-separated "
            "values with a header line (tab-separated for .tsv)"
        ) from None
    if frame.empty or len(frame.columns) < 2:
        raise DataError(
            f"{filename} has {len(frame)} rows and {len(frame.columns)} column(s); expected a "
            "header line, rows, and at least a feature column and a target column"
        )
    frame.columns = [str(c).strip() for c in frame.columns]
    numeric = [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]
    categorical = [c for c in frame.columns if c not in numeric]
    missing = {c: int(n) for c, n in frame.isna().sum().items() if n}
    named = [c for c in frame.columns if c.lower() in ("target", "label", "class", "y")]
    return TablePreview(
        head=frame.head(head),
        rows=len(frame),
        numeric=numeric,
        categorical=categorical,
        missing=missing,
        suggested_target=named[0] if named else str(frame.columns[-1]),
    )


# --- zips of image folders ----------------------------------------------------------------


def _member_path(name: str) -> PurePosixPath:
    """A zip member's path, refused when it could land outside the folder it unpacks to."""
    text = name.replace("\\", "/")
    path = PurePosixPath(text)
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text) or ".." in path.parts:
        raise DataError(
            f"the zip has a member {name!r} with an absolute path or '..'; zip the image folder "
            "itself (paths inside it relative, one sub-folder per class)"
        )
    return path


def zip_members(raw: bytes) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """The files of an uploaded zip worth unpacking, each with its checked path.

    The whole zip is refused (one `DataError`) if it is not a zip, is encrypted, has more
    than `MAX_ZIP_MEMBERS` members, declares more than `MAX_UNZIPPED_BYTES` unpacked, or
    has a member with an absolute path, a drive letter, a `..` part or a symbolic link.
    Folders, hidden files and `__MACOSX` entries are left out.

    Example:
        >>> buf = io.BytesIO()
        >>> with zipfile.ZipFile(buf, "w") as z:
        ...     z.writestr("digits/0/a.png", b"png"); z.writestr("../evil", b"x")
        >>> zip_members(buf.getvalue())
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: the zip has a member '../evil' with an absolute path or '..'; ...
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as err:
        raise DataError(
            f"the upload is not a zip file that can be read ({err}); zip the image folder again"
        ) from None
    if len(infos) > MAX_ZIP_MEMBERS:
        raise DataError(
            f"the zip has {len(infos)} members; at most {MAX_ZIP_MEMBERS} are unpacked here; "
            "upload fewer images, or add the folder with `zoo add --images` on the server"
        )
    total = sum(info.file_size for info in infos)
    if total > MAX_UNZIPPED_BYTES:
        raise DataError(
            f"the zip would unpack to {total / 1e6:.0f} MB; at most "
            f"{MAX_UNZIPPED_BYTES / 1e6:.0f} MB are unpacked here; upload fewer or smaller images"
        )
    out = []
    for info in infos:
        path = _member_path(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise DataError(
                f"the zip member {info.filename!r} is a symbolic link; zip the files themselves"
            )
        if info.flag_bits & 0x1:
            raise DataError(
                f"the zip member {info.filename!r} is encrypted; zip it without a password"
            )
        if info.is_dir() or any(_SKIPPED.match(part) for part in path.parts):
            continue
        out.append((info, path))
    if not out:
        raise DataError("the zip holds no files; zip a folder with one sub-folder per class")
    return out


def _image_root(paths: list[PurePosixPath]) -> PurePosixPath:
    """The folder inside the zip whose sub-folders are the classes (a lone top folder that
    itself has sub-folders is the image folder, as when a folder `digits/` is zipped)."""
    root = PurePosixPath()
    while True:
        tops = {p.parts[len(root.parts)] for p in paths if len(p.parts) > len(root.parts) + 1}
        loose = [p for p in paths if len(p.parts) == len(root.parts) + 1]
        if len(tops) != 1 or loose:
            return root
        inner = root / next(iter(tops))
        if not any(len(p.parts) > len(inner.parts) + 1 for p in paths):
            return root  # the lone folder holds the images: it is one class
        root = inner


@dataclass
class ImagePreview:
    """What the Data page shows of a zipped image folder: classes, counts, a few images."""

    classes: list[str]
    counts: dict[str, int]
    samples: dict[str, list[bytes]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)


def image_preview(raw: bytes, *, per_class: int = 4) -> ImagePreview:
    """The classes of a zipped image folder, the number of images of each, the first
    `per_class` images' bytes and the image sizes found ('WxH': count); nothing is
    unpacked to disk. A zip without class sub-folders is one `DataError`.

    Example:
        >>> from PIL import Image
        >>> buf, png = io.BytesIO(), io.BytesIO()
        >>> Image.new("L", (8, 8)).save(png, "PNG")
        >>> with zipfile.ZipFile(buf, "w") as z:
        ...     for c in ("cat", "dog"):
        ...         z.writestr(f"pets/{c}/1.png", png.getvalue())
        >>> p = image_preview(buf.getvalue())
        >>> p.classes, p.counts, p.sizes
        (['cat', 'dog'], {'cat': 1, 'dog': 1}, {'8x8': 2})
    """
    from PIL import Image

    members = zip_members(raw)
    paths = [p for _, p in members]
    root = _image_root(paths)
    by_class: dict[str, list[zipfile.ZipInfo]] = collections.defaultdict(list)
    for info, path in members:
        rel = path.parts[len(root.parts) :]
        if len(rel) >= 2 and path.suffix.lower() in IMAGE_SUFFIXES:
            by_class[rel[0]].append(info)
    if len(by_class) < 2:
        found = ", ".join(sorted(by_class)) or "none"
        raise DataError(
            f"the zip has {len(by_class)} class sub-folder(s) with images ({found}); expected "
            "one sub-folder per class (at least two), e.g. pets/cat/1.png, pets/dog/2.png"
        )
    classes = sorted(by_class)
    archive = zipfile.ZipFile(io.BytesIO(raw))
    preview = ImagePreview(classes, {c: len(by_class[c]) for c in classes})
    sizes: collections.Counter[str] = collections.Counter()
    for c in classes:
        preview.samples[c] = [archive.read(info) for info in by_class[c][:per_class]]
        for blob in preview.samples[c]:
            try:
                with Image.open(io.BytesIO(blob)) as img:
                    sizes[f"{img.width}x{img.height}"] += 1
            except (OSError, ValueError, Image.DecompressionBombError):
                continue  # `zoo.add_entry` names the unreadable file
    preview.sizes = dict(sizes.most_common())
    return preview


def _unzip(raw: bytes, folder: Path) -> Path:
    """Unpack a checked zip into `folder`; returns the image folder inside it."""
    members = zip_members(raw)
    archive = zipfile.ZipFile(io.BytesIO(raw))
    inside = folder.resolve()
    for info, path in members:
        dest = (folder / Path(*path.parts)).resolve()
        if inside not in dest.parents:
            raise DataError(f"the zip member {info.filename!r} would unpack outside its folder")
        dest.parent.mkdir(parents=True, exist_ok=True)
        left = info.file_size
        with archive.open(info) as src, open(dest, "wb") as out:
            while chunk := src.read(min(1 << 20, left + 1)):
                left -= len(chunk)
                if left < 0:
                    raise DataError(f"the zip member {info.filename!r} is larger than it says")
                out.write(chunk)
    return folder / Path(*_image_root([p for _, p in members]).parts)


# --- arrays -------------------------------------------------------------------------------


def npz_preview(raw: bytes) -> dict[str, tuple[tuple[int, ...], str]]:
    """Name -> (shape, dtype) of every array of an uploaded .npz (no pickles are loaded).

    Example:
        >>> import numpy as np
        >>> buf = io.BytesIO(); np.savez(buf, x=np.zeros((5, 8, 8)), y=np.arange(5))
        >>> npz_preview(buf.getvalue())
        {'x': ((5, 8, 8), 'float64'), 'y': ((5,), 'int64')}
    """
    import numpy as np

    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            return {k: (tuple(npz[k].shape), str(npz[k].dtype)) for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        message = " ".join(str(err).split())
        raise DataError(
            f"the upload is not an .npz of numeric arrays ({message}); save it with "
            "np.savez(path, x=x, y=y)"
        ) from None


def npz_families(arrays: Mapping[str, tuple[tuple[int, ...], str]]) -> list[str]:
    """The families that can read an .npz: flat samples only mlp; images or sequences all.

    Example:
        >>> npz_families({"x": ((5, 30), "float64"), "y": ((5,), "int64")})
        ['mlp']
        >>> npz_families({"x_train": ((5, 8, 8), "uint8")})
        ['cnn', 'rnn', 'mlp']
    """
    shape = arrays.get("x", arrays.get("x_train", ((), "")))[0]
    return ["mlp"] if len(shape) <= 2 else ["cnn", "rnn", "mlp"]


# --- saving into the store ----------------------------------------------------------------


def uploads_dir(root: str | Path, name: str) -> Path:
    """The store's private folder for the uploaded data of entry `name`.

    Example:
        >>> uploads_dir("/s", "mlp-wine").as_posix()
        '/s/_uploads/mlp-wine'
    """
    return Path(root) / UPLOADS_DIR / name


def save_upload(root: str | Path, name: str, filename: str, raw: bytes) -> Path:
    """Save an upload for entry `name` into `<root>/_uploads/<name>/<id>/`, atomically
    (written under a `.partial-` name, renamed into place); returns the data's path: the
    file, or for a zip the image folder it unpacked to. Check `name` first
    (`zoo.registry.check_name`): it becomes a folder name.

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> path = save_upload(root, "mlp-t", "My table.csv", b"a,b\\n1,2\\n")
        >>> path.name, path.read_text(), path.parent.parent == uploads_dir(root, "mlp-t")
        ('my-table.csv', 'a,b\\n1,2\\n', True)
    """
    from zoo.registry import check_name

    check_name(name)
    kind = upload_kind(filename)
    parent = uploads_dir(root, name)
    upload_id = uuid.uuid4().hex[:12]
    partial = parent / f"{PARTIAL}{upload_id}"
    final = parent / upload_id
    try:
        partial.mkdir(parents=True)
        if kind == "images":
            inner = _unzip(raw, partial).relative_to(partial)
        else:
            suffix = Path(filename).suffix.lower()
            inner = Path(suggested_name(filename, "x").removeprefix("x-") + suffix)
            with open(partial / inner, "wb") as out:
                out.write(raw)
                out.flush()
                os.fsync(out.fileno())
        os.rename(partial, final)
    except (OSError, zipfile.BadZipFile) as err:
        shutil.rmtree(partial, ignore_errors=True)
        _remove_empty(parent)
        raise DataError(f"the upload could not be saved into the store {root}: {err}") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        _remove_empty(parent)
        raise
    return final / inner


def _remove_empty(parent: Path) -> None:
    for folder in (parent, parent.parent):
        try:
            folder.rmdir()  # only when empty
        except OSError:
            return


def _upload_folder(path: Path, parent: Path) -> Path:
    while path.parent != parent:
        path = path.parent
    return path


def create_entry(
    root: str | Path,
    name: str,
    filename: str,
    raw: bytes,
    *,
    family: str,
    replace: bool = False,
    **options: Any,
) -> Any:
    """Save an upload into the store and add it as entry `name` (`zoo.add_entry`, with
    `options`: target, column, size, color, task, categorical, drop, training options);
    returns the entry's spec. Any problem is one `ZooError` line and nothing stays written:
    the saved upload is removed again. With `replace`, the entry's older uploads go once
    the new one is in.

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> create_entry(root, "mlp-bad", "t.csv", b"a,y\\n1,0\\n2,0\\n3,0\\n", family="mlp",
        ...              target="y")
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: target column 'y' of t.csv has one class only ('0'); ...
        >>> os.listdir(root)
        []
    """
    import zoo
    from zoo import registry
    from zoo.entries import entry_path

    registry.check_name(name)
    current = registry._REGISTRY.get(name)
    if current is not None and not current.custom:
        raise ConfigError(f"{name!r} is a built-in zoo entry; pick another name for your entry")
    if entry_path(root, name).exists() and not replace:
        raise ConfigError(
            f"entry {name!r} already exists in the store; tick 'Replace' to overwrite it, or "
            "pick another name"
        )
    kind = upload_kind(filename)
    path = save_upload(root, name, filename, raw)
    parent = uploads_dir(root, name)
    mine = _upload_folder(path, parent)
    source = {"csv": "csv", "images": "images", "npz": "npz"}[kind]
    if kind == "csv" and options.get("column"):
        source = "series"
    try:
        spec = zoo.add_entry(
            name, family=family, store=root, replace=replace, **{source: path}, **options
        )
    except (ConfigError, DataError) as err:
        shutil.rmtree(mine, ignore_errors=True)
        _remove_empty(parent)
        # Name the file the user uploaded, not where the store keeps it.
        message = str(err).replace(str(path), Path(filename).name)
        raise type(err)(message.replace(str(mine), Path(filename).name)) from None
    except BaseException:
        shutil.rmtree(mine, ignore_errors=True)
        _remove_empty(parent)
        raise
    for old in parent.iterdir():
        if old != mine and not old.name.startswith(PARTIAL):
            shutil.rmtree(old, ignore_errors=True)
    return spec


class UploadLimitError(ZooError):
    """A visitor uploaded more files than the server's upload rate allows."""


def admit(visitor: str, rate: limits.Rate, limiter: limits.RateLimiter | None = None) -> None:
    """Count one new upload of `visitor` against `rate` (the server's `limits.upload_limiter`
    unless `limiter` is given); over the rate, an `UploadLimitError` saying when to try
    again, and nothing is counted.

    Example:
        >>> limiter = limits.RateLimiter(limits.Rate(1, 600))
        >>> admit("ann@lab.org", limiter.rate, limiter)
        >>> admit("ann@lab.org", limiter.rate, limiter)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        dashboard.uploads.UploadLimitError: upload limit reached: at most 1 upload per 10 min ...
        >>> admit("bob@lab.org", limiter.rate, limiter)  # another visitor is unaffected
    """
    limiter = limits.upload_limiter(rate) if limiter is None else limiter
    wait = limiter.take(visitor)
    if wait:
        raise UploadLimitError(limits.rate_text(limiter.rate, wait))
