"""`serve --workers N`: N uvicorn servers, each accepting on a listening socket of its own.

uvicorn's supervisor gives every worker the same listening socket, and whichever worker
wakes first accepts. Clients that keep their connections (a load test's 64, a merchant
SDK's pool) arrive in a burst and stay where they landed: seen here 44 on one worker and
20 on the other, so one worker was saturated while the other idled. With one
`SO_REUSEPORT` socket per worker the kernel spreads new connections over the sockets by
a hash of their addresses. The sockets are bound here, before any worker starts, so a
port in use is one clear error; a worker that dies is started again on its socket, in
whose backlog new connections wait meanwhile.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
from multiprocessing.context import SpawnProcess
from types import FrameType

import uvicorn

from paymux.http_protocol import PROTOCOL

multiprocessing.allow_connection_pickling()  # a socket is handed to a spawned worker
_SPAWN = multiprocessing.get_context("spawn")
LOG = logging.getLogger("paymux.workers")
BACKLOG = 2048  # uvicorn's default


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` sockets listening on (host, port) together (`SO_REUSEPORT`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(BACKLOG)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def serve(app: str, *, host: str, port: int, workers: int, factory: bool = False) -> None:
    """Run `workers` processes serving `app` (an import string) until SIGINT or SIGTERM."""
    sockets = listening_sockets(host, port, workers)
    processes = [_start(app, factory, sock) for sock in sockets]
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    while not stop.wait(0.5):
        for index, process in enumerate(processes):
            if not process.is_alive():
                LOG.warning(
                    "worker %s exited with %s; starting another", process.pid, process.exitcode
                )
                processes[index] = _start(app, factory, sockets[index])
    for process in processes:
        process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
    for process in processes:
        process.join(30)
        if process.is_alive():
            process.kill()
            process.join()
    for sock in sockets:
        sock.close()


def _start(app: str, factory: bool, sock: socket.socket) -> SpawnProcess:
    process = _SPAWN.Process(target=_worker, args=(app, factory, sock), daemon=False)
    process.start()
    return process


def _worker(app: str, factory: bool, sock: socket.socket) -> None:
    config = uvicorn.Config(
        app, factory=factory, http=PROTOCOL, access_log=False, log_level="warning"
    )
    uvicorn.Server(config).run(sockets=[sock])
