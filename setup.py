"""Build the optional C++ extension ``toksmith.bpe.native._core`` (pre-tokenizer, counting, BPE merges).

Everything else about the package lives in pyproject.toml. The extension is optional: if the compiler is missing
or the build fails, ``pip install`` still succeeds, ``import toksmith`` works, and the ``toksmith`` training backend
raises a ToksmithError that says the extension is not built.
"""

from setuptools import setup

try:
    from pybind11.setup_helpers import Pybind11Extension, build_ext
except ImportError:  # pybind11 is in build-system.requires; without it we build no extension at all
    ext_modules, cmdclass = [], {}
else:
    ext_modules = [
        Pybind11Extension(
            "toksmith.bpe.native._core",
            ["src/toksmith/bpe/native/_core.cpp"],
            cxx_std=17,
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
    cmdclass = {"build_ext": build_ext}

setup(ext_modules=ext_modules, cmdclass=cmdclass)
