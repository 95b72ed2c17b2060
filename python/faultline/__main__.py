"""`python -m faultline ARGS`: the binary installed with this package, with ARGS.

It replaces this process (os.execv), so the exit status, or the signal faultline dies of,
is the binary's own.
"""

import os
import sys

from ._binary import BinaryNotFound, find_faultline_bin

# faultline's status for its own failure before anything ran (see `faultline --help`).
OWN_FAILURE = 125


def main():
    try:
        binary = find_faultline_bin()
    except BinaryNotFound as missing:
        sys.stderr.write("faultline: {}\n".format(missing))
        return OWN_FAILURE
    try:
        os.execv(binary, [binary, *sys.argv[1:]])
    except OSError as err:
        sys.stderr.write("faultline: cannot run {}: {}\n".format(binary, err.strerror or err))
        return OWN_FAILURE


if __name__ == "__main__":
    sys.exit(main())
