"""A throwaway PostgreSQL server for integration tests (Debian's ``postgresql`` package).

``initdb`` refuses to run as root, so when the tests run as root the server runs as the
``postgres`` system user (``runuser -u postgres``) in a temporary directory it owns. It listens on
127.0.0.1 only, on a free port, with trust authentication for local connections (nothing else
can reach it), and is stopped (``pg_ctl stop -m immediate``) and deleted afterwards.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

APT_PACKAGES = "postgresql"


def bindir() -> Path | None:
    """The newest /usr/lib/postgresql/N/bin holding initdb and pg_ctl."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def missing_reason() -> str | None:
    if bindir() is None:
        return f"PostgreSQL server binaries not found (apt install {APT_PACKAGES})"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'psycopg[binary]')"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root needs the 'postgres' system user (apt install postgresql)"
        if shutil.which("runuser") is None:
            return "running as root needs runuser (util-linux)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    folder: Path
    port: int
    user: str
    _as_user: list[str]
    options: str = ""  # pg_ctl -o, for resume()

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def database(self, name: str) -> str:
        """Create a fresh database; returns its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"

    def pause(self) -> None:
        """Stop the server as a restart or crash would (``-m fast``: clients are cut off), keeping
        its data: what a station sees when PostgreSQL restarts under it."""
        tool = bindir()
        assert tool is not None
        subprocess.run(
            [*self._as_user, str(tool / "pg_ctl"), "stop", "-D", str(self.folder / "data"),
             "-m", "fast", "-w"],
            capture_output=True, timeout=60, check=True,
        )  # fmt: skip

    def resume(self, timeout: float = 60.0) -> None:
        """Start the paused server again, on the same port and data."""
        tool = bindir()
        assert tool is not None
        subprocess.run(
            [*self._as_user, str(tool / "pg_ctl"), "start", "-D", str(self.folder / "data"),
             "-l", str(self.folder / "server.log"), "-o", self.options, "-w",
             "-t", str(int(timeout))],
            capture_output=True, timeout=timeout + 10, check=True,
        )  # fmt: skip

    def stop(self) -> None:
        tool = bindir()
        if tool is not None and (self.folder / "data" / "postmaster.pid").exists():
            subprocess.run(
                [*self._as_user, str(tool / "pg_ctl"), "stop", "-D", str(self.folder / "data"),
                 "-m", "immediate", "-w"],
                capture_output=True, timeout=60, check=False,
            )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)


def start(timeout: float = 60.0) -> PostgresServer:
    tool = bindir()
    assert tool is not None
    folder = Path(tempfile.mkdtemp(prefix="cardkit-pg-"))
    as_user: list[str] = []
    user = pwd.getpwuid(os.geteuid()).pw_name
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        as_user, user = ["runuser", "-u", "postgres", "--"], "postgres"
    folder.chmod(0o700)
    data, log = folder / "data", folder / "server.log"
    port = free_port()

    def run(*args: str) -> None:
        result = subprocess.run(
            [*as_user, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed:\n{result.stdout}{result.stderr}")

    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=on"
    try:
        run(str(tool / "initdb"), "-D", str(data), "-A", "trust", "-U", user, "-E", "UTF8",
            "--no-sync")  # fmt: skip
        run(str(tool / "pg_ctl"), "start", "-D", str(data), "-l", str(log), "-o", options, "-w",
            "-t", str(int(timeout)))  # fmt: skip
    except BaseException:
        server = PostgresServer(folder, port, user, as_user, options)
        server.stop()
        raise
    server = PostgresServer(folder, port, user, as_user, options)
    deadline = time.monotonic() + timeout
    import psycopg

    while True:
        try:
            with psycopg.connect(server.url, connect_timeout=2):
                return server
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                server.stop()
                raise
            time.sleep(0.1)
