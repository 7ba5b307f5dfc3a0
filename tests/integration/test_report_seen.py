"""What a person sees when they open the report: headless Chromium loads the report of a passed, a
failed, a skipped and a not-run run, and the page (its DOM after the page's scripts ran, and a
screenshot) leads with the verdict banner in its colour, then the runbook's section, then the run
details with pytest-html's environment and the change list, and pytest's results table last."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from runbooks.cluster.local.provider import LocalCluster
from tests.integration.runbook_project import Run, run_pytest, write_project


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's headless Chromium, installed from Debian's mirror when missing (as root, as the kind tier
    installs its engine), so that a fresh CI machine runs this test instead of skipping it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, check=False, capture_output=True, timeout=900)
        found = shutil.which("chromium")
    if found is None:
        pytest.skip("needs a headless Chromium to look at the report, and `apt-get install chromium` was not possible here (not root, or no apt)")
    return found


WIDTH, HEIGHT = 1280, 1400
BANNER_RGB = {"passed": (0x1E, 0x7B, 0x34), "failed": (0xB3, 0x26, 0x1E), "skipped": (0x8A, 0x5A, 0x00), "not run": (0x55, 0x55, 0x55)}

FEATURE = """\
@report_check
Feature: Take a worker out for OS maintenance
  Scenario: Check the workers before the drain
    Given {given}
    Then every node is Ready
    And {then}
"""

STEPS = """\
import pytest
from pytest_bdd import given, then

@given("a drill that needs a cluster of its own")
def own_cluster():
    pytest.skip("this drill needs a cluster of its own to break; run it with --cluster local")

@then("the cluster has 5 ready workers")
def five_workers(cluster, evidence):
    nodes = [n.metadata.name for n in cluster.core.list_node().items]
    evidence.table("Nodes seen", [{"node": n} for n in nodes])
    assert len(nodes) == 5, f"expected 5 ready workers, found {len(nodes)}: {', '.join(nodes)}"

@then("the API server answered")
def answered(cluster, evidence):
    evidence.note("version", cluster.version_api.get_code().git_version)
"""

RUNS = {  # outcome -> (Given, And, whether the run uses the module's cluster as --cluster existing, exit code)
    "passed": ("the cluster under maintenance", "the API server answered", True, 0),
    "failed": ("the cluster under maintenance", "the cluster has 5 ready workers", True, 1),
    "skipped": ("a drill that needs a cluster of its own", "the API server answered", False, 0),
    "not run": ("a drill that needs a cluster of its own", "the API server answered", True, 1),
}


@dataclass
class Element:
    tag: str
    id: str
    classes: list[str]
    text: list[str] = field(default_factory=list)


class Outline(HTMLParser):
    """The body's elements in document order with the text each one directly holds (scripts, styles and
    pytest-html's row templates left out: they are not what a person sees)."""

    HIDDEN = {"script", "style", "template"}

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self.stack: list[Element] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in self.HIDDEN:
            self.hidden += 1
        if self.hidden or tag in ("br", "img", "input", "meta", "source"):
            return
        element = Element(tag, values.get("id") or "", (values.get("class") or "").split())
        self.elements.append(element)
        self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden -= 1
        elif not self.hidden and self.stack and self.stack[-1].tag == tag:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not self.hidden and self.stack and data.strip():
            self.stack[-1].text.append(data.strip())

    def index(self, predicate: str) -> int:
        """The first element with this id (`#x`) or class (`.x`)."""
        for i, element in enumerate(self.elements):
            if (predicate[0] == "#" and element.id == predicate[1:]) or (predicate[0] == "." and predicate[1:] in element.classes):
                return i
        raise AssertionError(f"no {predicate} in the page")

    def text(self, start: str, end: str) -> str:
        return " ".join(" ".join(e.text) for e in self.elements[self.index(start) : self.index(end)] if e.text)


def rendered(chromium: str, report: Path, screenshot: Path) -> Outline:
    """The report as Chromium renders it: its DOM after the scripts ran, and a screenshot."""
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--window-size={WIDTH},{HEIGHT}"]
    dom = subprocess.run([*flags, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120, check=True).stdout
    subprocess.run([*flags, f"--screenshot={screenshot}", report.as_uri()], capture_output=True, text=True, timeout=120, check=True)
    outline = Outline()
    outline.feed(dom)
    return outline


def banner_rows(screenshot: Path, rgb: tuple[int, int, int]) -> list[int]:
    """The screenshot's rows (from the top) in which the banner's colour fills at least half the width."""
    image = Image.open(screenshot).convert("RGB")
    pixels = image.load()
    assert pixels is not None
    return [y for y in range(image.height) if sum(pixels[x, y] == rgb for x in range(0, image.width, 4)) > image.width // 8]


@pytest.fixture(scope="module")
def cluster(local_cluster: LocalCluster) -> LocalCluster:
    return local_cluster


@pytest.mark.parametrize("outcome", list(RUNS))
def test_the_report_leads_with_its_verdict(outcome: str, cluster: LocalCluster, chromium: str, tmp_path: Path) -> None:
    given, then, existing, code = RUNS[outcome]
    project = write_project(tmp_path / "project", FEATURE.format(given=given, then=then), STEPS)
    options = ["--cluster=existing", f"--kubeconfig={cluster.kubeconfig}"] if existing else []
    run: Run = run_pytest(project, *options, "--change-id=CHG-7", "--approved-by=alice")
    assert run.returncode == code, run.output
    screenshot = tmp_path / f"report-{outcome.replace(' ', '-')}.png"
    page = rendered(chromium, run.reports / "runbooks.html", screenshot)

    # The banner comes first (right under the title), then the runbook, the details with pytest-html's
    # environment table moved into them, the full change list, and pytest's own results table last.
    after_title = [e for e in page.elements[page.index("#title") + 1 :]][:2]
    assert [e.id for e in after_title] == ["rb-overview", "rb-banner"], after_title
    order = ["#rb-banner", ".rb-runbook", "#rb-run-details", "#environment", "#rb-changes", "#results-table"]
    positions = [page.index(mark) for mark in order]
    assert positions == sorted(positions), dict(zip(order, positions, strict=True))

    banner = page.text("#rb-banner", ".rb-runbook")
    assert banner.startswith(outcome.upper()) and "CHG-7" in banner and "alice" in banner, banner
    if outcome in ("passed", "failed"):  # the cluster the steps used; a run that skipped before any step used one names none
        uid = cluster.core.read_namespace("kube-system").metadata.uid
        assert uid in banner and cluster.api.configuration.host in banner, banner
    if outcome == "failed":
        found = len(cluster.core.list_node().items)
        assert "And the cluster has 5 ready workers" in banner and f"expected 5 ready workers, found {found}" in banner, banner
    if outcome == "not run":  # no step reached the cluster, and the banner still names the one it was asked to work on
        assert f"in {cluster.kubeconfig} (not contacted" in banner, banner
    if outcome in ("skipped", "not run"):
        assert "needs a cluster of its own to break" in banner, banner
    runbook = page.text(".rb-runbook", "#rb-run-details")
    assert f"Runbook: Take a worker out for OS maintenance — {outcome}" in runbook, runbook  # a skipped procedure on existing is not run
    assert f"Scenario: Check the workers before the drain — {outcome}" in runbook, runbook
    assert "::test_" not in runbook  # the operator's words, not pytest's node ids

    # What a person sees: the banner's colour across the page just below the title.
    rows = banner_rows(screenshot, BANNER_RGB[outcome])
    assert rows and rows[0] < 120 and len(rows) > 80, (screenshot, rows[:3], len(rows))
