#!/usr/bin/env python3
"""Open a faultline HTML report in headless Chromium and check what a reader sees.

Used by tests/html_report.rs. Exits 0 when every check passes; otherwise prints one line
per failed check to stderr and exits 1 (2 when the browser cannot be started).

    check_html.py --html out.html --summary "SIGSEGV (null-deref)" --culprit string_at \
        --visible "<script>alert(1)</script>" --min-points 2
"""

import argparse
import pathlib
import shutil
import sys
import tempfile

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def browser(profile):
    options = webdriver.ChromeOptions()
    # Explicit paths: Selenium Manager must never try to download a browser or driver.
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,2000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def check(page, args):
    """Every failed check, as one line each."""
    failures = []

    def expect(ok, what):
        if not ok:
            failures.append(what)

    try:
        alert = page.switch_to.alert
        failures.append(f"an alert fired: {alert.text!r}")
        alert.dismiss()
    except NoAlertPresentException:
        pass

    scripts = page.find_elements(By.TAG_NAME, "script")
    expect(len(scripts) == args.scripts, f"{len(scripts)} <script> elements in the DOM, expected {args.scripts}")

    summaries = [e for e in page.find_elements(By.CSS_SELECTOR, "section.crash .summary") if e.is_displayed()]
    expect(summaries, "no visible crash summary (section.crash .summary)")
    summary_text = " ".join(e.text for e in summaries)
    for text in args.summary:
        expect(text in summary_text, f"the crash summary does not show {text!r}: {summary_text!r}")

    culprits = [e for e in page.find_elements(By.CSS_SELECTOR, ".frame.culprit") if e.is_displayed()]
    expect(culprits, "no visible culprit frame (.frame.culprit)")
    for text in args.culprit:
        expect(any(text in e.text for e in culprits), f"no visible culprit frame shows {text!r}")

    charts = page.find_elements(By.CSS_SELECTOR, "svg.chart.memory")
    expect(charts, "no memory chart (svg.chart.memory)")
    for chart in charts:
        size = chart.size
        expect(
            chart.is_displayed() and size["width"] > 0 and size["height"] > 0,
            f"the memory chart has no size on the page: {size}",
        )
        lines = chart.find_elements(By.CSS_SELECTOR, "polyline.rss")
        expect(lines, "the memory chart has no polyline")
        for line in lines:
            points = (line.get_attribute("points") or "").split()
            expect(len(points) >= args.min_points, f"the memory line has {len(points)} points, expected ≥ {args.min_points}")
            box = line.rect
            expect(box["width"] > 0, f"the memory line has no width on the page: {box}")

    body = page.find_element(By.TAG_NAME, "body").text
    for text in args.visible:
        expect(text in body, f"{text!r} is not shown as text")

    for entry in page.get_log("browser"):
        expect(entry.get("level") != "SEVERE", f"console error: {entry.get('message')}")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", required=True, type=pathlib.Path)
    parser.add_argument("--summary", action="append", default=[], help="text the crash summary shows")
    parser.add_argument("--culprit", action="append", default=[], help="text the culprit frame shows")
    parser.add_argument("--visible", action="append", default=[], help="text the page shows (e.g. escaped markup)")
    parser.add_argument("--min-points", type=int, default=2, help="least points in the memory line")
    parser.add_argument("--scripts", type=int, default=0, help="how many <script> elements the DOM has")
    args = parser.parse_args()

    profile = tempfile.mkdtemp(prefix="faultline-chromium-")
    try:
        try:
            page = browser(profile)
        except WebDriverException as err:
            print(f"check_html: cannot start Chromium: {err.msg}", file=sys.stderr)
            return 2
        try:
            page.get(args.html.resolve().as_uri())
            failures = check(page, args)
        finally:
            page.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    for failure in failures:
        print(f"check_html: {failure}", file=sys.stderr)
    if not failures:
        print(f"check_html: {args.html}: every check passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
