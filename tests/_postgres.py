"""A real PostgreSQL server for the tests, from Debian's server binaries, on loopback."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER, PASSWORD = "sweep", "sweep-test-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """``initdb`` + ``pg_ctl start`` in a temp dir (as the ``postgres`` user when run as root)."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise RuntimeError(
                "PostgreSQL server binaries not found: install Debian's postgresql package "
                "(bash tools/setup.sh --test does)"
            )
        self.bin = Path(found[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="sweep-pg-"))
        self.port = free_port()
        self._as_root = os.geteuid() == 0
        self._env = {**os.environ, "PGPASSWORD": PASSWORD}

    def _run(self, *args: str) -> None:
        command = [*args]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True, env=self._env,
                       cwd=self.root)

    def start(self) -> None:
        os.chmod(self.root, 0o755)
        (self.root / "pw").write_text(PASSWORD + "\n")
        if self._as_root:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.root / "pw", "postgres")
        data = self.root / "data"
        self._run(str(self.bin / "initdb"), "-D", str(data), "-U", USER, "-A", "scram-sha-256",
                  f"--pwfile={self.root / 'pw'}", "-E", "UTF8")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                  str(self.root / "log"), "-w", "start")

    def create_database(self, name: str) -> str:
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                  USER, name)
        return self.url(name)

    @property
    def host(self) -> str:
        """What the README calls DBHOST."""
        return f"127.0.0.1:{self.port}"

    def url(self, database: str, password: str = PASSWORD) -> str:
        """The README's URL form: ``postgresql://USER:PASSWORD@DBHOST/DATABASE`` (SQLAlchemy 2.1
        maps it to the psycopg 3 driver, which the ``postgres`` extra installs)."""
        return f"postgresql://{USER}:{password}@{self.host}/{database}"

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast",
                      "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
