"""Atomic file output: readers see the old file or the new one, never half of one."""

import ctypes
import errno
import os
import shutil
import threading
from pathlib import Path

_TMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> bool:
    """Replace ``path`` with ``data`` atomically; returns False if it already held ``data``.

    With ``durable=False`` the data is not forced to disk here: a channel writing many
    files in one flush calls :func:`sync_filesystem` once afterwards instead (one sync
    rather than one per file), before it records the delivery.
    """
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    # The temporary name is unique to this thread of this process, so no other writer can
    # touch it (and a leftover from a crashed process is simply overwritten); cheaper
    # than mkstemp's random names on a site of many small files.
    tmp = path.parent / f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp"
    try:
        fd = os.open(tmp, _TMP_FLAGS, 0o644)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, _TMP_FLAGS, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(fd, 0o644)  # readable by the web server whatever the umask
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


def sync_filesystem(path: Path) -> None:
    """Make every write, rename and removal on the file system of ``path`` durable
    (Linux ``syncfs``; elsewhere ``os.sync``)."""
    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), str(path))
    finally:
        os.close(fd)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths in one step (Linux ``renameat2``); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False  # kernel or file system without RENAME_EXCHANGE
    raise OSError(code, os.strerror(code), str(first))


def replace_path(source: Path, target: Path) -> None:
    """Put the file or directory ``source`` at ``target``, dropping what was there.

    Both must be on one file system. Where the kernel can exchange two paths, readers
    see the old tree or the new one, never a missing one; elsewhere ``target`` is
    missing for the moment between two renames. A missing ``source`` removes ``target``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if not source.exists():
        _discard(target)
        return
    if not target.exists() and not target.is_symlink():
        os.replace(source, target)
        return
    if _exchange(source, target):
        _discard(source)  # now holds the old content
        return
    if source.is_dir() or target.is_dir():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(source, target)
        _discard(old)
    else:
        os.replace(source, target)


def _discard(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
