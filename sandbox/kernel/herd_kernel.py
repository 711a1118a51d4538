"""herd's sandbox kernel: one persistent Python namespace driven over a JSON-lines channel.

The host (herd's sandbox crate) writes one JSON object per line to this process's stdin and
reads one JSON object per line from its stdout. Before any user code runs, both descriptors are
moved to private descriptors and fds 0/1/2 are replaced (stdin by /dev/null, stdout/stderr by a
pipe that is captured), so nothing user code prints -- from Python, C extensions or child
processes -- can corrupt the channel.

Requests (host -> kernel), each with an integer "id":
  {"type": "ping"}                                   -> {"type": "pong", "python": "3.11.2"}
  {"type": "define_host_functions", "names": [...]}  -> {"type": "ack"}
  {"type": "put_file", "name": "a.csv", "data_b64": "..."} -> {"type": "ack", "path": "/workspace/a.csv"}
  {"type": "run_cell", "code": "...", "timeout": 30.0} -> {"type": "cell_result", ...}
  {"type": "shutdown"}                               -> {"type": "ack"}, then exit
During a cell, the kernel may send {"type": "host_call", "id": k, "name": n, "args": {"args": [...],
"kwargs": {...}}} and blocks until the host answers {"type": "host_result", "id": k, "ok": true,
"value": v} or {"ok": false, "error": "message"} (raised as HostCallError in the cell).
"""

import ast
import base64
import codecs
import io
import json
import linecache
import os
import signal
import sys
import threading
import time
import traceback
import types

# In the sandbox the kernel starts as `python3 -S`: skipping `site` (its .pth files and
# sitecustomize) makes each fresh container's Python start measurably cheaper. The
# site-packages directories are still put on the path, as `site` would.
if sys.flags.no_site:
    import site

    for _dir in [*site.getsitepackages(), site.getusersitepackages()]:
        if _dir not in sys.path and os.path.isdir(_dir):
            sys.path.append(_dir)

KERNEL_FILE = os.path.abspath(__file__) if "__file__" in globals() else "<herd-kernel>"
SYNC_MARK = b"\x00herd-sync\x00"


class HostCallError(Exception):
    """A host function (running on the worker) reported an error."""


class CellTimeout(KeyboardInterrupt):
    """The cell exceeded its time limit and was interrupted."""


class Channel:
    """The private JSON-lines channel to the host."""

    def __init__(self):
        self._in = os.fdopen(os.dup(0), "rb", buffering=0)
        self._out = os.fdopen(os.dup(1), "wb", buffering=0)
        self._write_lock = threading.Lock()
        self.pid = os.getpid()

    def send(self, msg):
        if os.getpid() != self.pid:
            return  # a process forked by user code never speaks on the channel
        data = json.dumps(msg, default=_json_fallback, ensure_ascii=False).encode("utf-8", errors="replace") + b"\n"
        with self._write_lock:
            view = memoryview(data)
            while view:
                n = self._out.write(view)
                view = view[n:]

    def lines(self):
        buf = b""
        while True:
            chunk = self._in.read(1 << 16)
            if not chunk:
                return
            buf += chunk
            while True:
                nl = buf.find(b"\n")
                if nl < 0:
                    break
                line, buf = buf[:nl], buf[nl + 1:]
                if line.strip():
                    yield line


def _json_fallback(obj):
    """JSON for values user code passes to host functions: arrays as lists, else their str."""
    if hasattr(obj, "tolist"):
        try:
            return obj.tolist()
        except Exception:
            pass
    if hasattr(obj, "item"):
        try:
            return obj.item()
        except Exception:
            pass
    return str(obj)


class Capture:
    """Ordered capture of everything written to stdout/stderr during a cell."""

    def __init__(self):
        self._lock = threading.Lock()
        self._parts = []

    def write(self, text):
        with self._lock:
            self._parts.append(text)

    def take(self):
        with self._lock:
            out = "".join(self._parts)
            self._parts = []
        return out


class CaptureStream(io.TextIOBase):
    """A text stream (sys.stdout / sys.stderr) writing into the capture."""

    def __init__(self, capture, name):
        self._capture = capture
        self._name = name

    @property
    def name(self):
        return self._name

    @property
    def encoding(self):
        return "utf-8"

    def writable(self):
        return True

    def isatty(self):
        return False

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        # Through the captured fd, like C-level and child output, so all output keeps its order.
        view = memoryview(s.encode("utf-8", errors="replace"))
        while view:
            view = view[os.write(1, view):]
        return len(s)

    def flush(self):
        pass


