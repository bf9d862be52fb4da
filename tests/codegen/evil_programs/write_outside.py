# Tries to write outside its temporary directory: next to a sentinel, into /tmp, over the sentinel itself.
# Every target is tried; the program ends normally (and would pass) if any write got through.
errors = []
for target in ["__SENTINEL__/evil.txt", "/tmp/toksmith-evil-__TAG__.txt", "__SENTINEL__/keep.txt"]:
    try:
        with open(target, "w") as f:
            f.write("owned")
    except OSError as e:
        errors.append(e)
if len(errors) == 3:
    raise errors[0]
