"""Writing files safely: the one writer every part of microgradx uses (drawings, pages, plots, model files).

A regular file is replaced *atomically*: the bytes go to a temporary file in the
same folder, are flushed to disk, and the temporary file is renamed over the
target, so a reader (or a crash, or ``kill -9``) sees the old file or the new
one, never half of one. What the target is decides how it is written:

==============================  =============================================================
target                          what happens
==============================  =============================================================
missing, or a regular file      written atomically; a new file gets the permissions a plain
                                ``open()`` would give (0666 minus the umask), an existing one
                                keeps its own (and its owner and group, where allowed)
a symbolic link                 followed: the file it points to is replaced atomically, the
                                link stays a link
a file with other hard links    replaced too: its other names keep the old content
a device or FIFO                written directly, never replaced (``/dev/null`` stays
                                ``/dev/null``; a FIFO waits for its reader)
an open descriptor's name       written directly (``-o /dev/stdout`` writes to standard output,
(``/dev/stdout``, ``/dev/fd/N``) whether that is a terminal, a pipe or a redirected file)
a socket                        refused by the system (it cannot be opened); never replaced
a folder, or a name ending in   refused with an error naming it
``/``
==============================  =============================================================

Errors name the target, never the temporary file, and the temporary file is
removed on every error path (``kill -9`` can leave one behind: it is named
``.<name>.<random>.tmp`` beside the target, and the target itself is whole).
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from pathlib import Path

__all__ = ["write_atomic", "check_writable"]

# Linux names a process's open descriptors /proc/<pid>/fd/<n>; /dev/stdout and /dev/fd/<n> link there.
_DESCRIPTOR_FOLDER = re.compile(r"/proc/(?:self|thread-self|\d+)(?:/task/\d+)?/fd")
_TEMP_NAME_BYTES = 100  # of the target's name kept in the temporary file's name (NAME_MAX is 255 bytes)


def write_atomic(path: str | os.PathLike[str], data: bytes | str, what: str = "") -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` as the table above says; returns ``path``.

    ``what`` names the kind of file in error messages (``"model file"``).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    given = Path(path)
    name, info = _target(path, what)
    if (info is not None and not stat.S_ISREG(info.st_mode)) or _names_a_descriptor(given):
        _write_in_place(name, given, raw)
    else:
        _replace(name, Path(os.path.realpath(given)), raw, info)
    return given


def check_writable(path: str | os.PathLike[str], what: str = "") -> None:
    """Raise the OSError :func:`write_atomic` would raise for ``path``'s place, before the work that makes the data.

    A folder, a missing folder, or a folder that takes no new file (read-only, ``/proc``)
    is refused with write_atomic's message; the check leaves nothing behind.
    """
    name, info = _target(path, what)
    if (info is not None and not stat.S_ISREG(info.st_mode)) or _names_a_descriptor(Path(path)):
        return  # a device or a descriptor is written in place: opening it may already be an action (a FIFO)
    fd, tmp = _create_beside(name, Path(os.path.realpath(path)))
    os.close(fd)
    _remove(tmp)


def _target(path: str | os.PathLike[str], what: str) -> tuple[str, os.stat_result | None]:
    """The name errors give ``path``, and what is there now (None: nothing); OSError for a folder."""
    name = f"{what} {os.fspath(path)}" if what else os.fspath(path)
    if os.fspath(path).endswith(("/", os.sep)):
        raise _error(IsADirectoryError(errno.EISDIR, "it names a folder; give a file name"), name)
    try:
        info: os.stat_result | None = os.stat(path)  # follows symbolic links
    except FileNotFoundError:
        info = None
    except OSError as e:
        raise _error(e, name) from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise _error(IsADirectoryError(errno.EISDIR, "it is a folder; give a file name"), name)
    return name, info


def _names_a_descriptor(path: Path) -> bool:
    """Whether ``path``, or a link it leads through, is an entry of a ``/proc/<pid>/fd`` folder."""
    current = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on links followed
        if _DESCRIPTOR_FOLDER.fullmatch(os.path.realpath(os.path.dirname(current))):
            return True
        if not os.path.islink(current):
            return False
        current = os.path.join(os.path.dirname(current), os.readlink(current))
    return False


def _write_in_place(name: str, target: Path, raw: bytes) -> None:
    """A device, FIFO or descriptor: write to it as it is; it is not ours to replace."""
    try:
        with open(target, "wb") as f:
            f.write(raw)
    except OSError as e:
        raise _error(e, name) from None


def _temp_path(target: Path) -> Path:
    """A fresh name beside ``target``: ``.<start of its name>.<random>.tmp``, short enough for any folder."""
    stem = os.fsdecode(os.fsencode(target.name)[:_TEMP_NAME_BYTES])
    return target.parent / f".{stem}.{secrets.token_hex(6)}.tmp"


def _replace(name: str, target: Path, raw: bytes, old: os.stat_result | None) -> None:
    """Temporary file beside ``target``, flushed, given the old file's mode, renamed over it; removed on error."""
    folder = target.parent
    fd, tmp = _create_beside(name, target)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        if old is not None:
            _keep_owner_and_mode(tmp, old)
        os.replace(tmp, target)
    except BaseException as e:  # also KeyboardInterrupt: never leave the temporary file behind
        _remove(tmp)
        if isinstance(e, OSError):
            raise _error(e, name) from None
        raise
    _sync_folder(folder)


def _create_beside(name: str, target: Path) -> tuple[int, Path]:
    """A new temporary file beside ``target``, open for writing; OSError naming the target and what to do."""
    folder = target.parent
    tmp = _temp_path(target)
    try:
        # 0o666 and the process umask: the permissions a plain open() would give a new file.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as e:
        hint = ""
        if isinstance(e, FileNotFoundError) and not folder.is_dir():
            hint = f"does the folder {folder} exist? create it first"
        elif isinstance(e, FileNotFoundError):  # the folder is there but takes no new file (/proc, /sys)
            hint = f"the folder {folder} does not take new files; write somewhere else"
        elif isinstance(e, PermissionError) or e.errno == errno.EROFS:
            hint = f"a file is replaced by way of a new file beside it, so the folder {folder} must be writable"
        raise _error(e, name, hint) from None
    return fd, tmp


def _keep_owner_and_mode(tmp: Path, old: os.stat_result) -> None:
    """Give the new file the old one's permissions, and its owner and group when we may (as root, say)."""
    if hasattr(os, "chown") and (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
        try:
            os.chown(tmp, old.st_uid, old.st_gid)
        except OSError:
            pass  # not allowed: the file becomes ours, as with any editor that saves by renaming
    os.chmod(tmp, stat.S_IMODE(old.st_mode))


def _remove(tmp: Path) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def _sync_folder(folder: Path) -> None:
    """Flush the rename itself to disk (best effort: not every system can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _error(e: OSError, name: str, hint: str = "") -> OSError:
    """``e``'s kind and errno, with a message naming the target (never the temporary file)."""
    reason = e.strerror or errno.errorcode.get(e.errno or 0, type(e).__name__)
    err = type(e)(f"cannot write {name}: {reason}" + (f" ({hint})" if hint else ""))
    err.errno = e.errno
    return err
