"""Mutation testing (mutmut) of the modules that keep a person's data or decide their people:
does some fast test fail when one small thing in them is wrong?

mutmut changes one thing at a time inside a function (`<` for `<=`, `and` for `or`, a constant, a
dropped call, …) and runs only the fast tests that run that function (it records which ones in a
first pass), in forked processes. A mutant no test notices *survived*. A survivor that changes
nothing a user could ever see is equivalent: its line carries `# pragma: no mutate` with the
reason, or, for a change that is equivalent wherever it is made (`strict=True` dropped from a
zip, say), it is listed in EQUIVALENT with the reason; either way it is not scored.

mutmut looks for the code under `src/`; facefold's is under `daemon/`, so the run happens in a
staging copy, `.mutate/` (git-ignored, kept between runs so that a second run only redoes what
changed): `src/` is a copy of `daemon/`, and the tests, config and migrations are copied beside.

    .venv/bin/python bench/mutate.py [--quick] [--report] [--max-children 2] [MODULE …]

`--quick` runs only `people/folders.py` and `people/names.py` (what CI runs, a few minutes).
Each module is staged on its own, `.mutate/<module>/`, with the tests mutmut may choose among
for it (`MODULE_TESTS`).
Prints, per module, mutants, checked, killed, survived and the score (killed / checked), then
the survivors
(`cd .mutate/<module> && ../../.venv/bin/mutmut show NAME` shows one); exit 1 when a module scores under
`--min-score` (default 0.9).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAGE = REPO / ".mutate"

# each module, and the fast tests mutmut may choose among for its mutants (per mutant, it runs
# those that reach the mutated function): the module's own tests and its callers' in core/
MODULE_TESTS = {
    "people/folders.py": ["tests/people/test_folders.py"],
    "people/names.py": ["tests/people/test_names.py"],
    "people/assign.py": ["tests/people/test_assign.py", "tests/core/test_people.py"],
    "people/cluster.py": ["tests/people/test_cluster.py", "tests/core/test_clusterer.py"],
    "people/likeness.py": ["tests/people/test_likeness.py", "tests/people/test_cluster.py"],
    "db/queue.py": ["tests/db/test_queue.py", "tests/core/test_pipeline.py",
                    "tests/core/test_inbox.py"],
    "db/people.py": ["tests/db/test_people.py", "tests/core/test_people.py",
                     "tests/core/test_recognise.py", "tests/core/test_reports.py"],
    "db/edits.py": ["tests/db/test_people.py", "tests/core/test_people.py"],
    "core/pipeline.py": ["tests/core/test_pipeline.py", "tests/core/test_scan.py",
                         "tests/core/test_inbox.py"],
    "core/people.py": ["tests/core/test_people.py"],
    "service/worker.py": ["tests/service/test_worker.py"],
}
MODULES = tuple(MODULE_TESTS)
QUICK = ("people/folders.py", "people/names.py")  # what CI runs
PYTEST_ARGS = ["-p", "no:cacheprovider", "-q", "-m",
               "not models and not network and not browser and not root", "-k",
               "not postgresql"]
ALSO_COPY = ["config.yaml", "migrations", "systemd", "alembic.ini", "README.md", "docs"]
# Not mutated, as equivalent: what a log line says. Its wording is no person's data, and the
# lines a user acts on are read by tests of their own (caplog).
NOT_MUTATED = [r"^\s*log\.(debug|info|warning|error|exception)\("]
KILLED = {"killed", "timeout", "caught by type check", "segfault", "suspicious"}
# Survivors that change nothing anyone could see, by the one change they make to a line (that
# text → one of those), each with its reason: reported apart as equivalent, not scored.
EQUIVALENT = [
    ("strict=True", ("strict=None", "strict=False", ""),
     "zip's strict only checks that the lengths match; where it is used they match by"
     " construction, so without it the same pairs come out"),
    (".astype(np.float64)", (".astype(None)",), "astype(None) is float64"),
    ('kind="stable"', ('kind="STABLE"',), "numpy reads a sort's kind whatever its case"),
    ('"ij,ij->i"', ('"IJ,IJ->I"',), "einsum's letters only name the axes"),
]


def stage_dir(module: str) -> Path:
    return STAGE / module.removesuffix(".py").replace("/", "-")


def stage(module: str) -> Path:
    """The staging copy for one module: src/ = daemon/ (mtimes kept: mutmut redoes only what
    changed), the tests and data beside it, and pyproject.toml with the mutmut section."""
    where = stage_dir(module)
    where.mkdir(parents=True, exist_ok=True)
    tests = MODULE_TESTS[module]
    chosen = where / "tests.txt"  # other tests: mutmut would keep results of the old ones
    if not chosen.exists() or chosen.read_text() != "\n".join(tests):
        shutil.rmtree(where / "mutants", ignore_errors=True)
    chosen.write_text("\n".join(tests))
    shutil.copytree(REPO / "daemon", where / "src", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ["tests", *ALSO_COPY]:
        src, dst = REPO / name, where / name
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dst)
    toml = (REPO / "pyproject.toml").read_text()

    def arr(items: list[str]) -> str:
        return "[" + ", ".join(f"'{x}'" for x in items) + "]"

    toml += ("\n[tool.mutmut]\nsource_paths = [\"src\"]\n"
             f"only_mutate = {arr([f'src/facefold/{module}'])}\n"
             f"do_not_mutate_patterns = {arr(NOT_MUTATED)}\n"
             f"also_copy = {arr(ALSO_COPY)}\n"
             f"pytest_add_cli_args = {arr(PYTEST_ARGS)}\n"
             f"pytest_add_cli_args_test_selection = {arr(tests)}\n"
             # a mutant that loops forever is stopped at 6 x (its tests' CPU time + 5 s): a
             # first import inside a function (FAISS, HDBSCAN) is not taken for a loop
             "timeout_multiplier = 3.0\ntimeout_constant = 5.0\n"
             # each mutant forked from a clean server, not from the process that ran the whole
             # suite (its worker threads, servers and database connections hang a fork)
             'process_isolation = "forkserver"\n')
    (where / "pyproject.toml").write_text(toml)
    return where


def results(where: Path) -> dict[str, str]:
    """Every mutant's status, by name (`facefold.people.folders.x_sync_folders__mutmut_3`)."""
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"],
                         cwd=where, capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            found[name] = status
    return found


