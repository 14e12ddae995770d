"""`make bench`'s one table: each bench adds its figures to a file (bench/_figures.py
`keep_figures`), bench/_summary.py prints them together at the end."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _keep(figures: Path, bench: str, rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    """What a bench does when it ends: its own process, with `make bench`'s variable set."""
    code = (
        "import sys; sys.argv[0] = sys.argv[1]; import _figures; "
        "_figures.keep_figures(eval(sys.argv[2]), eval(sys.argv[3]), 'python ' + sys.argv[1], "
        "'2 CPUs, load 1.00 before / 2.00 after, 60 s in all.')"
    )
    subprocess.run(
        [sys.executable, "-c", code, f"bench/{bench}", repr(rows), repr(header)],
        cwd=BENCH.parent,
        env={"PYTHONPATH": str(BENCH), "HOUTAI_BENCH_FIGURES": str(figures), "PATH": ""},
        check=True,
    )


def test_the_figures_of_every_bench_come_out_as_one_table(tmp_path: Path) -> None:
    figures = tmp_path / "figures.jsonl"
    _keep(
        figures,
        "orders.py",
        [
            ("(a) create order p50", "2436 ms", "661 ms", "3.68×", "≤ 1.5×", "MISSED"),
            ("(b) lifecycle orders/s", "1.31/s", "2.09/s", "0.63×", "≥ 0.5×", "met"),
        ],
        ("figure", "houtai", "baseline", "ratio", "target", ""),
    )
    _keep(
        figures,
        "waves.py",
        [("plan 10,000 | released", "0.76 s", "≤ 1 s", "met"), ("packages", "10000", "", "")],
        ("figure", "houtai", "target", ""),
    )
    kept = [json.loads(line) for line in figures.read_text().splitlines()]
    assert [line["bench"] for line in kept] == ["orders.py"] * 3 + ["waves.py"] * 3

    printed = subprocess.run(
        [sys.executable, str(BENCH / "_summary.py"), str(figures), "--broke", "bench/chaos.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert printed[0] == "| bench | figure | houtai | baseline | ratio | target | verdict |"
    assert printed[2:6] == [
        "| orders.py | (a) create order p50 | 2436 ms | 661 ms | 3.68× | ≤ 1.5× | MISSED |",
        "| orders.py | (b) lifecycle orders/s | 1.31/s | 2.09/s | 0.63× | ≥ 0.5× | met |",
        "| waves.py | plan 10,000 \\| released | 0.76 s |  |  | ≤ 1 s | met |",
        "| waves.py | packages | 10000 |  |  |  |  |",
    ]
    assert "- `python bench/orders.py`: 2 CPUs, load 1.00 before / 2.00 after, 60 s in all." in (
        printed
    )
    assert "targets met: 2; MISSED: 1" in printed
    assert "- MISSED: orders.py: (a) create order p50" in printed
    assert printed[-1] == "broke or timed out (no figures, or only some): bench/chaos.py"


def test_a_bench_run_alone_keeps_no_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOUTAI_BENCH_FIGURES", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(BENCH))
    import _figures  # bench/ is a directory of scripts: on the path here only

    _figures.keep_figures([("a", "1")], ("figure", "houtai"), "cmd", "run")
    assert list(tmp_path.iterdir()) == []


def in_bench(code: str) -> str:
    """What `code` prints, run with bench/ on the path as the benches run."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BENCH.parent,
        env={"PYTHONPATH": str(BENCH), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_each_run_line_says_how_fast_the_machine_ran_before_and_after() -> None:
    """The yardsticks: a fixed Python loop and round trips to another process, timed when the
    bench began and when it ended."""
    code = (
        "import time, _figures; _figures.YARDSTICK_STEPS = 200_000; _figures.ROUND_TRIPS = 500; "
        "assert _figures.yardstick() > 0; "
        "print(_figures.run_line(_figures.Before(1.5, 0.25, 31.4, time.perf_counter() - 61)))"
    )
    line = in_bench(code)
    assert "CPUs, load 1.50 before / " in line
    assert ", 61 s in all; yardsticks before / after: a 200,000-step Python loop 0.25 / " in line
    loop_after = float(line.split("Python loop 0.25 / ")[1].split(" s,")[0])
    assert 0 < loop_after < 10
    trip_after = float(line.split("another process 31 / ")[1].split(" µs.")[0])
    assert 0 < trip_after < 100_000  # a byte there and back: microseconds, not nothing


def test_a_round_trip_is_timed_through_a_child_that_echoes_and_is_reaped() -> None:
    """The round-trip yardstick forks an echoing child per measure; none is left behind."""
    code = textwrap.dedent(
        """
        import os, _figures
        _figures.ROUND_TRIPS = 200
        trips = [_figures.round_trip_us() for _ in range(3)]
        assert all(us > 0 for us in trips), trips
        try:
            os.waitpid(-1, os.WNOHANG)
            print("child left")
        except ChildProcessError:
            print("no child")
        """
    )
    out = in_bench(code)
    assert out == "no child"
