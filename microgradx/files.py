"""Writing files safely: the one writer every part of microgradx uses (drawings, pages, model files).

A regular file is replaced *atomically*: the bytes go to a temporary file in the
same folder, are flushed to disk, and the temporary file is renamed over the
target, so a reader (or a crash, or ``kill -9``) sees the old file or the new
one, never half of one. What the target is decides how it is written:

==============================  =============================================================
target                          what happens
==============================  =============================================================
missing, or a regular file      written atomically; a new file gets the permissions a plain
                                ``open()`` would give (0666 minus the umask), an existing one
                                keeps its own
a symbolic link                 followed: the file it points to is replaced atomically, the
                                link stays a link
a device, FIFO or socket        written directly, never replaced (``-o /dev/stdout`` works;
                                ``/dev/null`` stays ``/dev/null``)
a folder                        refused with an error naming it
==============================  =============================================================

Errors name the target, never the temporary file, and the temporary file is
removed on every error path.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

__all__ = ["write_atomic"]


def _resolve(path: Path) -> Path:
    """The file a path finally names: symbolic links followed (also dangling ones, to where they point)."""
    return Path(os.path.realpath(path))


def write_atomic(path: str | os.PathLike[str], data: bytes | str, what: str = "") -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` as the table above says; returns ``path``.

    ``what`` names the kind of file in error messages (``"model file"``).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    given = Path(path)
    name = f"{what} {given}" if what else str(given)
    target = _resolve(given)
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise _error(e, f"cannot write {name}: {e.strerror}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(f"cannot write {name}: it is a folder; give a file name")
    if mode is not None and not stat.S_ISREG(mode):
        _write_in_place(name, target, raw)
    else:
        _replace(name, target, raw, None if mode is None else stat.S_IMODE(mode))
    return given


def _write_in_place(name: str, target: Path, raw: bytes) -> None:
    """A device, FIFO or socket: write to it as it is; it is not ours to replace."""
    try:
        with open(target, "wb") as f:
            f.write(raw)
    except OSError as e:
        raise _error(e, f"cannot write {name}: {e.strerror}") from None


def _replace(name: str, target: Path, raw: bytes, keep_mode: int | None) -> None:
    """Temporary file beside ``target``, flushed, renamed over it; removed again on any error."""
    folder = target.parent
    tmp = folder / f".{target.name}.{secrets.token_hex(6)}.tmp"
    try:
        # 0o666 and the process umask: the permissions a plain open() would give a new file.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as e:
        raise _error(e, f"cannot write {name}: {e.strerror} "
                        f"(does the folder {folder} exist and is it writable?)") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        if keep_mode is not None:
            os.chmod(tmp, keep_mode)
        os.replace(tmp, target)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise _error(e, f"cannot write {name}: {e.strerror}") from None
        raise


def _error(e: OSError, message: str) -> OSError:
    """``e``'s kind and errno with a message naming the target (and not the temporary file)."""
    err = type(e)(message)
    err.errno = e.errno
    return err
