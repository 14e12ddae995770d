"""Every bench's figures of one `make bench` run as one table (Markdown, so that it can go into
the README as printed): each bench adds its rows to the file HOUTAI_BENCH_FIGURES names
(`_figures.keep_figures`); this reads that file at the end of the run.

    .venv/bin/python bench/_summary.py FIGURES_FILE [--broke "bench/x.py bench/y.py"]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

COLUMNS = ("bench", "figure", "houtai", "baseline", "ratio", "target", "verdict")


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def summary(lines: list[dict[str, Any]], broke: list[str]) -> str:
    """The table, then each bench's command and run line, then the verdicts counted."""
    rows: list[tuple[str, ...]] = []
    runs: list[str] = []
    verdicts: dict[str, list[str]] = {"met": [], "MISSED": []}
    for line in lines:
        bench = line["bench"]
        if "command" in line:
            runs.append(f"- `{line['command']}`: {line['run']}")
            continue
        cells = line["cells"]
        verdict = cells.get("") or cells.get("verdict") or ""
        row = (bench, *(cells.get(c, "") for c in COLUMNS[1:-1]), verdict)
        rows.append(row)
        if verdict in verdicts:
            verdicts[verdict].append(f"{bench}: {row[1]}")
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    out += ["", *runs, ""]
    out.append(f"targets met: {len(verdicts['met'])}; MISSED: {len(verdicts['MISSED'])}")
    out += [f"- MISSED: {missed}" for missed in verdicts["MISSED"]]
    if broke:
        out.append("broke or timed out (no figures, or only some): " + ", ".join(broke))
    return "\n".join(out)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("figures", type=Path, help="the file HOUTAI_BENCH_FIGURES named")
    p.add_argument("--broke", default="", help="the benches that broke or timed out")
    args = p.parse_args(argv)
    text = args.figures.read_text(encoding="utf-8") if args.figures.exists() else ""
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    print(summary(lines, args.broke.split()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
