"""`houtai worker` run as its own process in tests, to be killed and started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


class WorkerProcess:
    """`houtai worker` as its own process, as production runs it."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("HOUTAI_")}, **env}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        houtai = Path(sys.executable).parent / "houtai"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(houtai), "worker"], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def crash(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
