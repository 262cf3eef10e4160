"""Ctrl-C while Z3 works. Left alone, Z3's own handler cancels the running query and eats
the signal, so a run goes on with its next question; and Python's KeyboardInterrupt,
raised inside Z3's callbacks, is lost there. Inside `ctrl_c_stops_z3()` a Ctrl-C is
recorded, every Z3 query from then on is cancelled at once (the engines report UNKNOWN,
saying how far they got), and the checkpoint the block is given raises the
KeyboardInterrupt that callers already turn into "interrupted, here is what was covered".
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType

import z3

CANCEL_EVERY = 0.01  # seconds between cancels once Ctrl-C was pressed: a new query stops as fast


_PRESSED = threading.Event()
"""Set from the first Ctrl-C inside `ctrl_c_stops_z3()` until the block ends."""


def requested() -> bool:
    """Whether Ctrl-C was pressed inside the running block: from then on Z3 is being
    cancelled, so an answer read back now (a model, an invariant) may be cut short and is
    not to be trusted."""
    return _PRESSED.is_set()


def _nothing() -> None:
    """The checkpoint outside the main thread, where signals cannot be caught."""


@contextmanager
def ctrl_c_stops_z3() -> Iterator[Callable[[], None]]:
    """Run the block with Ctrl-C cancelling Z3; yields the checkpoint to call between
    questions, which raises KeyboardInterrupt once Ctrl-C was pressed."""
    if threading.current_thread() is not threading.main_thread():
        yield _nothing
        return
    pressed = _PRESSED
    pressed.clear()
    done = threading.Event()
    reader, writer = socket.socketpair()
    writer.setblocking(False)

    def record(_signum: int, _frame: FrameType | None) -> None:
        pressed.set()

    def cancel() -> None:
        """Wake on the signal (Python writes its number to the wakeup socket even while
        the main thread is inside Z3), then cancel Z3 until the block ends."""
        while not done.is_set() and (data := reader.recv(64)):
            if signal.SIGINT in data:
                pressed.set()  # before any cancel, so `requested()` never misses one
                while not done.wait(CANCEL_EVERY):
                    # Z3_interrupt reports the main thread's last error (e.g. "push canceled") as its own
                    with suppress(z3.Z3Exception):
                        z3.main_ctx().interrupt()

    def checkpoint() -> None:
        if pressed.is_set():
            raise KeyboardInterrupt

    old_handler = signal.signal(signal.SIGINT, record)
    old_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    z3.set_param("ctrl_c", False)
    watcher = threading.Thread(target=cancel, daemon=True)
    watcher.start()
    try:
        yield checkpoint
    finally:
        z3.set_param("ctrl_c", True)
        signal.set_wakeup_fd(old_fd)
        signal.signal(signal.SIGINT, old_handler)
        done.set()
        writer.close()  # ends the watcher's recv
        watcher.join()
        reader.close()
        if pressed.is_set():
            _clear_cancel()
        pressed.clear()


def _clear_cancel() -> None:
    """Z3 keeps a cancel that came between queries until its next query starts: any push
    before then fails with "push canceled", in whatever runs next in this process. A
    trivial query takes it."""
    with suppress(z3.Z3Exception):
        z3.Solver().check()
