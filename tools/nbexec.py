"""Executing notebooks headless with nbclient, without its occasional stall.

Used by ``tools/site/build.py`` (the reading copy) and ``benchmarks/run.py`` (panel timings).
"""
from __future__ import annotations

import queue
import time

from nbclient import NotebookClient


def _short_polls(channel, step: float = 0.25) -> None:
    """Make ``channel.get_msg`` wait in short polls instead of one long one.

    Why: on this kind of machine (pyzmq 27, jupyter_client 8, asyncio) nbclient now and then sits
    idle for a cell's whole time limit although the kernel has long replied, then carries on with
    every output. The message is in the socket; the asyncio poll missed the wake-up of ZeroMQ's
    edge-triggered descriptor, and only the final check at the end of the poll's timeout sees it.
    A poll that ends every ``step`` seconds makes that final check often, so a missed wake-up
    costs at most ``step`` seconds. Measured here: notebook 02 sat out its full limit in 3 of 27
    runs with nbclient as it is (the cell had finished, its outputs were all there), and in none
    of 20 runs with short polls.
    """
    long_poll = channel.get_msg

    async def get_msg(timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = step if deadline is None else min(step, max(0.0, deadline - time.monotonic()))
            try:
                return await long_poll(timeout=left)
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    channel.get_msg = get_msg


class ShortPollClient(NotebookClient):
    """nbclient with the kernel's shell and IOPub channels polled in short steps (see _short_polls)."""

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        _short_polls(kc.shell_channel)
        _short_polls(kc.iopub_channel)
        return kc
