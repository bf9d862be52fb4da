# Spins forever: must end as a timeout (wall clock or RLIMIT_CPU).
while True:
    pass
