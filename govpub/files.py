"""Atomic file output: readers see the old file or the new one, never half of one."""

import contextlib
import ctypes
import errno
import os
import shutil
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from pathlib import Path

_READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


def holds(path: str, data: bytes) -> bool:
    """Whether the file at ``path`` holds exactly ``data`` (False if there is none).

    Reads nothing when the sizes differ: one ``open``, one ``fstat``, one ``close``.
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        return False
    try:
        size = os.fstat(fd).st_size
        if size != len(data):
            return False
        chunks = []
        while size > 0:
            chunk = os.read(fd, size)
            if not chunk:
                return False
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks) == data
    finally:
        os.close(fd)


FILE_MODE = 0o644
"""Every file written is readable by the web server, whatever the umask."""


def umask_hides_mode() -> bool:
    """Whether the process's umask takes bits of :data:`FILE_MODE` away (so that each new
    file needs a ``chmod``); True when the umask cannot be read without changing it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8) & FILE_MODE != 0
    except (OSError, ValueError, IndexError):
        pass
    return True


def _create(path: str, data: bytes, *, durable: bool, chmod: bool = True) -> None:
    """A new file at ``path``; one already there is unlinked first, never written
    through (it may be a hard link to a file that must not change, or a temporary file
    a crashed writer left). ``chmod=False``: the umask is known to leave
    :data:`FILE_MODE` whole (one system call fewer per file)."""
    try:
        fd = os.open(path, _CREATE_FLAGS, FILE_MODE)
    except FileExistsError:
        os.unlink(path)
        fd = os.open(path, _CREATE_FLAGS, FILE_MODE)
    try:
        if chmod:
            os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


def _replace(path: str, data: bytes, *, durable: bool, chmod: bool = True) -> None:
    # The temporary name is unique to this thread of this process, so no other writer can
    # touch it (and a leftover from a crashed process is simply overwritten); cheaper
    # than mkstemp's random names on a site of many small files.
    directory, _, name = path.rpartition("/")
    tmp = f"{directory}/.{name}.{os.getpid()}-{threading.get_ident()}.tmp"
    try:
        _create(tmp, data, durable=durable, chmod=chmod)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> bool:
    """Replace ``path`` with ``data`` atomically; returns False if it already held ``data``.

    With ``durable=False`` the data is not forced to disk here: a channel writing many
    files in one flush calls :func:`sync_filesystem` once afterwards instead (one sync
    rather than one per file), before it records the delivery.
    """
    target = str(path)
    if holds(target, data):
        return False
    try:
        _replace(target, data, durable=durable)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace(target, data, durable=durable)
    return True


class FileTree:
    """Writes the files of one output tree; a file that already holds its bytes is left
    alone (its modification time, and so every cache of it, stays valid).

    A live tree (the default) is read while it is written: each file is replaced
    atomically (a temporary file, then a rename), so a reader sees the old file or the
    new one. A ``fresh`` tree is a new build that nobody reads until it is moved into
    place (see :func:`replace_path`): its files are created where they belong.

    With ``threads``, files are written by that many threads while the caller goes on
    (rendering the next page): creating a file waits on the file system's journal far
    longer than it uses the CPU. :meth:`wait` returns when everything handed over is
    written, and raises the first error. With ``record``, :attr:`paths` holds every path
    written or found unchanged (a replay removes the files it does not hold).

    Paths are relative to ``root``, with ``/`` between parts. Nothing is forced to disk:
    call :func:`sync_filesystem` once when the tree (or a batch of it) is written.
    """

    def __init__(
        self, root: Path, *, fresh: bool = False, threads: int = 0, record: bool = False
    ) -> None:
        self.root = root
        self.fresh = fresh
        self._root = str(root)
        self._directories: set[str] = set()
        self._lock = threading.Lock()
        self._threads = threads
        # Started at the first file to write, not before: a process that has only read so
        # far is still single-threaded (and may fork).
        self._pool: ThreadPoolExecutor | None = None
        # At most this many files handed over and not yet written (bounds the memory).
        self._slots = threading.BoundedSemaphore(max(1, threads) * 16)
        self._in_flight: set[Future[None]] = set()
        self._error: BaseException | None = None
        self.paths: set[str] | None = set() if record else None
        # Read once: a tree's files are written under the umask it was made under.
        self._chmod = umask_hides_mode()
        self.written = 0
        self.unchanged = 0

    def write(self, path: str, data: bytes) -> None:
        """Put ``data`` at ``path`` (now, or soon with ``threads``: see :meth:`wait`)."""
        directory = path.rpartition("/")[0]
        if directory not in self._directories:
            os.makedirs(f"{self._root}/{directory}", exist_ok=True)
            self._directories.add(directory)
        if self.paths is not None:
            self.paths.add(path)
        target = f"{self._root}/{path}"
        # Comparing is a read from the page cache: cheaper here than handing it over.
        if not self.fresh and holds(target, data):
            with self._lock:
                self.unchanged += 1
            return
        if self._threads <= 0:
            self._put(target, data)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="file-tree")
        self._raise_error()
        self._slots.acquire()
        future = self._pool.submit(self._put, target, data)
        with self._lock:
            self._in_flight.add(future)
        future.add_done_callback(self._finished)

    def _put(self, target: str, data: bytes) -> None:
        if self.fresh:
            _create(target, data, durable=False, chmod=self._chmod)
        else:
            _replace(target, data, durable=False, chmod=self._chmod)
        with self._lock:
            self.written += 1

    def _finished(self, future: Future[None]) -> None:
        with self._lock:
            self._in_flight.discard(future)
            error = future.exception()
            if error is not None and self._error is None:
                self._error = error
        self._slots.release()

    def _raise_error(self) -> None:
        with self._lock:
            error, self._error = self._error, None
        if error is not None:
            raise error

    def wait(self) -> None:
        """Return when every file handed over is written; raise the first error."""
        with self._lock:
            pending = list(self._in_flight)
        futures_wait(pending)
        self._raise_error()

    def remove(self, path: str) -> None:
        """Remove ``path`` if it exists (after every write handed over before)."""
        self.wait()
        if self.paths is not None:
            self.paths.discard(path)
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            os.unlink(f"{self._root}/{path}")

    def close(self) -> None:
        """Wait for the writes in flight, then stop the threads."""
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None


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
