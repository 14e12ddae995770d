"""`houtai up` as a user runs it: a subprocess on free ports whose output is read as it comes,
stopped with Ctrl-C (SIGINT)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from workers.embedded import free_port

READY_TIMEOUT_S = 150


class Up:
    def __init__(self, data_dir: Path) -> None:
        self.ports = {
            "HOUTAI_API__PORT": free_port(),
            "HOUTAI_EMBEDDED__POSTGRES_PORT": free_port(),
            "HOUTAI_EMBEDDED__TEMPORAL_PORT": free_port(),
            "HOUTAI_EMBEDDED__TEMPORAL_UI_PORT": free_port(),
            "HOUTAI_EMBEDDED__SANDBOX_PAYMENTS_PORT": free_port(),
            "HOUTAI_EMBEDDED__SANDBOX_CARRIER_PORT": free_port(),
            "HOUTAI_EMBEDDED__SANDBOX_SUPPLIER_PORT": free_port(),
            "HOUTAI_EMBEDDED__SANDBOX_ROBOTS_PORT": free_port(),
            "HOUTAI_EMBEDDED__SANDBOX_SMTP_PORT": free_port(),
            "HOUTAI_METRICS__WORKER_PORT": free_port(),
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOUTAI_")}
        env.update({k: str(v) for k, v in self.ports.items()})
        env["HOUTAI_DATA_DIR"] = str(data_dir)
        self.env = env
        self.data_dir = data_dir
        self.base = f"http://127.0.0.1:{self.ports['HOUTAI_API__PORT']}"
        self.output: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    def start(self, *args: str, timeout: float = READY_TIMEOUT_S) -> float:
        houtai = Path(sys.executable).parent / "houtai"
        started = time.monotonic()
        self.output.clear()
        self.proc = subprocess.Popen(
            [str(houtai), "up", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line)
                if "Press Ctrl-C to stop" in line:  # the banner ends with this line
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(timeout):
            self.proc.kill()
            raise AssertionError("houtai up never became ready:\n" + "".join(self.output))
        return time.monotonic() - started

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(90)
        time.sleep(0.5)
        return code

    @property
    def text(self) -> str:
        return "".join(self.output)

    def wait_for(self, pattern: str, *, after: int = 0, timeout: float = 60) -> re.Match[str]:
        """The first output line from index `after` on that matches `pattern`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.output[after:]:
                if found := re.search(pattern, line):
                    return found
            time.sleep(0.1)
        raise AssertionError(f"no line matching {pattern!r}:\n{self.text}")

    def pids(self) -> dict[int, str]:
        """Every process `houtai up` said it started (pid → the line saying so)."""
        return {
            int(found[1]): line.strip()
            for line in self.output
            if (found := re.search(r"pid (\d+)", line))
        }
