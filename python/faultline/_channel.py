"""faultline's pytest channel: what pytest knows, told to the `faultline run` that supervises it.

`faultline run` brings this file into every command it supervises (as the module
`_faultline_channel`, named in PYTEST_PLUGINS, from a private folder appended to PYTHONPATH);
the wheel's pytest plugin imports the same code. It is active only when the supervisor names
a channel folder in FAULTLINE_PYTEST_CHANNEL, and only once per process whichever copy loads
first.

What it writes: one file per process, `<pid>.jsonl`, one JSON object per line:
  {"e": "session", "pid", "worker", "controller", "maxfail"}   at configure
  {"e": "collected", "ids": [...]}                             after collection (and selection)
  {"e": "test", "id"}                                           when a test starts
  {"e": "report", "id", "when", "outcome", "category", "duration", "message"}
                                                               (a passed setup or teardown: none)
  {"e": "finished", "status"}                                   when the session ends
A line is written with one write(2) before the test it announces runs, so that what the file
holds when the process dies is exactly what pytest knew; the phase reports of a test are sent
with the next line (they matter only once the next test has started).

What it reads: FAULTLINE_PYTEST_SELECT names a JSON file {"tests": [...], "ordered": bool,
"repeat": n, "maxfail": n}: run only those tests (the others are deselected, as `-k` would),
in that order when `ordered`, the last one `repeat` times; `maxfail` replaces pytest's own.

Only the standard library and pytest are used: this file is loaded into the user's pytest.
"""

import json
import os
import sys

import pytest

CHANNEL_ENV = "FAULTLINE_PYTEST_CHANNEL"
SELECT_ENV = "FAULTLINE_PYTEST_SELECT"
PLUGIN_NAME = "faultline-channel"
# One channel per process, whichever copy of this file (the wheel's or faultline's own) and
# whichever pytest.Config (pytester runs pytest in-process) comes first. An attribute of
# `sys` is shared by both copies; it holds the pid, since a forked child inherits it.
_OWNER = "_faultline_pytest_channel_pid"


def pytest_configure(config):
    directory = os.environ.get(CHANNEL_ENV)
    if not directory or getattr(sys, _OWNER, None) == os.getpid():
        return
    if config.pluginmanager.has_plugin(PLUGIN_NAME):
        return
    try:
        channel = Channel(directory, config)
    except (OSError, ValueError) as err:
        sys.stderr.write("faultline: the pytest channel cannot start ({}); tests are named from "
                         "PYTEST_CURRENT_TEST only\n".format(err))
        return
    setattr(sys, _OWNER, os.getpid())
    config.pluginmanager.register(channel, PLUGIN_NAME)


def _load_selection():
    path = os.environ.get(SELECT_ENV)
    if not path:
        return None
    with open(path, encoding="utf-8") as f:
        selection = json.load(f)
    if not isinstance(selection.get("tests"), list):
        raise ValueError("{}: no list of tests".format(path))
    return selection


class Channel:
    def __init__(self, directory, config):
        self.config = config
        self.selection = _load_selection()
        path = os.path.join(directory, "{}.jsonl".format(os.getpid()))
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self.pending = []
        maxfail = getattr(config.option, "maxfail", 0) or 0
        if self.selection and self.selection.get("maxfail"):
            maxfail = int(self.selection["maxfail"])
            config.option.maxfail = maxfail
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        controller = worker is None and getattr(config.option, "dist", "no") not in (None, "no")
        self._send({"e": "session", "pid": os.getpid(), "worker": worker, "controller": controller,
                    "maxfail": maxfail})

    def _send(self, event):
        self.pending.append(json.dumps(event, ensure_ascii=False))
        data = ("\n".join(self.pending) + "\n").encode("utf-8", "surrogateescape")
        self.pending = []
        try:
            os.write(self.fd, data)
        except OSError:
            pass

    def _later(self, event):
        self.pending.append(json.dumps(event, ensure_ascii=False))

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session, config, items):
        if self.selection is None:
            return
        wanted = self.selection["tests"]
        position = {}
        for index, nodeid in enumerate(wanted):
            position.setdefault(nodeid, index)
        kept = [item for item in items if item.nodeid in position]
        deselected = [item for item in items if item.nodeid not in position]
        if self.selection.get("ordered"):
            kept.sort(key=lambda item: position[item.nodeid])
        if deselected:
            config.hook.pytest_deselected(items=deselected)
        items[:] = kept

    def pytest_collection_finish(self, session):
        self._send({"e": "collected", "ids": [item.nodeid for item in session.items]})

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        repeat = int(self.selection.get("repeat") or 1) if self.selection else 1
        if repeat <= 1 or nextitem is not None:
            return None
        # The last selected test, `repeat` times in a row (an arena that fills up, a counter).
        from _pytest.runner import runtestprotocol

        # Each time as the last test of the session: everything is torn down between the
        # runs (keeping the item's fixtures set up across runs leaves pytest's per-call
        # state stale), which native state that accumulates survives anyway.
        for _ in range(repeat):
            item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
            runtestprotocol(item, nextitem=None, log=True)
            item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def pytest_runtest_logstart(self, nodeid, location):
        self._send({"e": "test", "id": nodeid})

    def pytest_runtest_logreport(self, report):
        # This runs three times per test in every supervised pytest: the common case (a
        # passed phase) is decided here without asking every plugin, and a passed setup or
        # teardown is not sent at all.
        if report.passed and not hasattr(report, "wasxfail"):
            if report.when != "call":
                return
            category = "passed"
        else:
            try:
                category = self.config.hook.pytest_report_teststatus(report=report, config=self.config)[0]
            except Exception:
                category = report.outcome
        event = {"e": "report", "id": report.nodeid, "when": report.when, "outcome": report.outcome,
                 "category": category or "", "duration": round(getattr(report, "duration", 0.0), 6)}
        if report.failed:
            event["message"] = _short_message(report)
        self._later(event)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus):
        self._send({"e": "finished", "status": int(exitstatus)})


def _short_message(report):
    """The one line pytest's summary shows for a failure (`E   assert 1 == 2`)."""
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    message = getattr(crash, "message", None)
    if message:
        return message[:500]
    text = getattr(report, "longreprtext", "") or ""
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:500] if lines else ""
