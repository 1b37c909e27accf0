"""Run one benchmark by name, or all of them: `python -m bench NAME [--device cpu|cuda] [--full-size] [--record]`.

Each benchmark prints one Markdown table of ratios measured in a single run, headed by the date,
the device and the library versions. `all` runs every benchmark in its own process (so the
memory benchmark's peak is its own) and prints the time each took.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import time

NAMES = {"overhead": "overhead", "adapters": "adapters", "candidates": "candidates", "sam": "sam",
         "end-to-end": "end_to_end", "memory": "memory", "checkpoint": "checkpoint"}


def usage() -> str:
    return f"usage: python -m bench {{{','.join(NAMES)},all}} [--device cpu|cuda] [--full-size] [--record]"


def run_all(argv: list[str]) -> int:
    """Run every benchmark in a child process with the same options; return the first failing exit code."""
    failed = 0
    total = time.perf_counter()
    for name in NAMES:
        start = time.perf_counter()
        code = subprocess.run([sys.executable, "-m", "bench", name, *argv]).returncode
        print(f"[{name}: exit {code}, {time.perf_counter() - start:.1f} s]\n", flush=True)
        failed = failed or code
    print(f"all benchmarks: {time.perf_counter() - total:.1f} s")
    return failed


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        print(__doc__.split("\n\n", 1)[1].strip())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name == "all":
        return run_all(rest)
    if name not in NAMES:
        print(f"error: unknown benchmark {name!r}; expected one of {', '.join(NAMES)} or all", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{NAMES[name]}")
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
