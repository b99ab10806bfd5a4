"""Writing user files safely: temp file in the same directory, then an atomic rename."""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from doppel.errors import DoppelError

FinishHook = Callable[[Path], None]


def check_output_path(path: Path, inputs: Iterable[Path] = ()) -> Path:
    """Fail early, with what to do, when `path` cannot be written or would overwrite an input."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise DoppelError(f"output directory {parent} does not exist: create it first")
    if not parent.is_dir():
        raise DoppelError(f"cannot write {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DoppelError(f"output directory {parent} is not writable: choose another -o path")
    if path.is_dir():
        raise DoppelError(f"output {path} is a directory: give a file name")
    for source in inputs:
        if Path(source).exists() and path.exists() and os.path.samefile(source, path):
            raise DoppelError(f"output {path} is the input file: choose another output name")
        if Path(source).resolve() == path.resolve():
            raise DoppelError(f"output {path} is the input file: choose another output name")
    return path


def make_output_folder(folder: Path, name: str = "folder") -> Path:
    """Create `folder` (an -o folder; `name` says what it is for: "model folder") with its
    parents, or say in one line why it cannot be."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise DoppelError(f"{folder} is a file, not a {name}: choose another path for -o")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DoppelError(f"cannot create the {name} {folder} ({error.strerror}): choose a "
                          "writable location for -o") from None
    return folder


def describe_write_error(error: OSError, path: Path) -> DoppelError | None:
    """A one-line DoppelError for an OSError that means `path` cannot be written, else None."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return DoppelError(f"disk full while writing {path}: free some space and run again")
    if error.errno == errno.EFBIG:
        return DoppelError(f"{path} grew too large for its file system: write it elsewhere")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return DoppelError(f"permission denied writing {path}: choose a writable location")
    return None


@contextmanager
def atomic_path(
    path: Path,
    *,
    inputs: Iterable[Path] = (),
    on_finish: FinishHook | None = None,
    mode: int | None = None,
) -> Iterator[Path]:
    """Yield a temp path next to `path`; publish it as `path` only if the block succeeds.

    The temp name keeps the suffix so format detection by extension still works. `on_finish`
    runs on the complete temp file before the rename (provenance signing happens there). On any
    error or Ctrl-C the temp file is removed and `path` is left as it was. `mode` sets the
    file's permissions (default: what open() would give under the umask; 0o600 for secrets).
    """
    path = check_output_path(Path(path), inputs)
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".partial{path.suffix}", dir=path.parent or "."
    )
    os.close(handle)
    temp = Path(temp_name)
    try:
        yield temp
        if on_finish is not None:
            on_finish(temp)
        os.chmod(temp, 0o666 & ~_umask() if mode is None else mode)  # mkstemp makes 0600
        os.replace(temp, path)
    except OSError as error:
        friendly = describe_write_error(error, path)
        if friendly is None:
            raise
        raise friendly from error
    finally:
        temp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def hash_file(path: Path) -> str:
    """sha256 (hex) of a file's bytes: a name for its content (a faceset's for a source, a
    swap's for its model), wherever it moves."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
    except FileNotFoundError:
        raise DoppelError(f"no such file: {path}") from None
    except OSError as error:
        raise DoppelError(f"cannot read {path} ({error.strerror})") from None
    return digest.hexdigest()
