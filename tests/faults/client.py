"""The test side of the warm servers in this folder (``ingest_server.py``,
``crash_server.py``): start one, read its JSON answers with a timeout, and
close it. Each server's own protocol is in its docstring."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent


class ServerClient:
    """One warm server process, spoken to in JSON lines."""

    def __init__(self, script: Path, log: Path, name: str) -> None:
        self.name = name
        self.log = log
        self._log = open(log, "w")  # noqa: SIM115 - kept open for the server's lifetime
        self.proc = subprocess.Popen(
            [sys.executable, str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=REPO,
        )
        ready = self._read(timeout=120)
        assert ready.get("ready"), ready

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        if not select.select([self.proc.stdout], [], [], timeout)[0]:
            raise AssertionError(f"{self.name} silent for {timeout} s (log: {self.log})")
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"{self.name} died (log: {self.log})")
        return json.loads(line)

    def _send(self, cmd: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


class CrashServer(ServerClient):
    """Client of ``crash_server.py`` (its docstring gives the protocol): each
    command carries the server's own ``deadline`` in seconds, and the answer
    is awaited ``wait`` seconds, long enough for the server to report a hang
    itself."""

    SCRIPT = Path(__file__).resolve().parent / "crash_server.py"

    def __init__(self, log: Path, deadline: float, wait: float) -> None:
        super().__init__(self.SCRIPT, log, "crash server")
        self.deadline, self.wait = deadline, wait

    def run(self, op: str, index: Path, **cmd: Any) -> dict[str, Any]:
        self._send({"op": op, "index": str(index), "deadline": self.deadline, **cmd})
        return self._read(self.wait)
