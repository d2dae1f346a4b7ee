"""Startup: how long `csql -c "SELECT 1"` takes to its first result, and where the time goes.

    python benchmarks/startup.py [--runs 7]

Each run is a fresh process (`python -m csql.cli -c "SELECT 1"`, no sandbox, no network: the
statement needs no request), so this is what a user waits for at every invocation. Reported:
the median wall time and CPU time (user + system) over the runs, the machine's load average
(the 2-core machine is shared; wall time grows with load, CPU time much less), then for one
run the split into imports, opening the connection (the catalog) and the statement, and the
modules whose import costs most (`python -X importtime`).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

COMMAND = [sys.executable, "-m", "csql.cli", "-c", "SELECT 1", "--format", "csv"]


def one_run() -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one fresh `csql -c "SELECT 1"`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(COMMAND, capture_output=True, text=True, check=False, env=_env())
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or done.stdout.strip() != "1\n1":
        raise SystemExit(f"csql failed: {done.stderr or done.stdout}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKSEND_")}
    env["CSQL_CONFIG"] = os.devnull + ".absent"  # no config file: the defaults
    return env


SPLIT = """
import time
t0 = time.perf_counter()
import csql.cli, csql.dbapi, csql.shell.repl, csql.shell.output, csql.shell.script, csql.config
t1 = time.perf_counter()
conn = csql.dbapi.connect(file_access=True)
t2 = time.perf_counter()
conn.execute("SELECT 1").fetchall()
t3 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {t3 - t2:.3f}")
"""


def split() -> tuple[float, float, float]:
    """(imports, connect, statement) seconds inside one process."""
    out = subprocess.run([sys.executable, "-c", SPLIT], capture_output=True, text=True,
                         check=True, env=_env()).stdout  # fmt: skip
    a, b, c = (float(x) for x in out.split())
    return a, b, c


def heaviest_imports(n: int = 12) -> list[tuple[str, float]]:
    """The top-level packages whose import (self + children) took longest, in seconds."""
    done = subprocess.run([sys.executable, "-X", "importtime", *COMMAND[1:]],
                          capture_output=True, text=True, check=False, env=_env())  # fmt: skip
    seen: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (p.strip() for p in line[len("import time:") :].split("|"))
        if not cumulative.isdigit():
            continue
        module = name.strip()
        if "." in module and not module.startswith("csql."):
            continue  # a package's own submodules are inside its figure
        seen[module] = max(seen.get(module, 0.0), int(cumulative) / 1e6)
    return sorted(seen.items(), key=lambda kv: -kv[1])[:n]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=7)
    args = p.parse_args()
    one_run()  # warm the file cache
    runs = [one_run() for _ in range(args.runs)]
    load = os.getloadavg()
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    print(f'csql -c "SELECT 1": median wall {wall:.2f} s, median CPU {cpu:.2f} s '
          f"over {args.runs} runs (load average {load[0]:.1f} on {os.cpu_count()} cores)")  # fmt: skip
    imports, connect, statement = split()
    print(f"one process: imports {imports:.2f} s, connect {connect:.2f} s, "
          f"statement {statement:.3f} s")  # fmt: skip
    print("heaviest imports (cumulative s):")
    for name, seconds in heaviest_imports():
        print(f"  {name:32} {seconds:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
