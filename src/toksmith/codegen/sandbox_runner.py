"""The sandbox's process side: a warm fork server that runs each untrusted program isolated. Never imported by toksmith.

Started by :mod:`toksmith.codegen.sandbox` as ``python -I sandbox_runner.py --server FD MODE SETUP_JSON`` (one per
worker slot), it prepares once what every run shares, then waits on a Unix socket:

* ``root`` (the evaluator is root): a private mount namespace in which every mount is read-only, ``/tmp`` is an
  empty tmpfs holding the work dir's mount point, and directories only root may enter (``/root``) are replaced by
  a tmpfs through which only the interpreter's own directories are bound;
* ``userns`` (not root, unprivileged user namespaces allowed): the same, inside a new user namespace in which the
  server is uid 0, mapped to the evaluator's uid (``nobody`` in the tests) and nothing else;
* ``rlimits`` (last resort): nothing shared; the work dir is a host temporary directory.

Each run is one process that is PID 1 of a new PID namespace, forked after ``unshare(CLONE_NEWPID)`` (the server
then returns to its own with ``setns``; in ``userns`` mode the server is itself PID 1 of a slot namespace so that
it may). It is forked **ahead** of its request (``fork_spare``: while the slot's current run executes, so the fork
and the namespace set-up use CPU that would otherwise idle): it enters new **mount, IPC and UTS** namespaces (the
slot's network namespace, with only a down loopback, is shared by the slot's runs, which follow one another),
mounts a size- and inode-limited tmpfs on the work dir and a fresh ``/proc``, and waits on a control socket. A
``run`` request (the program, and its stdout, stderr and call-socket ends as passed file descriptors) goes to that
spare, or to one forked at once when there is none or it was set up for other limits or another environment; it
acknowledges (a spare killed before taking the run is replaced, never given out), writes the program, sets
rlimits, drops every capability (the bounding set is already empty: the server empties it once after its setup,
and forks inherit it), takes a private uid in ``root`` mode, sets no-new-privileges, ``chdir``s into the mounted
work dir and runs the source in fresh globals. The program never decides its verdict: when its top level has run
it sends the names it defines over the call socket and then only answers calls (``name, args -> return value``)
whose arguments and results are JSON-like plain data, for the trusted checker (``sandbox_checker.py``). The
server answers with a pidfd of the run, reaps ended runs on SIGCHLD, and a ``wait`` request returns a run's
status. A spare dies with its server (parent-death signal, and EOF on its control socket).

This file imports only the standard library (and ``sandbox_wire.py`` beside it, the call socket's codec, which the
checker shares), trusts nothing it runs, and talks to no one but its socket.
"""

import ctypes
import io
import json
import os
import resource
import signal
import socket
import sys

# ``python -I`` leaves the script's directory off sys.path: on it only for the codec, which is beside this file
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sandbox_wire as wire  # noqa: E402

del sys.path[0]  # the program's sys.path is what it was before (run_program puts the work dir first)

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
NEWNS, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET = 0x20000, 0x4000000, 0x8000000, 0x10000000, 0x20000000, 0x40000000
RDONLY, NOSUID, NODEV, NOEXEC, REMOUNT, NOATIME, NODIRATIME, BIND = 1, 2, 4, 8, 32, 1024, 2048, 4096
REC, PRIVATE, RELATIME, STRICTATIME = 16384, 1 << 18, 1 << 21, 1 << 24
KEEP = NOSUID | NODEV | NOEXEC | NOATIME | NODIRATIME | RELATIME  # statvfs f_flag bits equal the MS_* bits
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
SYS_CAPSET = 126 if os.uname().machine == "x86_64" else 91
CAP_HEADER = (ctypes.c_uint32 * 2)(0x20080522, 0)  # capset(v3, pid 0): only read by the kernel
CAP_EMPTY = (ctypes.c_uint32 * 6)()  # empty effective, permitted and inheritable sets
libc.prctl, libc.syscall  # looked up once here, not after every fork
ENV = [None]  # the environment last given to runs: set in the server, inherited by each fork
DEVNULL = []
SPARE = []  # the next run's process, forked ahead (``fork_spare``)
PIDNS = []  # the server's own PID namespace (fd)
TO_LOCAL = []
HOST = []  # user-namespace mode: the server's pid in the host's /proc
WORK = "/tmp/work"  # the work dir's path inside the namespaces (a fresh tmpfs per run)


