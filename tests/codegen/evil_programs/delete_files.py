# Tries to delete a file and a directory tree that do not belong to it; ends normally if either worked.
import os
import shutil

errors = []
for action in (lambda: os.remove("__SENTINEL__/keep.txt"), lambda: shutil.rmtree("__SENTINEL__")):
    try:
        action()
    except OSError as e:
        errors.append(e)
if len(errors) == 2:
    raise errors[0]
