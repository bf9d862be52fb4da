# Tries to kill its parent and then the evaluator itself by pid (the test fills in __TARGETS__).
import os
import signal

for pid in (__TARGETS__):
    os.kill(pid, signal.SIGKILL)