def mount(src, target, fstype, flags, data=None):
    def enc(s):
        return None if s is None else s.encode()

    if libc.mount(enc(src), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "mount %s: %s" % (target, os.strerror(err)))


def unshare(flags):
    if libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "unshare: %s" % os.strerror(err))


def unescape(path):
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)


def prepare(mode, setup):
    """Once per server: the shared read-only view of the host (namespace modes)."""
    # One network namespace per slot (only a loopback, down), shared by the slot's runs, which follow one
    # another: creating and tearing one down per run was the largest single cost of a run.
    if mode == "userns":
        uid, gid = os.getuid(), os.getgid()
        unshare(NEWUSER | NEWNS | NEWNET | NEWPID)
        write_file("/proc/self/setgroups", "deny")
        write_file("/proc/self/uid_map", "0 %d 1" % uid)
        write_file("/proc/self/gid_map", "0 %d 1" % gid)
        # The server goes on as PID 1 of a PID namespace its user namespace owns, so that it may return to it
        # (setns) after each run's unshare(CLONE_NEWPID); this process only waits for it.
        child = os.fork()
        if child != 0:
            os.closerange(3, 1 << 16)
            _, status = os.waitpid(child, 0)
            os._exit(status_code(status))
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        HOST.append(os.readlink("/proc/self"))  # /proc is still the host's here
    else:
        unshare(NEWNS | NEWNET)
    mount(None, "/", None, REC | PRIVATE)  # nothing below propagates to the host
    for parent, children in setup.get("reveal", []):
        fds = [os.open(os.path.join(parent, c), os.O_PATH) for c in children]
        mount("tmpfs", parent, "tmpfs", NOSUID | NODEV, "size=64k,mode=755")
        for c, fd in zip(children, fds):
            os.mkdir(os.path.join(parent, c))
            mount("/proc/self/fd/%d" % fd, os.path.join(parent, c), None, BIND | REC)
            os.close(fd)
    with open("/proc/self/mountinfo") as f:
        mounts = [unescape(line.split()[4]) for line in f]
    for mp in mounts:  # read-only everywhere (keeping the flags a user namespace may not clear)
        try:
            flags = os.statvfs(mp).f_flag & KEEP
            mount(None, mp, None, REMOUNT | BIND | RDONLY | flags)
        except OSError:
            if mp == "/":
                raise
    # Host /tmp, /var/tmp and /dev/shm are world-writable: hide them behind empty read-only tmpfs.
    for d in ("/var/tmp", "/dev/shm", "/run/shm"):
        if os.path.isdir(d) and not os.path.islink(d):
            try:
                mount("tmpfs", d, "tmpfs", NOSUID | NODEV | NOEXEC | RDONLY, "size=4k,mode=755")
            except OSError:
                pass
    mount("tmpfs", "/tmp", "tmpfs", NOSUID | NODEV, "size=64k,mode=755")
    os.mkdir(WORK)
    mount(None, "/tmp", None, REMOUNT | RDONLY | NOSUID | NODEV)


def status_code(status):
    return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def block_sockets():
    import _socket

    def refuse(*args, **kwargs):
        raise PermissionError(13, "network access is disabled in the toksmith sandbox")

    for mod in (socket, _socket):
        for name in ("socket", "create_connection", "create_server", "fromfd", "getaddrinfo", "socketpair"):
            if hasattr(mod, name):
                setattr(mod, name, refuse)


# --- plain data over the call socket ----------------------------------------------------------------------------

class Handles:
    """Values that are not plain data stay here; the checker sees an opaque handle it can only pass back."""

    def __init__(self):
        self.objs = []

    def enc_or_handle(self, v):
        try:
            return wire.encode(v)
        except (TypeError, ValueError, RecursionError):
            self.objs.append(v)
            try:
                truth = bool(v)  # a truthy value passes ``assert f(x)`` whatever it is: plain True would too
            except BaseException:
                truth = None
            return {"h": [len(self.objs) - 1, truth]}

    def dec(self, v):
        return wire.decode(v, self.objs.__getitem__)  # the checker passes back {"h": id}


