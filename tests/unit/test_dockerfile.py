"""The Dockerfile and .dockerignore: base image, non-root user, CMD, packages."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from workers.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = ROOT / "pyproject.toml"


def _packages() -> list[str]:
    find = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["packages"]["find"]
    return sorted({pattern.rstrip("*").rstrip(".") for pattern in find["include"]})


def test_image_runs_as_non_root_a_houtai_command() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim|^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.M)
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    cmd = re.findall(r"^CMD\s+(\[.*\])\s*$", text, re.M)
    assert cmd, "CMD must be the exec (JSON) form"
    words = json.loads(cmd[-1])
    assert words[0] == "houtai" and words[1] in COMMANDS
    build_parser().parse_args(words[1:])
    assert not re.search(r"^(ENV|ARG)\s+\S*(SECRET|PASSWORD|TOKEN)", text, re.M | re.I)


def test_image_gets_every_package() -> None:
    copied = set(re.findall(r"^COPY\s+(\S+)\s+\./", DOCKERFILE.read_text(), re.M))
    allowed = {
        line.strip().lstrip("!").rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip().startswith("!")
    }
    for package in _packages():
        assert package in copied, f"Dockerfile does not COPY {package}"
        assert package in allowed, f".dockerignore does not allow {package}"
    assert "pyproject.toml" in allowed
    assert ".env" not in allowed