def equivalent(where: Path, names: list[str]) -> dict[str, str]:
    """Of these mutants, those that make one of the EQUIVALENT changes, with the reason."""
    if not names:
        return {}
    show = ("import json, sys\n"
            "from mutmut.mutation.diff_apply import find_mutant, get_diff_for_mutant\n"
            "print(json.dumps({n: get_diff_for_mutant(n, path=find_mutant(n).path)"
            " for n in sys.argv[1:]}))")
    out = subprocess.run([sys.executable, "-c", show, *names], cwd=where, capture_output=True,
                         text=True, check=True).stdout
    found = {}
    for name, diff in json.loads(out).items():
        old = [ln[1:] for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
        new = [ln[1:] for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
        if len(old) != 1 or len(new) != 1:
            continue
        for text, instead, why in EQUIVALENT:
            if text in old[0] and any(new[0] == old[0].replace(text, x, 1) for x in instead):
                found[name] = why
    return found


def run_module(module: str, max_children: int) -> dict[str, str] | None:
    """Stage and run one module's mutants; their statuses, or None when mutmut failed."""
    where = stage(module)
    # pytest's own temporary folders under the staging copy: a test run beside it (make test)
    # keeps its own, which pytest would otherwise prune
    env = {**os.environ, "PYTEST_DEBUG_TEMPROOT": str(where / "tmp")}
    (where / "tmp").mkdir(exist_ok=True)
    print(f"mutate: {module} against {' '.join(MODULE_TESTS[module])}", flush=True)
    run = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children",
                          str(max_children)], cwd=where, env=env,
                         stdout=subprocess.DEVNULL)  # its progress line, redrawn per mutant
    if run.returncode not in (0, 1):
        return None
    found = results(where)
    # mutmut keeps a mutant's result while its function is unchanged, even when the tests
    # changed since: the ones that lived are run again against today's tests
    alive = [k for k, v in found.items() if v not in KILLED]
    if alive:
        subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children",
                        str(max_children), *alive], cwd=where, env=env,
                       stdout=subprocess.DEVNULL)
        found = results(where)
    return found