class FdPump:
    """Captures fds 1 and 2 (C-level and child-process output) through a pipe into the capture."""

    def __init__(self, capture):
        self._capture = capture
        r, w = os.pipe()
        os.dup2(w, 1)
        os.dup2(w, 2)
        os.close(w)
        self._r = r
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._synced = threading.Event()
        threading.Thread(target=self._run, name="herd-fd-pump", daemon=True).start()

    def _run(self):
        pending = b""
        while True:
            try:
                chunk = os.read(self._r, 1 << 16)
            except InterruptedError:
                continue
            if not chunk:
                return
            pending += chunk
            while True:
                at = pending.find(SYNC_MARK)
                if at < 0:
                    break
                self._emit(pending[:at])
                pending = pending[at + len(SYNC_MARK):]
                self._synced.set()
            # keep a possible partial marker for the next read
            keep = 0
            for k in range(len(SYNC_MARK) - 1, 0, -1):
                if pending.endswith(SYNC_MARK[:k]):
                    keep = k
                    break
            if len(pending) > keep:
                self._emit(pending[: len(pending) - keep])
                pending = pending[len(pending) - keep:]

    def _emit(self, data):
        if data:
            self._capture.write(self._decoder.decode(data))

    def sync(self, timeout=2.0):
        """Waits until everything written to fds 1/2 so far is in the capture."""
        self._synced.clear()
        try:
            os.write(1, SYNC_MARK)
        except OSError:
            return
        self._synced.wait(timeout)


def _reap_children():
    """Reaps exited children (and orphans re-parented to the kernel when it is PID 1), so
    zombies never eat the container's process limit. A `Popen` kept across cells whose process
    ended meanwhile reads exit status 0."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except (ChildProcessError, OSError):
            return
        if pid == 0:
            return


def _apply_limits():
    """Resource limits the host asks for (local-process sandbox): HERD_RLIMIT_AS_MB."""
    try:
        import resource
    except ImportError:
        return
    mb = os.environ.get("HERD_RLIMIT_AS_MB")
    if mb:
        limit = int(mb) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


def _unparse(node):
    return ast.unparse(node) if node is not None else None


def _param(arg, default=None):
    text = arg.arg
    if arg.annotation is not None:
        text += ": " + ast.unparse(arg.annotation)
    if default is not None:
        text += (" = " if arg.annotation is not None else "=") + ast.unparse(default)
    return text


def _signature_text(args):
    """`(a, b: int = 1, *rest, key=None, **kw)`: PEP 8 spacing, annotations and defaults kept."""
    positional = list(args.posonlyargs) + list(args.args)
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    parts = []
    for i, (arg, default) in enumerate(zip(positional, defaults)):
        parts.append(_param(arg, default))
        if args.posonlyargs and i == len(args.posonlyargs) - 1:
            parts.append("/")
    if args.vararg is not None:
        parts.append("*" + _param(args.vararg))
    elif args.kwonlyargs:
        parts.append("*")
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        parts.append(_param(arg, default))
    if args.kwarg is not None:
        parts.append("**" + _param(args.kwarg))
    return "(" + ", ".join(parts) + ")"


def _called_names(tree):
    """Names called inside `tree`: plain names and the roots of attribute chains, in order."""
    seen = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            while isinstance(func, ast.Attribute):
                func = func.value
            if isinstance(func, ast.Name) and func.id not in seen:
                seen.append(func.id)
    return seen


def _top_level_called(tree):
    """Names called by the cell's top-level statements (function bodies excluded)."""
    seen = []

    class Visitor(ast.NodeVisitor):
        def visit_FunctionDef(self, node):
            for d in node.decorator_list:
                self.visit(d)

        visit_AsyncFunctionDef = visit_FunctionDef

        def visit_Lambda(self, node):
            pass

        def visit_ClassDef(self, node):
            for d in node.decorator_list:
                self.visit(d)

        def visit_Call(self, node):
            func = node.func
            while isinstance(func, ast.Attribute):
                func = func.value
            if isinstance(func, ast.Name) and func.id not in seen:
                seen.append(func.id)
            self.generic_visit(node)

    Visitor().visit(tree)
    return seen


def _imports(tree, code):
    out = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(ast.get_source_segment(code, node) or ast.unparse(node))
    return out


def _function_source(code, node):
    lines = code.splitlines(keepends=True)
    start = min([d.lineno for d in node.decorator_list] + [node.lineno])
    end = node.end_lineno
    return "".join(lines[start - 1:end]).rstrip("\n")


