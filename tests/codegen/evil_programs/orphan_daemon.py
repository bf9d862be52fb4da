# Leaves a detached grandchild (new session) sleeping forever, then fails; nothing may survive the run.
import os
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(1000)
    os._exit(0)
time.sleep(0.2)
raise RuntimeError("left a daemon behind")
