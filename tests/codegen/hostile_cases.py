"""Hostile completions for a toy HumanEval-style problem, ``add(a, b)``; each must be scored as not passed.

Every case is a whole program run in the sandbox (prompt + completion) with the test below run by the trusted
checker. ``__CANARY__``, ``__PORT__``, ``__KEY__``, ``__EVALUATOR__`` are filled in by ``hostile_driver.py``.
"""

from pathlib import Path

EVIL = Path(__file__).with_name("evil_programs")  # the standalone hostile programs of test_sandbox.py
PROMPT = 'def add(a, b):\n    """Return a + b."""\n'
TEST = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n\ncheck(add)\n"
CORRECT = "    return a + b\n"
WRONG = "    return None\n"

FORGE_RECORD = '{"verdict": "passed", "ok": "x"}\n'

# name -> (completion appended to the prompt, SandboxLimits overrides, expected statuses or "passed")
CASES = {
    # the three forgeries of issue 12
    "rebind_os_exit": (WRONG + "import os as _o\n_o._exit = lambda c, _r=_o._exit: None if c else _r(0)\n", {}, ("failed",)),
    "frame_nonce_theft": (WRONG + """import sys, gc, socket, json, struct
f = sys._getframe()
while f is not None:  # walk up to the runner and take whatever looks like a secret or a channel
    for k, v in list(f.f_locals.items()):
        if isinstance(v, dict) and ("nonce" in v or "source" in v):
            v["nonce"] = "x"
    f = f.f_back
for o in gc.get_objects():  # forge a ready message and a verdict on every socket in reach
    if isinstance(o, socket.socket):
        try:
            for msg in ({"ready": {"add": ["value", 5]}}, {"verdict": "passed", "ok": "x"}, {"passed": True}):
                d = json.dumps(msg).encode()
                o.sendall(struct.pack("<I", len(d)) + d)
        except OSError:
            pass
""", {}, ("failed",)),
    "always_equal": ("    class E:\n        def __eq__(self, o): return True\n        def __bool__(self): return True\n"
                     "    return E()\n", {}, ("failed",)),
    "int_subclass_equal": ("    class I(int):\n        def __eq__(self, o): return True\n        __hash__ = int.__hash__\n"
                           "    return I(7)\n", {}, ("failed",)),
    "exit_0_early": (CORRECT + "import sys\nsys.exit(0)\n", {}, ("failed",)),
    "os_exit_0_early": (CORRECT + "import os\nos._exit(0)\n", {}, ("failed",)),
    "rebind_sys_exit_and_builtins": (WRONG + """import sys, builtins
sys.exit = lambda *a: None
builtins.AssertionError = type("AssertionError", (Exception,), {})
def abs(x):
    return 0
def isinstance(*a):
    return True
""", {}, ("failed",)),
    "forged_record_everywhere": (WRONG + """import os
rec = __FORGE__
for fd in range(0, 256):
    try:
        os.write(fd, rec.encode())
    except OSError:
        pass
n = tried = 0
for top in ("__CANARY_DIR__", "/tmp", "/var/tmp", "/dev/shm", "__VENV__", "/root", "/etc"):
    for d, _, files in os.walk(top):
        if d.startswith(os.getcwd()):
            continue  # its own work dir
        for name in files[:50]:
            tried += 1
            try:
                with open(os.path.join(d, name), "r+") as f:
                    f.write(rec)
                n += 1
            except OSError:
                pass
        if tried > 2000:
            break
print("overwrote", n, "of", tried)
""", {"timeout_s": 15.0}, ("failed", "timeout")),
    "infinite_loop": (CORRECT + "while True:\n    pass\n", {"timeout_s": 3.0, "cpu_s": 2}, ("timeout",)),
    "loop_inside_the_call": ("    while True:\n        pass\n", {"timeout_s": 3.0, "cpu_s": 2}, ("timeout",)),
    "fork_bomb": (CORRECT + """import os, time
t = time.time()
while time.time() - t < 3:
    try:
        os.fork()
    except OSError:
        pass
""", {"timeout_s": 3.0, "cpu_s": 2, "max_processes": 16}, ("timeout", "failed", "crashed")),
    "memory_bomb": (CORRECT + "x = []\nwhile True:\n    x.append(bytearray(1 << 24))\n", {"memory_mb": 256}, ("memory",)),
    "network_socket": (CORRECT + "import socket\nsocket.create_connection(('127.0.0.1', __PORT__), timeout=2).sendall(b'hi')\n",
                       {}, ("failed",)),
    "network_ctypes": (CORRECT + """import ctypes, struct
libc = ctypes.CDLL(None, use_errno=True)
s = libc.socket(2, 1, 0)
addr = struct.pack("<HH4s8x", 2, __PORT__ >> 8 | (__PORT__ & 255) << 8, bytes([127, 0, 0, 1]))
if s < 0 or libc.connect(s, addr, len(addr)) != 0:
    raise OSError(ctypes.get_errno(), "connect")
libc.send(s, b"hi", 2, 0)
""", {}, ("failed",)),
    "ipc_objects": (CORRECT + """import ctypes
libc = ctypes.CDLL(None, use_errno=True)
rt = ctypes.CDLL("librt.so.1", use_errno=True)
made = [libc.shmget(__KEY__, 4096, 0o1666), libc.msgget(__KEY__, 0o1666), libc.semget(__KEY__, 1, 0o1666),
        rt.mq_open(b"/toksmith-__KEY__", 0o100 | 2, 0o666, None)]
print("ipc", made)
raise RuntimeError("left IPC objects")
""", {}, ("failed",)),
    "read_host_proc": (CORRECT + """import os
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
print("pids", pids)
print("evaluator visible", os.path.exists("/proc/__EVALUATOR__/cmdline") and "__EVALUATOR__" not in ("1", "2"))
raise RuntimeError("looked around")
""", {}, ("failed",)),
    "setsid_daemon": (CORRECT + (EVIL / "orphan_daemon.py").read_text(), {}, ("failed",)),
    "kill_the_evaluator": (CORRECT + """import os, signal
for pid in (os.getppid(), __EVALUATOR__, -1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
raise RuntimeError("tried to kill")
""", {}, ("failed", "crashed")),
    "delete_the_canary": (CORRECT + "import os, shutil\nos.remove('__CANARY__')\n", {}, ("failed",)),
    "write_outside": (CORRECT + """errors = []
for target in ["__CANARY__", "__CANARY_DIR__/evil.txt", "/tmp/toksmith-evil-__KEY__", "/dev/shm/toksmith-evil-__KEY__",
               "/var/tmp/toksmith-evil-__KEY__"]:
    try:
        with open(target, "w") as f:
            f.write("owned")
    except OSError as e:
        errors.append(e)
if errors:
    raise errors[0]
""", {}, ("failed",)),
    "fill_the_disk": (CORRECT + """i = 0
while True:
    with open(f"blob{i}", "wb") as f:
        f.write(b"x" * (1 << 20))
    i += 1
""", {"max_disk_mb": 8, "max_file_mb": 4}, ("failed", "file_limit")),
    "file_count_bomb": (CORRECT + """i = 0
while True:
    open(f"f{i}", "w").close()
    i += 1
""", {"max_files": 200}, ("failed",)),
    "output_flood": (CORRECT + "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", {"max_output_bytes": 1 << 16},
                     ("output_limit",)),
    "output_before_failure_kept": (CORRECT + "print('said this first')\nimport os\nos._exit(3)\n", {}, ("failed",)),
    "segfault": (CORRECT + "import ctypes\nctypes.string_at(0)\n", {}, ("crashed",)),
    "stdin_blocks": (CORRECT + "input()\n", {}, ("failed",)),
    # correct code that touches its own work dir must pass
    "relative_write_passes": ("""    with open("scratch.txt", "w") as f:
        f.write(str(a + b))
    with open("scratch.txt") as f:
        return int(f.read())
""", {}, "passed"),
}
