"""Executing notebooks headless with nbclient, without its occasional stall.

Used by ``tools/site/build.py`` (the reading copy: runs hidden cells before and after the
notebook, e.g. to record every panel's frames) and ``benchmarks/run.py`` (panel timings).
"""
from __future__ import annotations

import os
import queue
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence

import nbformat
from nbclient import NotebookClient
from nbclient.util import ensure_async


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
    """nbclient with the kernel's shell and IOPub channels polled in short steps (see _short_polls).

    The kernel talks to it over local IPC sockets, not TCP: nothing listens on a port, and
    ipykernel (7+) does not warn "Kernel is running over TCP without encryption" once per kernel.
    """

    _ipc_dir: str | None = None

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        if os.name == "posix":  # ZeroMQ has no IPC transport on Windows: TCP there
            self._ipc_dir = tempfile.mkdtemp(prefix="r1-kernel-")
            km.transport = "ipc"
            km.ip = os.path.join(self._ipc_dir, "k")
        return km

    async def _async_cleanup_kernel(self) -> None:
        try:
            await super()._async_cleanup_kernel()
        finally:
            if self._ipc_dir is not None:
                shutil.rmtree(self._ipc_dir, ignore_errors=True)
                self._ipc_dir = None

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        _short_polls(kc.shell_channel)
        _short_polls(kc.iopub_channel)
        return kc

    async def _async_hidden_cell(self, code: str, timeout: int | None) -> list:
        """Run ``code`` in the kernel as a cell that is not part of the notebook: no history, no
        execution count, outputs returned (an exception raises CellExecutionError)."""
        cell = nbformat.v4.new_code_cell(code)
        self.nb.cells.append(cell)
        executed, limit = self.code_cells_executed, self.timeout
        if timeout is not None:
            self.timeout = timeout
        try:
            await self.async_execute_cell(cell, len(self.nb.cells) - 1, store_history=False)
        finally:
            self.nb.cells.pop()
            self.code_cells_executed, self.timeout = executed, limit
        return cell.outputs

    async def async_execute_with(self, prelude: Sequence[str] = (),
                                 epilogue: Callable[[nbformat.NotebookNode], Sequence[str]] | None = None,
                                 epilogue_timeout: int | None = None) -> list:
        """Like ``execute()``, with hidden cells around the notebook, in the same kernel.

        ``prelude``: code run before the first cell. ``epilogue(nb)``: called once every cell has
        run (and the widget state is stored), with the executed notebook; returns code to run
        after it, each with ``epilogue_timeout`` seconds (default: the per-cell limit). Returns
        the epilogue cells' outputs, one list per cell.
        """
        self.reset_execution_trackers()
        async with self.async_setup_kernel():
            assert self.kc is not None
            msg_id = await ensure_async(self.kc.kernel_info())
            info = await self.async_wait_for_reply(msg_id)
            if info is not None and "language_info" in info["content"]:
                self.nb.metadata["language_info"] = info["content"]["language_info"]
            for code in prelude:
                await self._async_hidden_cell(code, None)
            for index, cell in enumerate(self.nb.cells):
                await self.async_execute_cell(cell, index, execution_count=self.code_cells_executed + 1)
            self.set_widgets_metadata()
            outputs = []
            for code in (epilogue(self.nb) if epilogue is not None else ()):
                outputs.append(await self._async_hidden_cell(code, epilogue_timeout))
        return outputs

    def execute_with(self, prelude: Sequence[str] = (), epilogue=None, epilogue_timeout=None) -> list:
        """Synchronous :meth:`async_execute_with`."""
        from nbclient.util import run_sync

        return run_sync(self.async_execute_with)(prelude, epilogue, epilogue_timeout)
