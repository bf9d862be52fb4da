# Forks without end; RLIMIT_NPROC caps it and the whole process tree must be gone afterwards.
import os

while True:
    try:
        os.fork()
    except OSError:
        pass
