"""Build generated C into a shared library with the system C compiler, and load it.

Libraries are cached on disk under a name derived from a hash of the source, the
compiler and its flags, so a model is compiled once however many checks, processes or
sweeps use it; `DMABUF_MC_CACHE` overrides the directory (default
`$XDG_CACHE_HOME/dmabuf-mc`, else `~/.cache/dmabuf-mc`). Builds of one library are
serialised by a lock file beside it, and a library is written under a temporary name and
renamed into place, so concurrent workers compile it once and never load a partial file.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

FLAGS = ("-O2", "-shared", "-fPIC", "-std=gnu11", "-w")
CACHE_ENV = "DMABUF_MC_CACHE"
_loaded: dict[Path, ctypes.CDLL] = {}


class NativeUnavailable(Exception):
    """The native engine cannot run here: the message says why."""


def compiler_command() -> list[str] | None:
    """The command that runs the C compiler: $CC if set (split like a shell word list, so
    `ccache gcc` or `gcc -m32` work), else gcc, else cc; None if none is found."""
    if os.environ.get("CC"):
        try:
            words = shlex.split(os.environ["CC"])
        except ValueError:
            return None
        candidates = [words] if words else []
    else:
        candidates = [["gcc"], ["cc"]]
    for program, *args in candidates:
        path = shutil.which(program)
        if path:
            return [path, *args]
    return None


def compiler() -> str | None:
    """The C compiler command as one string (`compiler_command` joined); None if none is found."""
    command = compiler_command()
    return shlex.join(command) if command is not None else None


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dmabuf-mc"


def library_path(source: str, cc: str) -> Path:
    """Where the library built from `source` by `cc` is cached."""
    key = hashlib.sha256("\0".join([cc, *FLAGS, source]).encode()).hexdigest()[:24]
    return cache_dir() / f"model-{key}.so"


def build(source: str, symbols: Sequence[str] = ()) -> ctypes.CDLL:
    """The loaded library for `source`, compiled unless cached, with each of `symbols`
    present; NativeUnavailable if there is no compiler, it fails, or what it wrote does
    not load (a cached library that does not load is deleted, so the next run rebuilds it)."""
    command = compiler_command()
    if command is None:
        if os.environ.get("CC"):
            raise NativeUnavailable(f"no C compiler found: CC={os.environ['CC']!r} names no program")
        raise NativeUnavailable("no C compiler found (install gcc or set CC)")
    cc = shlex.join(command)
    path = library_path(source, cc)
    if path in _loaded:
        return _loaded[path]
    if not path.exists():
        _compile_once(command, source, path)
    try:
        lib = ctypes.CDLL(str(path))
        for name in symbols:
            getattr(lib, name)
    except (OSError, AttributeError) as e:
        with contextlib.suppress(OSError):
            path.unlink()
        raise NativeUnavailable(f"{cc} built a library that does not load ({e}); it was removed") from None
    _loaded[path] = lib
    return lib


def _compile_once(cc: list[str], source: str, path: Path) -> None:
    """Build `path` unless another process did while this one waited for the lock (the
    workers of a sweep often meet the same model at once)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.exists():
                _compile(cc, source, path)
    except OSError as e:
        raise NativeUnavailable(f"cannot build in the cache directory {path.parent}: {e}") from e


def _compile(cc: list[str], source: str, path: Path) -> None:
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".build-") as tmp:
        src, out = Path(tmp) / "model.c", Path(tmp) / path.name
        src.write_text(source)
        try:
            done = subprocess.run([*cc, *FLAGS, "-o", str(out), str(src)], capture_output=True, text=True)
        except OSError as e:
            raise NativeUnavailable(f"cannot run {shlex.join(cc)}: {e}") from e
        if done.returncode != 0:
            raise NativeUnavailable(f"{shlex.join(cc)} failed on the generated C: {done.stderr.strip()[:2000]}")
        if not out.exists():
            raise NativeUnavailable(f"{shlex.join(cc)} succeeded but wrote no library")
        os.replace(out, path)
