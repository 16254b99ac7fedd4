"""Specification of microgradx.files.write_atomic: the one writer for drawings, pages, plots and model files."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from microgradx.files import write_atomic

ROOT = Path(__file__).resolve().parents[2]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file types")


def python(code: str, **kwargs) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports this checkout of microgradx."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, timeout=120, **kwargs)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# ---------------------------------------------------------------- regular files


def test_writes_text_as_utf8_and_bytes_as_they_are_and_returns_the_path(tmp_path):
    text, blob = tmp_path / "t.txt", tmp_path / "b.bin"
    assert write_atomic(text, "∂L/∂w = 0.5\n") == text
    assert write_atomic(str(blob), b"\x00\xff") == blob
    assert text.read_bytes() == "∂L/∂w = 0.5\n".encode()
    assert blob.read_bytes() == b"\x00\xff"
    assert leftovers(tmp_path) == []


@posix_only
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_mode_a_plain_open_gives(tmp_path, umask):
    old = os.umask(umask)
    try:
        with open(tmp_path / "plain", "w"):
            pass
        write_atomic(tmp_path / "ours", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "ours").stat().st_mode) == stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    assert stat.S_IMODE((tmp_path / "ours").stat().st_mode) == 0o666 & ~umask


@posix_only
@pytest.mark.parametrize("mode", [0o600, 0o755, 0o640])
def test_an_existing_file_keeps_its_mode(tmp_path, mode):
    path = tmp_path / "f"
    path.write_text("old")
    path.chmod(mode)
    write_atomic(path, "new")
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == mode


@pytest.mark.skipif(not IS_ROOT, reason="only root may give a file to another user")
def test_an_existing_file_keeps_its_owner_when_root_writes_it(tmp_path):
    path = tmp_path / "f"
    path.write_text("old")
    os.chown(path, 12345, 23456)
    write_atomic(path, "new")
    assert (path.stat().st_uid, path.stat().st_gid) == (12345, 23456)


def test_a_name_as_long_as_the_system_allows_is_written(tmp_path):
    path = tmp_path / ("é" * 127)  # 254 bytes: the temporary file's name must not be longer than 255
    write_atomic(path, "x")
    assert path.read_text() == "x"
    assert leftovers(tmp_path) == []


def test_a_folder_is_refused_by_name(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError, match=r"cannot write .*d: it is a folder"):
        write_atomic(tmp_path / "d", "x")
    with pytest.raises(IsADirectoryError, match="names a folder"):
        write_atomic(f"{tmp_path}/new/", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_a_missing_folder_is_named_and_the_temporary_file_is_not(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        write_atomic(tmp_path / "no" / "f.svg", "x")
    assert f"cannot write {tmp_path / 'no' / 'f.svg'}" in str(e.value)
    assert f"does the folder {tmp_path / 'no'} exist? create it first" in str(e.value)
    assert ".tmp" not in str(e.value)


# ---------------------------------------------------------------- links, devices, FIFOs, sockets


@posix_only
def test_a_symlink_is_followed_its_target_replaced_and_the_link_stays(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "graph.svg"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "link.svg"
    link.symlink_to(Path("real") / "graph.svg")  # relative, as `ln -s` makes them
    chain = tmp_path / "chain.svg"
    chain.symlink_to(link)
    write_atomic(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(Path("real") / "graph.svg")
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o640
    write_atomic(chain, "newer")
    assert chain.is_symlink() and link.is_symlink() and target.read_text() == "newer"
    assert leftovers(tmp_path) == [] and leftovers(tmp_path / "real") == []


@posix_only
def test_a_dangling_symlink_creates_the_file_it_points_to(tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "made")
    write_atomic(link, "x")
    assert link.is_symlink() and (tmp_path / "made").read_text() == "x"


@posix_only
def test_a_fifo_is_written_to_its_reader_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_atomic(fifo, b"through the pipe" * 10_000)  # more than a pipe's buffer
    reader.join(timeout=60)
    assert received == [b"through the pipe" * 10_000]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_dev_null_stays_a_device_even_for_root():
    # Run as root (as in this container) the old writer replaced the system's /dev/null with a regular file.
    before = os.stat("/dev/null")
    write_atomic("/dev/null", "discarded")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino
    assert not [n for n in os.listdir("/dev") if n.startswith(".null.")]


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_a_link_to_a_device_writes_to_the_device_and_stays_a_link(tmp_path):
    link = tmp_path / "out.svg"
    link.symlink_to("/dev/null")
    write_atomic(link, "discarded")
    assert link.is_symlink() and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.svg"]


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="needs /dev/stdout")
def test_dev_stdout_writes_to_a_pipe_and_to_a_redirected_file(tmp_path):
    code = "from microgradx.files import write_atomic; write_atomic('/dev/stdout', 'to standard output')"
    piped = python(code, capture_output=True, text=True)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == "to standard output"
    with open(tmp_path / "out.txt", "w") as out:
        redirected = python(code, stdout=out, stderr=subprocess.PIPE, text=True)
    assert redirected.returncode == 0, redirected.stderr
    assert (tmp_path / "out.txt").read_text() == "to standard output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs Unix sockets")
def test_a_socket_is_refused_and_left_in_place(tmp_path):
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(OSError, match=f"cannot write {path}"):
            write_atomic(path, "x")
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------- failures: the old file survives whole


def test_a_write_that_fails_for_lack_of_space_leaves_the_old_file_and_no_temporary_file(tmp_path):
    path = tmp_path / "model.json"
    path.write_text("the old model")
    # A file-size limit makes the system refuse the write itself (EFBIG), as a full disk would (ENOSPC).
    result = python(f"""
        import resource, signal
        from microgradx.files import write_atomic
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
        try:
            write_atomic({str(path)!r}, "x" * 100_000, what="model file")
        except OSError as e:
            print(type(e).__name__, e)
        """, capture_output=True, text=True)
    assert result.stdout.startswith(f"OSError cannot write model file {path}: File too large"), result
    assert ".tmp" not in result.stdout
    assert path.read_text() == "the old model"
    assert leftovers(tmp_path) == []


@posix_only
def test_an_unwritable_folder_is_named_and_the_old_file_survives(tmp_path):
    # A folder anyone may enter (pytest's own are private to root), writable only by its owner.
    folder = Path(tempfile.mkdtemp(prefix="microgradx-locked-"))
    path = folder / "graph.svg"
    try:
        path.write_text("old")
        path.chmod(0o666)  # the file could be opened for writing, but it cannot be replaced safely
        folder.chmod(0o555 if not IS_ROOT else 0o755)
        if IS_ROOT:
            os.seteuid(65534)  # root may write anywhere: try as the unprivileged user "nobody"
        try:
            with pytest.raises(PermissionError) as e:
                write_atomic(path, "new")
        finally:
            if IS_ROOT:
                os.seteuid(0)
        assert str(e.value).startswith(f"cannot write {path}: Permission denied")
        assert f"the folder {folder} must be writable" in str(e.value) and ".tmp" not in str(e.value)
        assert path.read_text() == "old" and leftovers(folder) == []
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def test_ctrl_c_during_the_write_removes_the_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_text("old")

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, "new")
    assert path.read_text() == "old" and leftovers(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_a_process_killed_mid_write_leaves_the_old_or_the_new_file_whole(tmp_path):
    path = tmp_path / "model.json"
    size = 4_000_000
    whole = (b"a" * size, b"b" * size)
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        from microgradx.files import write_atomic
        n = 0
        while True:
            write_atomic({str(path)!r}, "ab"[n % 2] * {size})
            n += 1
        """)], env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        for _ in range(600_000):  # until the target exists and the next write is under way (a temporary file)
            if path.exists() and leftovers(tmp_path):
                break
            time.sleep(0.0001)
        else:
            pytest.fail("the writer never started a second write")
        assert path.read_bytes() in whole  # a reader during the write sees a whole file
        writer.kill()
        writer.wait(timeout=60)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == -9
    assert path.read_bytes() in whole
    assert len(leftovers(tmp_path)) <= 1  # SIGKILL gives no chance to clean up; the target is whole
