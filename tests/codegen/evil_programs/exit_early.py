# Exits with status 0 before the tests run: must not count as passed.
import sys


def add(a, b):
    return a - b


sys.exit(0)
assert add(2, 2) == 4
