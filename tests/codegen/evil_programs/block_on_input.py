# Waits for input: stdin is closed, so this must fail at once instead of hanging.
line = input()
assert line == "never"
