# Leaves through os._exit(0), skipping the tests and any cleanup: must not count as passed.
import os


def add(a, b):
    return a - b


os._exit(0)
assert add(2, 2) == 4
