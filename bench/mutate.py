"""Mutation testing (mutmut) of the modules that keep a person's data or decide their people:
does some fast test fail when one small thing in them is wrong?

mutmut changes one thing at a time inside a function (`<` for `<=`, `and` for `or`, a constant, a
dropped call, …) and runs only the fast tests that run that function (it records which ones in a
first pass), in forked processes. A mutant no test notices *survived*. A survivor that changes
nothing a user could ever see is equivalent: its line carries `# pragma: no mutate` with the
reason, and is not counted.

mutmut looks for the code under `src/`; facefold's is under `daemon/`, so the run happens in a
staging copy, `.mutate/` (git-ignored, kept between runs so that a second run only redoes what
changed): `src/` is a copy of `daemon/`, and the tests, config and migrations are copied beside.

    .venv/bin/python bench/mutate.py [--quick] [--max-children 2] [MODULE …]

`--quick` runs only `people/folders.py` and `people/names.py` (what CI runs, a few minutes).
Prints, per module, mutants, killed, survived and the score (killed / all), then the survivors
(`cd .mutate && ../.venv/bin/mutmut show NAME` shows one); exit 1 when a module scores under
`--min-score` (default 0.9).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAGE = REPO / ".mutate"

MODULES = ("people/folders.py", "people/names.py", "people/assign.py", "people/cluster.py",
           "people/likeness.py", "db/queue.py", "db/people.py", "db/edits.py",
           "core/pipeline.py", "core/people.py", "service/worker.py")
QUICK = ("people/folders.py", "people/names.py")
# The fast tests mutmut may choose among (it runs, per mutant, those that reach its function).
TESTS = ["tests/people", "tests/db", "tests/core", "tests/service/test_worker.py",
         "tests/service/test_queue.py", "tests/test_security.py", "tests/cli"]
# CI's quick run: the mutants of folders.py and names.py against their own tests only
QUICK_TESTS = ["tests/people", "tests/test_security.py"]
PYTEST_ARGS = ["-p", "no:cacheprovider", "-q", "-m",
               "not models and not network and not browser and not root", "-k",
               "not postgresql"]
ALSO_COPY = ["config.yaml", "migrations", "systemd", "alembic.ini", "README.md", "docs"]
KILLED = {"killed", "timeout", "caught by type check", "segfault", "suspicious"}


def stage(modules: list[str], tests: list[str]) -> None:
    """The staging copy: src/ = daemon/ (mtimes kept: mutmut redoes what changed), the tests
    and data beside it, and pyproject.toml with the mutmut section for these modules."""
    STAGE.mkdir(exist_ok=True)
    chosen = STAGE / "modules.txt"  # mutmut keeps a file it copied unmutated as done: start over
    if not chosen.exists() or chosen.read_text() != "\n".join(modules):
        shutil.rmtree(STAGE / "mutants", ignore_errors=True)
    chosen.write_text("\n".join(modules))
    shutil.copytree(REPO / "daemon", STAGE / "src", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ["tests", *ALSO_COPY]:
        src, dst = REPO / name, STAGE / name
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dst)
    toml = (REPO / "pyproject.toml").read_text()

    def arr(items: list[str]) -> str:
        return "[" + ", ".join(f'"{x}"' for x in items) + "]"

    toml += ("\n[tool.mutmut]\nsource_paths = [\"src\"]\n"
             f"only_mutate = {arr([f'src/facefold/{m}' for m in modules])}\n"
             f"also_copy = {arr(ALSO_COPY)}\n"
             f"pytest_add_cli_args = {arr(PYTEST_ARGS)}\n"
             f"pytest_add_cli_args_test_selection = {arr(tests)}\n"
             # a mutant that loops forever is stopped at 6 x (its tests' CPU time + 5 s): a
             # first import inside a function (FAISS, HDBSCAN) is not taken for a loop
             "timeout_multiplier = 3.0\ntimeout_constant = 5.0\n"
             # each mutant forked from a clean server, not from the process that ran the whole
             # suite (its worker threads, servers and database connections hang a fork)
             'process_isolation = "forkserver"\n')
    (STAGE / "pyproject.toml").write_text(toml)


def results() -> dict[str, str]:
    """Every mutant's status, by name (`facefold.people.folders.x_sync_folders__mutmut_3`)."""
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"],
                         cwd=STAGE, capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            found[name] = status
    return found


def module_of(mutant: str) -> str:
    dotted = mutant.split("__mutmut_")[0].rsplit(".", 1)[0]  # facefold.people.folders
    return dotted.removeprefix("facefold.").replace(".", "/") + ".py"


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("modules", nargs="*", help=f"under daemon/facefold/ (default: {MODULES})")
    ap.add_argument("--quick", action="store_true", help="folders.py and names.py only (CI)")
    ap.add_argument("--max-children", type=int, default=2)
    ap.add_argument("--min-score", type=float, default=0.9)
    args = ap.parse_args()
    modules = list(args.modules or (QUICK if args.quick else MODULES))
    stage(modules, QUICK_TESTS if args.quick else TESTS)
    # pytest's own temporary folders under the staging copy: a test run beside it (make test)
    # keeps its own, which pytest would otherwise prune
    env = {**os.environ, "PYTEST_DEBUG_TEMPROOT": str(STAGE / "tmp")}
    (STAGE / "tmp").mkdir(exist_ok=True)
    run = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children",
                          str(args.max_children)], cwd=STAGE, env=env)
    if run.returncode not in (0, 1):
        return run.returncode
    statuses = {k: v for k, v in results().items() if module_of(k) in modules}
    by_module: dict[str, Counter[str]] = {m: Counter() for m in modules}
    for name, status in statuses.items():
        by_module[module_of(name)][status] += 1
    print(f"\n{'module':<22}{'mutants':>8}{'killed':>8}{'survived':>9}{'no test':>8}"
          f"{'score':>7}")
    low = []
    for m, c in by_module.items():
        total = sum(c.values())
        killed = sum(c[s] for s in KILLED)
        score = killed / total if total else 1.0
        low += [m] if score < args.min_score else []
        print(f"{m:<22}{total:>8}{killed:>8}{c['survived']:>9}{c['no tests']:>8}{score:>7.1%}")
    if not statuses:
        print("mutate: mutmut made no mutants (see its output above)")
        return 2
    alive = sorted(k for k, v in statuses.items() if v not in KILLED)
    if alive:
        print(f"\n{len(alive)} not killed (cd .mutate && ../.venv/bin/mutmut show NAME):")
        for k in alive:
            print(f"  {k}: {statuses[k]}")
    print(f"mutate: {len(statuses)} mutants, "
          f"{sum(v in KILLED for v in statuses.values())} killed; "
          + ("every module at or above" if not low else f"under {args.min_score:.0%}: "
             + ", ".join(low)) + (f" {args.min_score:.0%}" if not low else ""))
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