def serve_calls(sock, g):
    """After the program's top level: export its names, then answer the checker's calls until it hangs up."""
    handles = Handles()
    exports = {}
    for name, v in list(g.items()):
        if name.startswith("__"):
            continue
        if type(v).__name__ == "module":
            exports[name] = ["module", getattr(v, "__name__", "")]
        elif callable(v):
            exports[name] = ["call"]
        else:
            exports[name] = ["value", handles.enc_or_handle(v)]
    wire.send(sock, {"ready": exports})
    while True:
        try:
            msg = wire.recv(sock)
        except wire.SandboxError:  # the checker hung up (or broke the framing)
            return
        try:
            target = g[msg["name"]] if "name" in msg else handles.objs[msg["handle"]]
            args = handles.dec(msg["args"])
            kwargs = {k: handles.dec(x) for k, x in msg["kwargs"]}
            reply = {"ok": handles.enc_or_handle(target(*args, **kwargs))}
        except BaseException as e:  # SystemExit and KeyboardInterrupt too: they fail the call, not the runner
            reply = {"raise": type(e).__name__, "message": str(e)[:500]}
        try:
            wire.send(sock, reply)
        except (TypeError, ValueError):
            wire.send(sock, {"raise": "TypeError", "message": "unencodable reply"})


# --- the run's processes ----------------------------------------------------------------------------------------

def drop_bounding_set():
    """Once per server, after its setup: every capability out of the bounding set. Each run inherits the empty
    set (fork copies it, and nothing can add to it), so the runs need not drop 64 capabilities one by one."""
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == 22:
            break  # EINVAL: past the last capability


def drop_privileges(cfg):
    """The run's process: the bounding set is already empty (``drop_bounding_set``); now the uid and the rest."""
    if cfg["uid"] is not None:
        os.setgroups([])
        os.setgid(cfg["uid"])
        os.setuid(cfg["uid"])
    libc.syscall(SYS_CAPSET, CAP_HEADER, CAP_EMPTY)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # cleared by setuid, so set after it
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    # Never run untrusted code as the host's root: uid 0 is only acceptable inside a user namespace.
    if os.getuid() == 0 or os.geteuid() == 0:
        with open("/proc/self/uid_map") as f:
            inside, outside, _ = f.read().split()[:3]
        if outside == "0":
            os._exit(126)


def unbuffered():
    """stdout/stderr written straight to the pipes: output before a crash, os._exit or a kill is kept."""
    for fd, name in ((1, "stdout"), (2, "stderr")):
        stream = io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), encoding="utf-8", errors="backslashreplace",
                                  write_through=True)
        setattr(sys, name, stream)
        setattr(sys, "__%s__" % name, stream)


def run_program(cfg, sock_fd):
    """The program process: limits, privileges, then the program and its call loop. Never returns."""
    lim = cfg["limits"]
    for res, soft, hard in (
        (resource.RLIMIT_AS, lim["as"], lim["as"]), (resource.RLIMIT_CPU, lim["cpu"], lim["cpu"]),
        (resource.RLIMIT_FSIZE, lim["fsize"], lim["fsize"]), (resource.RLIMIT_NOFILE, lim["nofile"], lim["nofile"]),
        (resource.RLIMIT_CORE, 0, 0), (resource.RLIMIT_NPROC, lim["nproc"], lim["nproc"]),
    ):
        resource.setrlimit(res, (soft, hard))
    drop_privileges(cfg)
    os.chdir(cfg["workdir"])
    sock = socket.socket(fileno=sock_fd)
    if cfg["mode"] == "rlimits":
        block_sockets()
    unbuffered()
    path = os.path.join(cfg["workdir"], "program.py")
    sys.argv, sys.path[0] = [path], cfg["workdir"]
    source = cfg.pop("source")
    g = {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__}
    try:
        code = compile(source, path, "exec")
        del source, cfg
        exec(code, g)
        serve_calls(sock, g)
        code = 0
    except SystemExit as e:
        code = e.code & 0xFF if isinstance(e.code, int) else (0 if e.code is None else 1)
        report_error(sock, "SystemExit", repr(e.code))
    except BaseException as e:
        report_error(sock, type(e).__name__, str(e))
        import traceback

        traceback.print_exc()
        code = 1
    os._exit(code)


def report_error(sock, kind, message):
    try:
        wire.send(sock, {"error": kind, "message": message[:500]})
    except BaseException:
        pass


def isolate(cfg):
    """The next run's process, PID 1 of its new PID namespace, before its program is known: mount, IPC and UTS
    namespaces, a fresh tmpfs on the work dir (with the limits of the request it was forked after; a request with
    other limits gets a process forked for it) and a fresh ``/proc``."""
    if cfg["mode"] != "rlimits":
        unshare(NEWNS | NEWIPC | NEWUTS)  # mounts stay private: the server's namespace is
        lim = cfg["limits"]
        mount("tmpfs", WORK, "tmpfs", NOSUID | NODEV,
              "size=%dk,nr_inodes=%d,mode=700" % (lim["disk_kb"], lim["files"] + 2))
        mount("proc", "/proc", "proc", NOSUID | NODEV | NOEXEC)  # this PID namespace's processes only


