"""Run a sandbox service on loopback:

    python -m sandbox payments --port 8701 --secret S
    python -m sandbox carrier --port 8702 --secret S
    python -m sandbox supplier --port 8703 --secret S
    python -m sandbox robots --port 8704 --smtp-port 8725 --secret S

The webhook secret comes from --secret or, to keep it out of the process list, from the
environment variable HOUTAI_SANDBOX_SECRET. Faults can be set at start (--latency-ms,
--error-rate, ...) and changed later with `PUT /_sandbox/faults`.
"""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn
from fastapi import FastAPI

from sandbox.carrier import CarrierConfig, create_carrier_app
from sandbox.common import Faults
from sandbox.payments import PaymentConfig, create_payment_app
from sandbox.robots import RobotsConfig, create_robots_app
from sandbox.supplier import SupplierConfig, create_supplier_app

SECRET_ENV = "HOUTAI_SANDBOX_SECRET"  # noqa: S105 - the name of a variable


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.split("\n")[0])
    parser.add_argument("service", choices=["payments", "carrier", "supplier", "robots"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--secret", default=os.environ.get(SECRET_ENV), help=f"or ${SECRET_ENV}")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--timeout-rate", type=float, default=0.0)
    parser.add_argument("--duplicate-webhooks", type=int, default=0)
    parser.add_argument("--webhook-delay-ms", type=int, default=0)
    parser.add_argument("--smtp-port", type=int, default=None, help="robots: the SMTP sink's")
    parser.add_argument("--log-level", default="info")
    return parser


def build_app(args: argparse.Namespace) -> FastAPI:
    faults = Faults(
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        timeout_rate=args.timeout_rate,
        duplicate_webhooks=args.duplicate_webhooks,
        webhook_delay_ms=args.webhook_delay_ms,
    )
    if args.service == "payments":
        return create_payment_app(
            PaymentConfig(webhook_secret=args.secret, faults=faults, seed=args.seed)
        )
    if args.service == "robots":
        return create_robots_app(
            RobotsConfig(
                webhook_secret=args.secret, faults=faults, seed=args.seed, smtp_port=args.smtp_port
            )
        )
    if args.service == "supplier":
        return create_supplier_app(
            SupplierConfig(webhook_secret=args.secret, faults=faults, seed=args.seed)
        )
    return create_carrier_app(
        CarrierConfig(webhook_secret=args.secret, faults=faults, seed=args.seed)
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.secret:
        sys.stderr.write(f"a webhook secret is required: --secret or ${SECRET_ENV}\n")
        return 2
    uvicorn.run(build_app(args), host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
