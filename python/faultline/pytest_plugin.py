"""`pytest --faultline`: the same pytest run, under `faultline run`.

With `--faultline` (or FAULTLINE=1 in the environment), a pytest started outside faultline
replaces itself, before it has imported a conftest or printed anything, with
`faultline run [--faultline-args] -- <the same interpreter and argv>`, in the same folder
and environment. The user sees one pytest run, then faultline's report, and gets the
command's exit status (faultline dies of the signal the tests died of).

A pytest that already runs under faultline (the supervisor sets FAULTLINE_SUPERVISED for
its command, and pytest-xdist's workers are children of the supervised controller) is left
alone. Where pytest cannot be re-executed (started in-process by `pytest.main()`, the binary
missing), one line says so and the tests run unsupervised.
"""

import os
import sys

import pytest

from ._binary import BinaryNotFound, find_faultline_bin

SUPERVISED_ENV = "FAULTLINE_SUPERVISED"
ENABLE_ENV = "FAULTLINE"
PYTEST_MODULES = ("pytest", "pytest.__main__", "py.test", "py.test.__main__")
PYTEST_SCRIPTS = ("pytest", "py.test", "pytest.exe", "py.test.exe")


def pytest_addoption(parser):
    group = parser.getgroup("faultline", "native crash reports (faultline)")
    group.addoption(
        "--faultline",
        action="store_true",
        default=False,
        help="run this pytest under `faultline run`, which explains native crashes "
        "(also FAULTLINE=1; FAULTLINE=0 turns it off). Settings: [tool.faultline] in pyproject.toml.",
    )
    group.addoption(
        "--faultline-args",
        default="",
        metavar="ARGS",
        help='extra options for `faultline run`, as one string: --faultline-args="--timeout 10m --headless"',
    )


# The earliest hook that sees the parsed options (addopts included), and the outermost of its
# wrappers: it runs before capture starts and before any conftest is imported, so nothing is
# printed or imported twice.
@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    _run_under_faultline(early_config)
    yield


def _run_under_faultline(config):
    options = config.known_args_namespace
    if not _wanted(getattr(options, "faultline", False)):
        return
    if os.environ.get(SUPERVISED_ENV) or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    argv = _own_command_line(config)
    if argv is None:
        _say(
            "pytest was started in-process (pytest.main()), so it cannot be re-run under faultline; "
            "the tests run without crash capture (run the program itself under `faultline run`)"
        )
        return
    try:
        binary = find_faultline_bin()
    except BinaryNotFound as missing:
        _say("{}; the tests run without crash capture".format(missing))
        return
    extra = _split_args(getattr(options, "faultline_args", "") or "")
    command = [binary, "run", *extra, "--", *argv]
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    try:
        os.execv(binary, command)
    except OSError as err:
        _say("cannot run {}: {}; the tests run without crash capture".format(binary, err.strerror or err))


def _wanted(flag):
    setting = os.environ.get(ENABLE_ENV, "").strip().lower()
    if setting in ("0", "false", "no", "off"):
        return False
    return flag or setting in ("1", "true", "yes", "on")


def _own_command_line(config):
    """This process's command line, when running it again means the same pytest run.

    That is so when pytest is the program (`python -m pytest`, the `pytest` script) and it
    parsed the process's own arguments; not when another program called pytest.main().
    """
    executable = sys.executable
    if not executable:
        return None
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    is_module = getattr(spec, "name", None) in PYTEST_MODULES
    is_script = os.path.basename(sys.argv[0] if sys.argv else "") in PYTEST_SCRIPTS
    if not (is_module or is_script):
        return None
    if tuple(config.invocation_params.args) != tuple(sys.argv[1:]):
        return None
    orig_argv = getattr(sys, "orig_argv", None)  # Python 3.10+: interpreter options included
    if orig_argv:
        return [executable, *orig_argv[1:]]
    if is_module:
        return [executable, "-m", "pytest", *sys.argv[1:]]
    return [executable, *sys.argv]


def _split_args(text):
    import shlex

    try:
        return shlex.split(text)
    except ValueError as err:
        raise pytest.UsageError("--faultline-args={!r}: {}".format(text, err))


def _say(message):
    sys.stderr.write("faultline: {}\n".format(message))
    sys.stderr.flush()


# The channel to the `faultline run` that supervises this pytest (the same code faultline
# brings into pytests that do not have this package): active only under faultline.
from ._channel import pytest_configure  # noqa: E402,F401