def execute(cfg, sock_fd):
    """The run's process, isolated (``isolate``) and given its program: write it into the work dir, then run it.
    Never returns."""
    if cfg["mode"] != "rlimits":
        cfg["workdir"] = WORK
    path = os.path.join(cfg["workdir"], "program.py")
    data = cfg["source"].encode("utf-8")  # plain os calls: the io stack's first use after fork costs more
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)
    if cfg["uid"] is not None:
        os.chown(cfg["workdir"], cfg["uid"], cfg["uid"])
        os.chown(path, cfg["uid"], cfg["uid"])
    run_program(cfg, sock_fd)


def spare_key(cfg):
    """What a process forked ahead was prepared for: a request that differs in any of these gets a fresh one."""
    lim = cfg["limits"]
    return json.dumps([cfg["mode"], lim["disk_kb"], lim["files"], cfg["env"]], sort_keys=True)


def fork_spare(server_sock, cfg):
    """Fork the next run's process ahead of its request (while the slot's current run executes), isolated and
    waiting on a control socket for its request: the program, its pipes and its call socket. Returns ``[pid,
    host pid, control socket, key]``. A spare dies with its server (parent-death signal, EOF on the socket)."""
    if ENV[0] != cfg["env"]:  # the program's environment, set here: the run inherits it (no work after fork)
        os.environ.clear()
        os.environ.update(cfg["env"])
        ENV[0] = dict(cfg["env"])
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    before = children() if HOST else None
    if cfg["mode"] != "rlimits":
        unshare(NEWPID)  # the next child is PID 1 of a new PID namespace
        try:
            pid = os.fork()
        except OSError:
            pid = -1
        if pid != 0 and libc.setns(PIDNS[0], NEWPID) != 0:  # back to our own for the children after it
            os._exit(1)  # cannot happen; a server that cannot return would put the next run in this one's namespace
    else:
        try:
            pid = os.fork()
        except OSError:
            pid = -1
    if pid < 0:
        ours.close()
        theirs.close()
        raise OSError("fork failed")
    if pid == 0:
        try:
            os.close(server_sock.fileno())  # the program must never reach the server
            ours.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.setsid()
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            isolate(cfg)
            msg, fds = wire.next_request(theirs, 3)
            if msg is None or len(fds) != 3:
                os._exit(0)  # discarded by the server, or the server is gone
            theirs.send(b"1")  # taken: only now does the server give out this process as the run
            theirs.close()
            os.dup2(DEVNULL[0], 0)
            os.dup2(fds[0], 1)
            os.dup2(fds[1], 2)
            os.dup2(fds[2], 3)
            os.closerange(4, 1 << 16)  # nothing else of the server's reaches the program
            execute(json.loads(msg)["cfg"], 3)
        except BaseException as e:
            try:
                os.write(2, ("toksmith sandbox: could not start the run: %r\n" % (e,)).encode())
            except OSError:
                pass
            os._exit(123)
    theirs.close()
    try:
        return [pid, host_pid(pid, before), ours, spare_key(cfg)]
    except OSError:
        ours.close()
        raise


def discard_spare():
    while SPARE:
        SPARE.pop()[2].close()  # EOF: it exits (and is reaped on SIGCHLD)


def start_run(server_sock, msg, cfg, fds):
    """Hand a run request (its message, and the program's stdout, stderr and call-socket ends) to the spare
    forked for it, or to one forked now if there is none or it was prepared for other limits; returns the run's
    pid and host pid."""
    try:
        for attempt in (0, 1):
            if attempt or not SPARE or SPARE[0][3] != spare_key(cfg):
                discard_spare()
                SPARE.append(fork_spare(server_sock, cfg))
            pid, hpid, ctl, _ = SPARE.pop()
            with ctl:
                try:
                    ctl.settimeout(30)
                    socket.send_fds(ctl, [msg], list(fds))
                    if ctl.recv(1) == b"1":
                        return pid, hpid
                    raise OSError("the spare died before taking the run")
                except OSError:  # e.g. killed from outside (a kill is asynchronous: the send may still work)
                    if attempt:
                        raise
    finally:
        for fd in fds:
            os.close(fd)


