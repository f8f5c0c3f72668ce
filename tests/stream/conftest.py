"""Loopback receivers for the stream tests: real UDP sockets bound on 127.0.0.1 with an OS-chosen port."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def udp_receiver():
    """A UDP socket on 127.0.0.1 (free port from the OS), 5 s receive timeout."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5.0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    try:
        yield s
    finally:
        s.close()
