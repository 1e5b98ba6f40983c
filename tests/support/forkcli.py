"""`fireline ARGS` as its own process, without paying the interpreter start and the imports
(~2-4 s) each time: a helper process imports the CLI and what `serve` imports once, then forks
one child per command. The child takes the command's environment (nothing else), working
directory and arguments, runs the `fireline` console script's entry point with real stdin
(/dev/null), stdout and stderr descriptors, and exits with its exit code after the exit handlers,
a traceback printed as the interpreter prints one: what a user sees from the command (exit code,
both streams). ~0.1 s a command.

For commands that end on their own (a start that is refused, a one-shot command); a server that
must serve is a ServeProcess. The tests keep some real `fireline` runs beside these, for the
console script itself."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Completed:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str


class ForkCli:
    def __init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_") and k not in ("COLUMNS", "LINES")}
        self.proc = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=env, cwd="/")
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in, self._out = self.proc.stdin, self.proc.stdout
        self._lock = threading.Lock()  # one command at a time (callers on several threads wait their turn)

    def run(self, args: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 60.0) -> Completed:
        """Like subprocess.run([fireline, *args], env=env, cwd=cwd, capture_output=True, text=True)."""
        with self._lock:
            return self._run(args, env, cwd, timeout)

    def _run(self, args: list[str], env: dict[str, str], cwd: Path, timeout: float) -> Completed:
        self._in.write(json.dumps({"args": args, "env": env, "cwd": str(cwd)}).encode() + b"\n")
        self._in.flush()
        pid = int(json.loads(self._readline(30.0))["pid"])
        try:
            line = self._readline(timeout)
        except subprocess.TimeoutExpired:  # as subprocess.run: the command is killed, then the error raised
            os.kill(pid, signal.SIGKILL)
            self._readline(30.0)
            raise subprocess.TimeoutExpired(["fireline", *args], timeout) from None
        answer = json.loads(line)
        return Completed(["fireline", *args], answer["code"], answer["stdout"], answer["stderr"])

    def _readline(self, timeout: float) -> bytes:
        with selectors.DefaultSelector() as sel:
            sel.register(self._out, selectors.EVENT_READ)
            if not sel.select(timeout):
                raise subprocess.TimeoutExpired("fork helper", timeout)
        line = self._out.readline()
        if not line:
            raise RuntimeError(f"the fork helper ended ({self.proc.wait()})")
        return line

    def close(self) -> None:
        if self.proc.poll() is None:
            self._in.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _child(request: dict[str, Any], out: str, err: str) -> None:
    """In the forked child: become `fireline ARGS` and never return."""
    code = 1
    try:
        for fd, path, flags in ((0, os.devnull, os.O_RDONLY), (1, out, os.O_WRONLY), (2, err, os.O_WRONLY)):
            opened = os.open(path, flags)
            os.dup2(opened, fd)
            os.close(opened)
        import atexit

        from fireline import config, db
        from fireline.cli.main import app  # the console script: fireline = "fireline.cli.main:app"

        os.chdir(str(request["cwd"]))
        os.environ.clear()
        os.environ.update(request["env"])
        config.reset()  # nothing read before the fork is kept
        db.set_db(None)
        sys.argv = ["fireline", *request["args"]]
        try:
            app()
            code = 0
        except SystemExit as exc:  # as the interpreter ends on SystemExit
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except BaseException:
            sys.excepthook(*sys.exc_info())
            code = 1
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # the child's own set-up failed: said on its stderr
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _driver() -> None:
    import tempfile

    import uvicorn  # noqa: F401  -- what `serve` imports, imported once here

    from fireline import api, config, errors  # noqa: F401
    from fireline.calls import privacy  # noqa: F401
    from fireline.cli import main  # noqa: F401

    scratch = Path(tempfile.mkdtemp(prefix="forkcli-"))
    for line in sys.stdin:
        request = json.loads(line)
        out, err = scratch / "out", scratch / "err"
        out.write_bytes(b"")
        err.write_bytes(b"")
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            _child(request, str(out), str(err))
        sys.stdout.write(json.dumps({"pid": pid}) + "\n")
        sys.stdout.flush()
        _, status = os.waitpid(pid, 0)
        answer = {"code": os.waitstatus_to_exitcode(status),
                  "stdout": out.read_text(errors="replace"), "stderr": err.read_text(errors="replace")}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    for p in (scratch / "out", scratch / "err"):
        p.unlink(missing_ok=True)
    scratch.rmdir()


if __name__ == "__main__":
    sys.path[0] = str(Path(sys.executable).parent)  # as for the `fireline` script (not this directory)
    _driver()
