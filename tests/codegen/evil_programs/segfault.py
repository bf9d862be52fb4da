# Dereferences a NULL pointer: the interpreter dies with SIGSEGV.
import ctypes

ctypes.string_at(0)
