"""A throwaway PostgreSQL server on a free loopback port, for the sweep tests.

PostgreSQL refuses to run as root, so as root the cluster belongs to the
``postgres`` user that Debian's package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A running throwaway server: its URL, and a way to restart it."""

    def __init__(self, bindir: Path, root: Path, prefix: list[str], port: int) -> None:
        self.bindir, self.root, self.prefix, self.port = bindir, root, prefix, port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def url_with_password(self, password: str) -> str:
        """The URL with a password in it (trust authentication ignores it)."""
        return f"postgresql://postgres:{password}@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str, check: bool = True) -> None:
        subprocess.run(
            [*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), *args],
            check=check,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        self.pg_ctl(
            "-w",
            "-l",
            str(self.root / "log"),
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "-w", "stop", check=False)


@contextmanager
def throwaway_server() -> Iterator[Server]:
    """Start a server (database ``postgres``), yield it, stop and delete it."""
    bindir = postgres_bin()
    assert bindir is not None
    root = Path(tempfile.mkdtemp(prefix="cnnsweep-pg-"))
    os.chmod(root, 0o755)
    prefix: list[str] = []
    if os.getuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    server = Server(bindir, root, prefix, _free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
