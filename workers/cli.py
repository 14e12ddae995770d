"""The `houtai` command. Every subcommand is configured by the environment (HOUTAI_…)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import sys
from collections.abc import Callable

from core import logging as houtai_logging
from core.settings import Settings

COMMANDS: dict[str, str] = {
    "up": "start the whole back office on its embedded default (or external servers)",
    "api": "serve the HTTP API (production entry point)",
    "worker": "run a Temporal worker (production entry point; run several for scale)",
    "migrate": "upgrade the database to the latest schema and register search attributes",
    "seed": "load demo data into an empty database",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="houtai", description="houtai (后台) back office")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name == "up":
            command.add_argument(
                "--workers",
                type=int,
                metavar="N",
                help="worker processes (and API processes) to run; default HOUTAI_WORKERS or 1",
            )
    return parser


def _up(settings: Settings) -> int:
    from workers.launcher import run_up

    return run_up(settings)


def _api(settings: Settings) -> int:
    from workers.serve import serve_api

    serve_api(settings)
    return 0


def _worker(settings: Settings) -> int:
    from workers.serve import run_worker

    asyncio.run(run_worker(settings))
    return 0


def _migrate(settings: Settings) -> int:
    from workers.serve import migrate

    asyncio.run(migrate(settings))
    return 0


def _seed(settings: Settings) -> int:
    from workers.serve import seed

    loaded = asyncio.run(seed(settings))
    print("demo data loaded" if loaded else "database not empty: demo data not loaded")
    return 0


HANDLERS: dict[str, Callable[[Settings], int]] = {
    "up": _up,
    "api": _api,
    "worker": _worker,
    "migrate": _migrate,
    "seed": _seed,
}


# What each command imports before it runs (its handler's imports then find them loaded).
IMPORTS: dict[str, tuple[str, ...]] = {
    "up": ("workers.launcher",),
    "api": ("workers.serve", "api.main"),
    "worker": ("workers.serve",),
    "migrate": ("workers.serve",),
    "seed": ("workers.serve",),
}


def import_for(command: str) -> None:
    """Import what `command` runs with the cyclic garbage collector paused. Importing the API
    creates objects by the hundred thousand (classes, pydantic schemas, routes), none of them
    garbage, and the collections that so many allocations trigger were about a quarter of a
    process's start: the API's and the worker's, again at every restart under `houtai up`.
    Collection resumes once the modules are in."""
    gc.disable()
    try:
        for module in IMPORTS[command]:
            importlib.import_module(module)
    finally:
        gc.enable()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import_for(args.command)
    settings = Settings()
    if getattr(args, "workers", None) is not None:
        if not 1 <= args.workers <= 32:
            build_parser().error("--workers must be between 1 and 32")
        settings = settings.model_copy(update={"workers": args.workers})
    if args.command == "up":  # the launcher prints its own progress; children log to files
        houtai_logging.configure("WARNING", json_lines=False)
    else:
        houtai_logging.configure(settings.log_level, json_lines=settings.log_json)
    return HANDLERS[args.command](settings)


if __name__ == "__main__":
    sys.exit(main())
