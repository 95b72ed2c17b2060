"""Finding the `faultline` binary that was installed with this package.

The wheel puts it in the scripts folder of the scheme the package went into (`bin/` of a
virtualenv, `~/.local/bin` for `pip install --user`, `DIR/bin` for `pip install --target
DIR`). Another `faultline` on PATH (a `cargo install`, another environment's) is not ours:
its version may differ from this plugin's.
"""

import os
import sys
import sysconfig

EXE = "faultline" + (sysconfig.get_config_var("EXE") or "")


class BinaryNotFound(Exception):
    """The package is installed without its binary (a broken or partial install)."""

    def __init__(self, looked_in):
        self.looked_in = looked_in
        super().__init__(
            "the faultline binary of this package is missing (looked for {}); "
            "reinstall it: pip install --force-reinstall faultline".format(", ".join(looked_in))
        )


def find_faultline_bin():
    """The absolute path of the binary installed with this package; BinaryNotFound if none."""
    site_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    candidates = []
    for scheme in _schemes():
        paths = sysconfig.get_paths(scheme) if scheme else sysconfig.get_paths()
        scripts = os.path.join(paths["scripts"], EXE)
        # The scheme this package was installed into names the binary's folder.
        if any(_same_dir(site_dir, paths.get(key)) for key in ("purelib", "platlib")):
            candidates.insert(0, scripts)
        else:
            candidates.append(scripts)
    candidates.append(os.path.join(site_dir, "bin", EXE))  # pip install --target
    recorded = _recorded_binary()  # pip install --prefix and other layouts: the wheel's RECORD
    if recorded:
        candidates.append(recorded)
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise BinaryNotFound(_unique(candidates))


def _schemes():
    """None (the interpreter's default scheme), then the user scheme."""
    if sys.version_info >= (3, 10):
        user = sysconfig.get_preferred_scheme("user")
    elif sys.platform == "darwin" and getattr(sys, "_framework", None):
        user = "osx_framework_user"
    else:
        user = "posix_user"
    return [None, user]


def _same_dir(a, b):
    if not b:
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _recorded_binary():
    try:
        from importlib import metadata

        files = metadata.distribution("faultline").files or []
    except Exception:  # no metadata (a vendored copy): the other places are all there is
        return None
    for entry in files:
        if entry.name == EXE and entry.parent.name in ("bin", "scripts", "Scripts"):
            return str(entry.locate())
    return None


def _unique(paths):
    seen = []
    for path in paths:
        if path not in seen:
            seen.append(path)
    return seen
