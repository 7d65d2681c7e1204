"""Byte relays between TCP and Unix sockets, on an asyncio loop.

A lab runs in its own network namespace with only a loopback, so neither the proxy nor the hub can reach it
over TCP, nor it them. Two Unix sockets in a folder shared with the sandbox carry the only traffic there is:

    proxy → 127.0.0.1:P (hub side) → lab.sock → 127.0.0.1:P (inside) → the lab's server
    lab   → 127.0.0.1:H (inside)   → hub.sock → 127.0.0.1:H (hub side) → the hub's API

Relaying raw bytes keeps HTTP and websockets untouched, and nothing else gets through.
"""

from __future__ import annotations

import asyncio
import contextlib
import os


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()  # half-close: the other direction may still be answering
    except (ConnectionError, OSError):
        writer.close()


def _handler(connect):
    async def handle(reader, writer):
        try:
            up_reader, up_writer = await connect()
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                w.close()

    return handle


async def tcp_to_unix(port: int, path: str, host: str = "127.0.0.1") -> asyncio.AbstractServer:
    """Listen on host:port; carry each connection to the Unix socket `path`."""
    return await asyncio.start_server(_handler(lambda: asyncio.open_unix_connection(path)), host, port)


async def unix_to_tcp(path: str, port: int, host: str = "127.0.0.1", mode: int = 0o600) -> asyncio.AbstractServer:
    """Listen on the Unix socket `path` (replacing a stale one); carry each connection to host:port."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    server = await asyncio.start_unix_server(_handler(lambda: asyncio.open_connection(host, port)), path)
    os.chmod(path, mode)
    return server
