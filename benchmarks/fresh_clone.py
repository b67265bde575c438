"""What a new user meets, timed: a fresh clone, the README's two commands, its "Using it" block.

    python -m benchmarks.fresh_clone [--no-ci] [--no-using-it] [--output benchmarks/results]

Clones the committed HEAD beside the checkout (so the development copy of MovieLens,
`../shared/data/movielens`, is found as it is for a user), then times `make setup`,
`make demo`, `.ci/run` (the README's test command with its install and lint; a second clone,
so it starts clean too) and every command of the README's "Using it" block in order, as
written (`cmd &` runs in the background until `kill %1` or the block's end; the exit code of
`kill %1` is the server's). Writes `fresh_clone.json` and
`fresh_clone.md`; the README's figures for the demo and the tests come from there.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from core.reports import write_report

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUMMARY = re.compile(r"=+ (?P<text>.*\d+ passed.*) in (?P<seconds>[\d.]+)s")


def using_it_commands(readme: str) -> list[str]:
    """The commands of the README's "Using it" block, comments stripped."""
    section = readme.split("## Using it", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        command = re.split(r"\s{2,}#", line, maxsplit=1)[0].strip()
        if command and not command.startswith("#"):
            commands.append(command)
    return commands


def _timed(command: str, cwd: str, env: dict, log_path: str) -> dict:
    print(f"$ {command}", flush=True)
    started = time.time()
    with open(log_path, "ab") as log:
        log.write(f"\n$ {command}\n".encode())
        log.flush()
        done = subprocess.run(
            command, shell=True, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    seconds = round(time.time() - started, 1)
    print(f"  exit {done.returncode} after {seconds} s", flush=True)
    return {"command": command, "seconds": seconds, "exit_code": done.returncode}


def _tests(log_path: str) -> dict:
    """Counts and time of the last pytest summary line in a log."""
    with open(log_path, errors="replace") as f:
        found = SUMMARY.findall(f.read())
    if not found:
        return {}
    text, seconds = found[-1]
    counts = {
        kind: int(n) for n, kind in re.findall(r"(\d+) (passed|skipped|failed|errors?)", text)
    }
    return {**counts, "seconds": float(seconds)}


def _clone(name: str) -> str:
    path = os.path.join(os.path.dirname(REPO), name)
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", REPO, path], check=True)
    return path


def run(output: str, ci: bool = True, using_it: bool = True) -> dict:
    commit = subprocess.run(
        ["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    env = {k: v for k, v in os.environ.items() if k not in ("RECSYS_MOVIELENS_DIR", "VIRTUAL_ENV")}
    logs = os.path.join(output, "fresh_clone.log")
    os.makedirs(output, exist_ok=True)
    open(logs, "w").close()
    clone = _clone("fresh-clone")
    result = {"commit": commit, "steps": []}
    for command in ("make setup", "make demo"):
        result["steps"].append(_timed(command, clone, env, logs))
    if using_it:
        path_env = {**env, "PATH": f"{clone}/.venv/bin:{env['PATH']}"}
        background = []
        for command in using_it_commands(open(os.path.join(clone, "README.md")).read()):
            if command.startswith(". ") or command.startswith("source "):
                continue  # the PATH above stands for activating the venv
            if command.startswith("kill %"):  # the block's own shell job: the server
                for process in background:
                    os.killpg(process.pid, signal.SIGTERM)
                started = time.time()
                codes = [process.wait(timeout=60) for process in background]
                result["steps"].append(
                    {
                        "command": command,
                        "seconds": round(time.time() - started, 1),
                        "exit_code": max(codes, default=0),
                    }
                )
                background = []
                continue
            if command.endswith("&"):
                print(f"$ {command}", flush=True)
                background.append(
                    subprocess.Popen(
                        "exec " + command[:-1],  # the server itself gets the signal
                        shell=True,
                        cwd=clone,
                        env=path_env,
                        stdout=open(logs, "ab"),
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
                result["steps"].append({"command": command, "seconds": 0.0, "exit_code": None})
                continue
            result["steps"].append(_timed(command, clone, path_env, logs))
        for process in background:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
    shutil.rmtree(clone, ignore_errors=True)
    if ci:
        clone = _clone("fresh-clone-ci")
        result["steps"].append(_timed("bash .ci/run", clone, env, logs))
        result["tests"] = _tests(logs)
        shutil.rmtree(clone, ignore_errors=True)
    write_report(os.path.join(output, "fresh_clone"), result, to_markdown(result))
    return result


def to_markdown(result: dict) -> str:
    lines = [
        f"# A fresh clone of {result['commit']}, command by command",
        "",
        "| command | wall time | exit code |",
        "|---|---:|---:|",
    ]
    for step in result["steps"]:
        code = "background" if step["exit_code"] is None else step["exit_code"]
        lines.append(f"| `{step['command']}` | {step['seconds']:.1f} s | {code} |")
    tests = result.get("tests")
    if tests:
        lines += [
            "",
            f"Tests: {tests.get('passed', 0)} passed, {tests.get('skipped', 0)} skipped, "
            f"{tests.get('failed', 0)} failed in {tests['seconds']:.0f} s.",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=os.path.join(REPO, "benchmarks", "results"))
    parser.add_argument("--no-ci", action="store_true", help="skip .ci/run")
    parser.add_argument("--no-using-it", action="store_true", help="skip the Using it block")
    args = parser.parse_args(argv)
    result = run(args.output, ci=not args.no_ci, using_it=not args.no_using_it)
    print(to_markdown(result), end="")
    failed = [s for s in result["steps"] if s["exit_code"] not in (0, None)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
