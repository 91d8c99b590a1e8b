"""Read a large report in a process of its own while the import writes what it has read.

Reading a portal XLSX into rows costs as much as all the import's writing besides, and
both are Python, so in one process the one waits for the other. A child process forked
for the pass reads the rows and hands them over in batches through a pipe; the import
takes each batch as it needs it, and the second core reads ahead. The pipe holds a batch
or two, so the reader waits when it is ahead and neither process holds the report.

The child is forked: it shares the parent's code and the stored file with no start-up
cost, and it touches nothing but the file (no database, no broker). What it raises, the
import raises. A small report is read in the import's own process: a fork costs more
than reading it.
"""

import os
import pickle
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection

from claims.reports.netting import batches
from claims.reports.read import Report
from claims.reports.rows import ReportRow

# Rows from which a report is read in a process of its own.
AHEAD_FROM = 20_000
# What a batch of the child's ends with: the rows are over, or it raised this.
_END, _RAISED = b"", b"raised"


@contextmanager
def rows_read_ahead(report: Report, *, rows: int, size: int) -> Iterator[Iterator[list[ReportRow]]]:
    """Yield the report's rows in batches of `size`, read by a child process when the
    report has (`rows`) AHEAD_FROM rows or more; the child goes when the block ends, the
    rows read or not."""
    if rows < AHEAD_FROM or not hasattr(os, "fork"):
        yield batches(report.rows(), size)
        return
    readable, writable = os.pipe()
    # os.fork, not multiprocessing: a Celery prefork worker's pool process is daemonic,
    # and multiprocessing lets no daemonic process have children.
    reader = os.fork()
    if reader == 0:
        os.close(readable)
        _child(report, size, Connection(writable, readable=False))
    os.close(writable)
    received = Connection(readable, writable=False)
    try:
        yield _received(received)
    finally:
        # The child holds nothing that needs a goodbye: no connection, no file it wrote.
        os.kill(reader, signal.SIGKILL)
        os.waitpid(reader, 0)
        received.close()


def _child(report: Report, size: int, sent: Connection) -> None:
    code = 1
    try:
        # A worker's handlers (Celery's warm shutdown) are not the reader's.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _read(report, size, sent)
        code = 0
    finally:
        # Never back into the parent's code: its stack (a request, a task) is the parent's.
        os._exit(code)


def _read(report: Report, size: int, sent: Connection) -> None:
    # Forked, the child is in the import's language: an error row's message reads the same.
    try:
        for batch in batches(report.rows(), size):
            sent.send_bytes(pickle.dumps(batch, pickle.HIGHEST_PROTOCOL))
    except Exception as error:
        # The import raises what the reader raised, as if it had read the rows itself.
        try:
            raised = pickle.dumps(error, pickle.HIGHEST_PROTOCOL)
        except Exception:
            raised = pickle.dumps(RuntimeError(f"{type(error).__name__}: {error}"))
        sent.send_bytes(_RAISED)
        sent.send_bytes(raised)
    else:
        sent.send_bytes(_END)
    sent.close()


def _received(received: Connection) -> Iterator[list[ReportRow]]:
    while True:
        try:
            message = received.recv_bytes()
        except EOFError:
            raise RuntimeError("The report's reader stopped before the rows ended.") from None
        if message == _END:
            return
        if message == _RAISED:
            # Our own pickles, from the child this pass forked.
            raise pickle.loads(received.recv_bytes())
        yield pickle.loads(message)
