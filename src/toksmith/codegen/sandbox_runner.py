"""The sandbox's process side: a fork server that starts each program isolated. Never imported by toksmith.

Started by :mod:`toksmith.codegen.sandbox` as ``python -I sandbox_runner.py --server FD`` (one per worker slot,
root when the evaluator is root), it waits on a Unix socket. For a ``run`` request, which carries the program's
stdout/stderr/status pipe ends as passed file descriptors, it forks a child that starts a new session, takes
the pipes as its stdout/stderr, enters new network/PID/mount namespaces (``isolate``), and forks the reaper
(PID 1 of the new PID namespace) which forks the program process: rlimits, own uid, no new privileges, then
``exec`` of the program file in fresh globals. A ``wait`` request reaps a finished child and returns its
status. Forking a warm interpreter instead of starting one per sample is what makes execution cheap.

This file imports only the standard library, trusts nothing it runs, and talks to no one but its socket.
"""

import ctypes
import json
import os
import resource
import signal
import socket
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
NEWNS, NEWPID, NEWNET = 0x00020000, 0x20000000, 0x40000000
RDONLY, NOSUID, NODEV, NOEXEC, REMOUNT, BIND, REC, PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38


def report(cfg, obj):
    try:
        os.write(cfg["status_fd"], (json.dumps(obj) + "\n").encode())
    except OSError:
        pass


def mount(src, target, fstype, flags, data=None):
    def enc(s):
        return None if s is None else s.encode()

    if libc.mount(enc(src), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "mount %s: %s" % (target, os.strerror(err)))


def unescape(path):
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def isolate(cfg):
    """New net/PID/mount namespaces; every mount read-only except the work dir; hidden interpreter dirs revealed."""
    if libc.unshare(NEWNS | NEWPID | NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    mount(None, "/", None, REC | PRIVATE)  # nothing we do below propagates to the host
    for parent, children in cfg["reveal"]:
        fds = [os.open(os.path.join(parent, c), os.O_PATH) for c in children]
        mount("tmpfs", parent, "tmpfs", NOSUID | NODEV, "size=64k,mode=755")
        for c, fd in zip(children, fds):
            os.mkdir(os.path.join(parent, c))
            mount("/proc/self/fd/%d" % fd, os.path.join(parent, c), None, BIND | REC)
            os.close(fd)
    wd = cfg["workdir"]
    mount(wd, wd, None, BIND)
    with open("/proc/self/mountinfo") as f:
        mounts = [(unescape(line.split()[4]), line.split()[5].split(",")) for line in f]
    for mp, opts in mounts:
        if mp == wd:
            continue
        flags = REMOUNT | BIND | RDONLY | NOSUID | (NODEV if "nodev" in opts else 0) | (NOEXEC if "noexec" in opts else 0)
        try:
            mount(None, mp, None, flags)
        except OSError:
            if mp == "/":
                raise


def status_code(status):
    return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def block_sockets():
    import _socket

    def refuse(*args, **kwargs):
        raise PermissionError(13, "network access is disabled in the toksmith sandbox")

    for mod in (socket, _socket):
        for name in ("socket", "create_connection", "create_server", "fromfd", "getaddrinfo"):
            if hasattr(mod, name):
                setattr(mod, name, refuse)


def run_program(cfg):
    """The program process: limits, uid, then the program itself. Never returns."""
    lim = cfg["limits"]
    for res, soft, hard in (
        (resource.RLIMIT_AS, lim["as"], lim["as"]), (resource.RLIMIT_CPU, lim["cpu"], lim["cpu"] + 1),
        (resource.RLIMIT_FSIZE, lim["fsize"], lim["fsize"]), (resource.RLIMIT_NOFILE, lim["nofile"], lim["nofile"]),
        (resource.RLIMIT_CORE, 0, 0), (resource.RLIMIT_NPROC, lim["nproc"], lim["nproc"]),
    ):
        resource.setrlimit(res, (soft, hard))
    if cfg["uid"] is not None:
        os.setgroups([])
        os.setgid(cfg["uid"])
        os.setuid(cfg["uid"])
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # cleared by setuid, so set after it
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if not cfg["netns"]:
        block_sockets()
    path = cfg["program"]
    sys.argv, sys.path[0] = [path], cfg["workdir"]
    nonce = cfg.pop("nonce")
    try:
        with open(path, encoding="utf-8") as f:
            code = compile(f.read(), path, "exec")
        exec(code, {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__})
    except SystemExit as e:
        report(cfg, {"error": "SystemExit", "message": repr(e.code)[:200]})
        os._exit(e.code & 0xFF if isinstance(e.code, int) else (0 if e.code is None else 1))
    except BaseException as e:
        report(cfg, {"error": type(e).__name__, "message": str(e)[:500]})
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    report(cfg, {"ok": nonce})
    os._exit(0)


def execute(cfg):
    """The run's session leader: isolate, fork the reaper, mirror its status. Never returns."""
    cfg["netns"] = False
    if cfg["namespaces"]:
        try:
            isolate(cfg)
            cfg["netns"] = True
        except OSError as e:
            if cfg["require_isolation"]:
                report(cfg, {"isolation_error": str(e)})
                os._exit(125)
    kind = ("uid+" if cfg["uid"] is not None else "") + ("netns+pidns+mntns" if cfg["netns"] else "rlimits+nosocket")
    report(cfg, {"isolation": kind})
    reaper = os.fork()
    if reaper == 0:
        # PID 1 of the new PID namespace (or a plain child): runs no program code; reaps and mirrors the status.
        try:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            child = os.fork()
            if child == 0:
                run_program(cfg)
            while True:
                pid, status = os.wait()
                if pid == child:
                    os._exit(status_code(status))
        except BaseException:
            os._exit(124)
    _, status = os.waitpid(reaper, 0)
    os._exit(status_code(status))


def start_run(sock, cfg, fds):
    """Fork the session leader of one run with the passed pipes as its stdout/stderr/status."""
    out_fd, err_fd, status_fd = fds
    pid = os.fork()
    if pid == 0:
        try:
            sock.close()  # the program must never reach the server
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(out_fd, 1)
            os.dup2(err_fd, 2)
            for fd in (devnull, out_fd, err_fd):
                if fd > 2:
                    os.close(fd)
            cfg["status_fd"] = status_fd
            os.chdir(cfg["workdir"])
            os.environ.clear()
            os.environ.update(cfg["env"])
            execute(cfg)
        except BaseException:
            os._exit(123)
    for fd in fds:
        os.close(fd)
    return pid


def serve(sock_fd):
    sock = socket.socket(fileno=sock_fd)
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 1 << 16, 3)
        except OSError:
            return
        if not msg:
            return  # the evaluator is gone
        try:
            req = json.loads(msg)
            if req["op"] == "run" and len(fds) == 3:
                reply = {"pid": start_run(sock, req["cfg"], fds)}
            elif req["op"] == "wait":
                _, status = os.waitpid(req["pid"], 0)
                reply = {"status": status_code(status)}
            else:
                for fd in fds:
                    os.close(fd)
                reply = {"error": "bad request"}
        except (OSError, ValueError, KeyError) as e:  # e.g. fork failing with EAGAIN
            reply = {"error": repr(e)}
        sock.send(json.dumps(reply).encode())


if __name__ == "__main__":
    serve(int(sys.argv[2]))