def summary(modules: list[str], statuses: dict[str, dict[str, str]],
            min_score: float) -> list[str]:
    """Print the table (markdown) of each module's mutants; return the modules under
    `min_score` (killed, timeouts included, over the mutants checked and not equivalent)."""
    print("\n| module | mutants | checked | equivalent | killed | survived | no test reaches it "
          "| score |")
    print("|---|---|---|---|---|---|---|---|")
    low = []
    for m in modules:
        c = Counter(statuses.get(m, {}).values())
        total = sum(c.values())
        checked = total - c["not checked"]
        killed = sum(c[s] for s in KILLED)
        scored = checked - c["equivalent"]
        score = killed / scored if scored else 0.0
        low += [m] if score < min_score or checked < total else []
        print(f"| `{m}` | {total} | {checked} | {c['equivalent']} | {killed} | {c['survived']} | "
              f"{c['no tests']} | {score:.1%} |")
    return low


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("modules", nargs="*", help=f"under daemon/facefold/ (default: {MODULES})")
    ap.add_argument("--quick", action="store_true", help="folders.py and names.py only (CI)")
    ap.add_argument("--report", action="store_true",
                    help="only print the table of what the runs so far found")
    ap.add_argument("--max-children", type=int, default=2)
    ap.add_argument("--min-score", type=float, default=0.9)
    args = ap.parse_args()
    modules = list(args.modules or (QUICK if args.quick else MODULES))
    unknown = [m for m in modules if m not in MODULE_TESTS]
    if unknown:
        ap.error(f"not a module mutate knows: {', '.join(unknown)} (one of {', '.join(MODULES)})")
    statuses: dict[str, dict[str, str]] = {}
    reasons: Counter[str] = Counter()
    for m in modules:
        if args.report:
            found = results(stage_dir(m)) if (stage_dir(m) / "mutants").is_dir() else {}
        else:
            found = run_module(m, args.max_children) or {}
            if not found:
                print(f"mutate: mutmut made no mutants of {m}, or failed (run it in "
                      f"{stage_dir(m)}: ../../.venv/bin/mutmut run)")
                return 2
        same = equivalent(stage_dir(m), [k for k, v in found.items() if v == "survived"])
        reasons.update(same.values())
        statuses[m] = {k: "equivalent" if k in same else v for k, v in found.items()}
    low = summary(modules, statuses, args.min_score)
    if reasons:
        print("\nequivalent, not scored:")
        for why, n in reasons.most_common():
            print(f"  {n}: {why}")
    alive = [(m, k, v) for m in modules for k, v in sorted(statuses[m].items())
             if v not in KILLED and v not in ("not checked", "equivalent")]
    if alive and not args.report:
        print(f"\n{len(alive)} not killed (cd {STAGE.name}/<module> && "
              "../../.venv/bin/mutmut show NAME):")
        for m, k, v in alive:
            print(f"  {stage_dir(m).name}: {k}: {v}")
    total = sum(len(v) for v in statuses.values())
    killed = sum(sum(x in KILLED for x in v.values()) for v in statuses.values())
    print(f"mutate: {total} mutants, {killed} killed; "
          + (f"every module at or above {args.min_score:.0%}" if not low
             else f"under {args.min_score:.0%} (or not all checked): " + ", ".join(low)))
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
