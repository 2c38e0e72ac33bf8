"""A real job process for lease tests: `python -m tests.helpers.job_process NAME [options]`.

Runs `civicquant.runtime.runner.run_job` with a body that reports on stdout when it holds the
lease and then waits (cooperatively, or not) for a signal or a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time

from civicquant import logs
from civicquant.config import load_settings
from civicquant.errors import CivicquantError
from civicquant.runtime.context import JobContext
from civicquant.runtime.runner import run_job


async def hold_in_asyncio(seconds: float) -> None:
    """A SIGTERM whose handler runs inside one of asyncio's callbacks, then a wait."""
    # os.kill runs the handler before it returns, here inside the event loop's callback.
    asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGTERM)
    await asyncio.sleep(seconds)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("job")
    parser.add_argument("--hold", type=float, default=30.0, help="seconds to hold the lease")
    parser.add_argument("--cooperative", action="store_true")
    parser.add_argument("--fail", action="store_true")
    parser.add_argument("--start-at", type=float, default=0.0, help="unix time to start at")
    parser.add_argument(
        "--asyncio",
        action="store_true",
        help="hold inside asyncio.run, SIGTERMed inside an event loop callback (as digest can be)",
    )
    args = parser.parse_args()

    settings = load_settings()
    logs.configure_logging(fmt="json", level="INFO")

    def body(ctx: JobContext) -> None:
        print("holding", flush=True)
        ctx.count("ticks")
        if args.fail:
            raise CivicquantError("the body failed on purpose")
        if args.asyncio:
            asyncio.run(hold_in_asyncio(args.hold))
            return
        deadline = time.monotonic() + args.hold
        while time.monotonic() < deadline and not ctx.stop.is_set():
            time.sleep(0.05)
        if ctx.stop.is_set():
            ctx.notes["stopped"] = True

    delay = args.start_at - time.time()
    if delay > 0:
        time.sleep(delay)
    try:
        result = run_job(settings, args.job, body, lease=args.job, cooperative=args.cooperative)
    except CivicquantError as exc:
        print(f"error: {exc}", flush=True)
        return exc.exit_code
    print("skipped" if result.skipped else "done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
