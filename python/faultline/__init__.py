"""faultline: run Python test suites and apps under ptrace and explain every native crash.

The package ships the `faultline` binary (installed in the environment's scripts folder),
`python -m faultline`, which runs that binary, and a pytest plugin (`pytest --faultline`).
"""

from ._binary import BinaryNotFound, find_faultline_bin

__all__ = ["BinaryNotFound", "find_faultline_bin"]