def children():
    with open("/proc/%s/task/%s/children" % (HOST[0], HOST[0])) as f:
        return set(f.read().split())


def host_pid(pid, before):
    """The run's pid as the evaluator sees it (user-namespace mode: our own PID namespace is not the host's)."""
    if not HOST:
        return pid
    new = children() - before
    if len(new) != 1:
        os.kill(pid, signal.SIGKILL)
        raise OSError("cannot tell the run's host pid")
    return int(new.pop())


def kill_uid(uid):
    """End every process of a private uid (rlimits mode, where no PID namespace does it)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)  # every process this uid may signal, i.e. its own; never ourselves
        except BaseException:
            pass
        os._exit(0)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


# Imported once by the server so that forked programs find them loaded (HumanEval prompts import typing).
PRELOAD = ("typing", "math", "re", "collections", "itertools", "functools", "heapq", "bisect", "string", "random",
           "statistics", "fractions", "decimal", "operator", "copy", "hashlib", "datetime", "traceback", "cmath",
           "array", "dataclasses", "enum", "numbers", "textwrap", "unicodedata", "struct")


def serve(sock_fd, mode, setup):
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    sock = socket.socket(fileno=sock_fd)
    if mode != "rlimits":
        try:
            prepare(mode, setup)
        except OSError as e:
            wire.answer(sock, {"ready": False, "error": str(e)})
            return
    drop_bounding_set()
    PIDNS.append(os.open("/proc/self/ns/pid", os.O_RDONLY))
    DEVNULL.append(os.open(os.devnull, os.O_RDONLY))  # each run's stdin (dup2'd; this fd itself is closed there)
    wire.answer(sock, {"ready": True})
    uids, done, to_local = {}, {}, {}
    TO_LOCAL.append(to_local)
    if mode != "rlimits":  # ended runs leave no zombie behind (rlimits: the evaluator still kills by pgid)
        signal.signal(signal.SIGCHLD, lambda *_: reap(done, uids, mode))
    while True:
        msg, fds = wire.next_request(sock, 3)
        if msg is None:
            return  # the evaluator is gone
        try:
            req = json.loads(msg)
            if req["op"] == "run" and len(fds) == 3:
                pid, hpid = start_run(sock, msg, req["cfg"], fds)
                uids[pid] = req["cfg"]["uid"]
                to_local[hpid] = pid
                pidfd = os.pidfd_open(pid)  # the evaluator waits and kills through it: no pid reuse races
                try:
                    socket.send_fds(sock, [json.dumps({"pid": hpid}).encode()], [pidfd])
                finally:
                    os.close(pidfd)
                try:
                    SPARE.append(fork_spare(sock, req["cfg"]))  # the next run's, while this one executes
                except OSError:
                    pass  # e.g. EAGAIN: the next request forks its own
                continue
            elif req["op"] == "wait":  # block: until the run ended; else its status if it already has
                pid = to_local.pop(req["pid"], None)
                if pid is None:
                    raise KeyError("unknown run")
                if pid not in done and req.get("block", True):
                    try:
                        _, status = os.waitpid(pid, 0)
                        done[pid] = status_code(status)
                        finished(uids.pop(pid, None), mode)
                    except ChildProcessError:
                        pass  # reaped by the SIGCHLD handler meanwhile: its status is in done
                reply = {"status": done.pop(pid, None)}
            else:
                for fd in fds:
                    os.close(fd)
                reply = {"error": "bad request"}
        except (OSError, ValueError, KeyError) as e:  # e.g. fork failing with EAGAIN
            reply = {"error": repr(e)}
        wire.answer(sock, reply)


def finished(uid, mode):
    if mode == "rlimits" and uid is not None:
        kill_uid(uid)


def reap(done, uids, mode):
    """Collect every child that ended (runs, and spares that were discarded); keep the status of the runs the
    evaluator may still ask about."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        if pid in uids:
            done[pid] = status_code(status)
            finished(uids.pop(pid), mode)
        elif pid not in done:
            done[pid] = status_code(status)
    for pid in list(done)[:-64]:  # statuses nobody asked for (runs that passed)
        del done[pid]
    if len(TO_LOCAL[0]) > 256:
        for k in list(TO_LOCAL[0])[:-64]:
            del TO_LOCAL[0][k]


if __name__ == "__main__":
    serve(int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4]))