def extract_functions(code, tree):
    imports = _imports(tree, code)
    functions = []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        doc = ast.get_docstring(node)
        first = None
        if doc:
            for line in doc.strip().splitlines():
                if line.strip():
                    first = line.strip()
                    break
        functions.append(
            {
                "name": node.name,
                "signature": _signature_text(node.args),
                "returns": _unparse(node.returns),
                "docstring": first,
                "source": _function_source(code, node),
                "imports": list(imports),
                "calls": _called_names(node),
            }
        )
    return functions


def _clean_traceback(exc):
    """The traceback without the kernel's own frames (its loop and the host-call stubs)."""
    only = "".join(traceback.format_exception_only(type(exc), exc))
    if isinstance(exc, SyntaxError):
        return only
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != KERNEL_FILE]
    if not frames:
        return only
    return "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames)) + only


class Kernel:
    def __init__(self):
        self.channel = Channel()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        self.capture = Capture()
        self.pump = FdPump(self.capture)
        sys.stdin = open(os.devnull, "r")
        sys.stdout = CaptureStream(self.capture, "<stdout>")
        sys.stderr = CaptureStream(self.capture, "<stderr>")
        self.namespace_module = types.ModuleType("__main__")
        self.namespace = self.namespace_module.__dict__
        self.namespace["__builtins__"] = __builtins__
        sys.modules["__main__"] = self.namespace_module
        self.namespace["HostCallError"] = HostCallError
        self.requests = []
        self.requests_cv = threading.Condition()
        self.pending = {}
        self.pending_lock = threading.Lock()
        self.next_call = 0
        self.closed = False
        self.in_cell = False
        self.timed_out = False
        self.cell_count = 0
        self.signal_lock = threading.Lock()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.workspace = os.getcwd()
        self.pid = os.getpid()
        threading.Thread(target=self._read_loop, name="herd-reader", daemon=True).start()

    # -- channel ---------------------------------------------------------------------------

    def _read_loop(self):
        try:
            for line in self.channel.lines():
                try:
                    msg = json.loads(line)
                except ValueError as e:
                    self._log(f"bad message: {e}")
                    continue
                if msg.get("type") == "host_result":
                    with self.pending_lock:
                        slot = self.pending.get(msg.get("id"))
                    if slot is not None:
                        slot["msg"] = msg
                        slot["event"].set()
                    continue
                with self.requests_cv:
                    self.requests.append(msg)
                    self.requests_cv.notify()
        finally:
            with self.requests_cv:
                self.closed = True
                self.requests_cv.notify()
            with self.pending_lock:
                for slot in self.pending.values():
                    slot["event"].set()

    def _log(self, text):
        try:
            self.channel.send({"type": "log", "message": text})
        except Exception:
            pass

    def next_request(self):
        with self.requests_cv:
            while not self.requests and not self.closed:
                self.requests_cv.wait()
            if self.requests:
                return self.requests.pop(0)
            return None

    # -- host calls ------------------------------------------------------------------------

    def host_call(self, name, args, kwargs):
        with self.pending_lock:
            self.next_call += 1
            call_id = self.next_call
            slot = {"event": threading.Event(), "msg": None}
            self.pending[call_id] = slot
        try:
            self.channel.send(
                {"type": "host_call", "id": call_id, "name": name,
                 "args": {"args": list(args), "kwargs": dict(kwargs)}}
            )
            while not slot["event"].wait(0.5):
                pass
        finally:
            with self.pending_lock:
                self.pending.pop(call_id, None)
        msg = slot["msg"]
        if msg is None:
            raise HostCallError(f"host channel closed during call to {name}")
        if msg.get("ok"):
            return msg.get("value")
        raise HostCallError(str(msg.get("error", "unknown error")))

    def define_host_functions(self, names):
        for name in names:
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"not a valid function name: {name!r}")
            self.namespace[name] = self._make_stub(name)

    def _make_stub(self, name):
        kernel = self

        def stub(*args, **kwargs):
            return kernel.host_call(name, args, kwargs)

        stub.__name__ = name
        stub.__qualname__ = name
        stub.__doc__ = f"Host function `{name}` (runs on the worker)."
        return stub

    # -- cells -----------------------------------------------------------------------------

    def _watchdog(self, timeout, done):
        if done.wait(timeout):
            return
        # A real signal interrupts blocking calls (sleep, reads) too. It is sent under the
        # lock, after checking `done`, so no interrupt reaches the kernel once the cell ended.
        while True:
            with self.signal_lock:
                if done.is_set():
                    return
                self.timed_out = True
                os.kill(os.getpid(), signal.SIGINT)
            if done.wait(1.0):
                return

    def _start_watchdog(self, timeout, done):
        """Starts the cell's watchdog thread; when the process limit is exhausted (e.g. right
        after a fork bomb), reaps exited children and retries for a few seconds. Without a
        watchdog the host's grace timeout still restarts the kernel."""
        deadline = time.monotonic() + 5.0
        while True:
            _reap_children()
            try:
                threading.Thread(target=self._watchdog, args=(timeout, done),
                                 name="herd-watchdog", daemon=True).start()
                return
            except RuntimeError as e:
                if time.monotonic() > deadline:
                    self._log(f"no watchdog for this cell: {e}")
                    return
                time.sleep(0.05)

    def run_cell(self, code, timeout):
        started = time.monotonic()
        self.timed_out = False
        result = None
        error = None
        functions = []
        called = []
        self.capture.take()
        _reap_children()
        self.cell_count += 1
        filename = f"<cell-{self.cell_count}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
        tree = None
        try:
            tree = ast.parse(code, filename=filename, mode="exec")
        except SyntaxError as e:
            error = {"ename": "SyntaxError", "evalue": str(e.msg),
                     "traceback": _clean_traceback(e)}
        if tree is not None:
            try:
                functions = extract_functions(code, tree)
            except Exception as e:  # metadata must never break a cell
                self._log(f"function extraction failed: {e!r}")
            called = _top_level_called(tree)
            last_expr = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last_expr = ast.Expression(tree.body.pop().value)
            done = threading.Event()
            signal.signal(signal.SIGINT, signal.default_int_handler)
            if timeout and timeout > 0:
                self._start_watchdog(timeout, done)
            try:
                try:
                    if tree.body:
                        exec(compile(tree, filename, "exec"), self.namespace)
                    if last_expr is not None:
                        value = eval(compile(last_expr, filename, "eval"), self.namespace)
                        if value is not None:
                            self.namespace["_"] = value
                            result = repr(value)
                finally:
                    if os.getpid() != self.pid:
                        os._exit(0)  # a child forked by the cell: never return to the kernel loop
                    with self.signal_lock:
                        done.set()
                    signal.signal(signal.SIGINT, signal.SIG_IGN)
            except BaseException as e:  # noqa: B902 (user code may raise anything)
                if os.getpid() != self.pid:
                    os._exit(1)
                if isinstance(e, KeyboardInterrupt) and self.timed_out:
                    error = {"ename": "TimeoutError",
                             "evalue": f"cell exceeded its time limit of {timeout:g}s and was interrupted",
                             "traceback": _clean_traceback(e)}
                else:
                    error = {"ename": type(e).__name__, "evalue": str(e),
                             "traceback": _clean_traceback(e)}
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        _reap_children()
        self.pump.sync()
        return {
            "type": "cell_result",
            "output": self.capture.take(),
            "result": result,
            "error": error,
            "functions": functions,
            "called": called,
            "timed_out": self.timed_out,
            "duration_ms": int((time.monotonic() - started) * 1000),
        }

    def put_file(self, name, data_b64):
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
            raise ValueError(f"invalid file name (a plain name is needed): {name!r}")
        path = os.path.join(self.workspace, name)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data_b64))
        return path

    # -- main loop ---------------------------------------------------------------------------

    def serve(self):
        while True:
            msg = self.next_request()
            if msg is None:
                return
            kind = msg.get("type")
            rid = msg.get("id")
            try:
                if kind == "ping":
                    reply = {"type": "pong", "python": sys.version.split()[0], "pid": os.getpid()}
                elif kind == "define_host_functions":
                    self.define_host_functions(msg.get("names", []))
                    reply = {"type": "ack"}
                elif kind == "put_file":
                    reply = {"type": "ack", "path": self.put_file(msg["name"], msg["data_b64"])}
                elif kind == "run_cell":
                    reply = self.run_cell(msg.get("code", ""), float(msg.get("timeout") or 0))
                elif kind == "shutdown":
                    self.channel.send({"type": "ack", "id": rid})
                    return
                else:
                    reply = {"type": "error", "message": f"unknown request type {kind!r}"}
            except KeyboardInterrupt:
                reply = {"type": "error", "message": "interrupted"}
            except Exception as e:
                reply = {"type": "error", "message": f"{type(e).__name__}: {e}"}
            reply["id"] = rid
            self.channel.send(reply)


def main():
    _apply_limits()
    workspace = os.environ.get("HERD_WORKSPACE")
    if workspace:
        os.makedirs(workspace, exist_ok=True)
        os.chdir(workspace)
    Kernel().serve()


if __name__ == "__main__":
    main()
