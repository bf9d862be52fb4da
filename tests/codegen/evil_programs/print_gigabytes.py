# Prints without end: the output cap must stop it quickly.
import sys

block = "x" * (1 << 20)
while True:
    sys.stdout.write(block)
