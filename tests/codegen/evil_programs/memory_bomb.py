# Allocates (and touches) 64 MiB chunks until something gives: RLIMIT_AS must stop it.
chunks = []
while True:
    chunk = bytearray(1 << 26)
    chunk[::4096] = b"x" * len(chunk[::4096])
    chunks.append(chunk)
