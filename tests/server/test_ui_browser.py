"""The web page in a real headless browser (Debian's chromium driven by selenium through its
chromium-driver): the task list shows a task defined through the API, its graph renders, a node's
count rises as points are written (without a reload), and the buttons change the task through the
API. Screenshots of every page land in test-artifacts/ui/."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kapfastd_proc import Kapfastd

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.integration
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SCRIPT = """stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |alert()
        .topic('cpu')
        .crit(lambda: "usage_idle" < 10)
        .log('{log}')
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """One headless chromium for the module (starting one costs about a second)."""
    if not (CHROMIUM and DRIVER):
        pytest.fail("chromium and chromedriver are needed: make system-deps installs them")
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    opts.add_argument("--window-size=1280,1000")
    # the driver is Debian's: selenium must not look for (or download) another one
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=DRIVER))
    driver.set_page_load_timeout(20)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kapfastd]:
    d = tmp_path_factory.mktemp("kapfastd_ui")
    k = Kapfastd(d)
    k.start()
    yield k
    k.kill()


def wait_text(driver: WebDriver, css: str, want: str, timeout_s: float = 10.0) -> str:
    try:
        WebDriverWait(driver, timeout_s, poll_frequency=0.1).until(
            lambda d: want in d.find_element(By.CSS_SELECTOR, css).text
        )
    except TimeoutException:
        raise AssertionError(
            f"{css} never showed {want!r}: {driver.find_element(By.CSS_SELECTOR, css).text!r}"
        ) from None
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def shot(driver: WebDriver, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def test_task_list_graph_live_counts_and_buttons(
    browser: WebDriver, server: Kapfastd, tmp_path: Path
) -> None:
    k, b = server, browser
    body = {"id": "cpu_alert", "type": "stream", "dbrps": [{"db": "telegraf", "rp": "autogen"}]}
    script = SCRIPT.format(log=tmp_path / "alerts.log")
    assert k.api("POST", "/tasks", {**body, "script": script, "status": "enabled"}).status == 200

    b.get(k.url + "/ui/")
    row = b.find_element(By.CSS_SELECTOR, 'tr[data-task="cpu_alert"]')
    assert "enabled" in row.text and row.find_element(By.LINK_TEXT, "cpu_alert")
    shot(b, "tasks")

    row.find_element(By.LINK_TEXT, "cpu_alert").click()
    WebDriverWait(b, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "svg.pipeline g.node"))
    nodes = b.find_elements(By.CSS_SELECTOR, "svg.pipeline g.node")
    assert [n.get_attribute("data-node") for n in nodes] == ["stream0", "from1", "alert2"]
    assert len(b.find_elements(By.CSS_SELECTOR, "svg.pipeline path.edge")) == 2
    from1 = 'svg.pipeline g[data-node="from1"] text[data-stat="0"]'
    assert b.find_element(By.CSS_SELECTOR, from1).text == "in 0 · out 0"

    # points written now show up on the page that is already open: no reload (the marker stays)
    b.execute_script("window.__stillTheSamePage = true;")
    lines = "".join(f"cpu,host=h{i} usage_idle={i * 7} {i}\n" for i in range(1, 4))
    assert k.write(lines, "db=telegraf&rp=autogen&precision=s").status == 204
    wait_text(b, from1, "in 3 · out 3")
    wait_text(b, 'svg.pipeline g[data-node="alert2"] text[data-stat="1"]', "groups 3")
    wait_text(b, 'svg.pipeline text[data-edge="from1->alert2"]', "3")
    assert b.execute_script("return window.__stillTheSamePage === true;")
    assert "working_cardinality=3" in b.find_element(By.ID, "node-stats").text
    # the explain panel: the real endpoint's answer, per group of the alert node
    assert k.api("GET", "/tasks/cpu_alert/explain").status == 200
    wait_text(b, "#explain", "host=h1")
    explain = b.find_element(By.ID, "explain").text
    assert 'CRITICAL: "usage_idle" < 10' in explain and "usage_idle=7" in explain
    assert "host=h2" in explain and "none (OK)" in explain
    shot(b, "task")
    b.execute_script("document.getElementById('explain').scrollIntoView();")
    shot(b, "task-explain")

    b.find_element(By.ID, "disable").click()
    wait_text(b, "#status", "disabled")
    wait_text(b, "#action-result", "Disable: done")
    assert k.api("GET", "/tasks/cpu_alert").json()["status"] == "disabled"
    assert k.api("GET", "/tasks/cpu_alert").json()["executing"] is False
    shot(b, "task-disabled")
    b.find_element(By.ID, "enable").click()
    wait_text(b, "#status", "enabled")
    assert k.api("GET", "/tasks/cpu_alert").json()["executing"] is True
    before = k.api("GET", "/tasks/cpu_alert").json()["last-enabled"]
    time.sleep(0.01)
    b.find_element(By.ID, "reload").click()
    wait_text(b, "#action-result", "Reload: done")
    after = k.api("GET", "/tasks/cpu_alert").json()
    assert after["status"] == "enabled" and after["last-enabled"] != before


def test_topics_and_recordings_pages(browser: WebDriver, server: Kapfastd) -> None:
    k, b = server, browser
    # the previous test's alert made topic "cpu" CRITICAL (host h1: usage_idle=7 < 10)
    b.get(k.url + "/ui/topics")
    wait_text(b, "#topics", "CRITICAL")
    shot(b, "topics")
    b.find_element(By.LINK_TEXT, "cpu").click()
    wait_text(b, "#events", "cpu:host=h1")
    shot(b, "topic")
    rec = k.api("POST", "/recordings/stream", {"task": "cpu_alert", "stop": "2030-01-01T00:00:00Z"})
    assert rec.status == 201
    b.get(k.url + "/ui/recordings")
    wait_text(b, "#recordings", rec.json()["id"])
    assert "running" in b.find_element(By.ID, "recordings").text
    shot(b, "recordings")


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kapfastd]:
    k = Kapfastd(tmp_path_factory.mktemp("kapfastd_ui_auth"), "[auth]\n  enabled = true\n  bcrypt-cost = 4\n")
    k.start()
    try:
        bob = {"name": "bob", "password": "bobpw", "type": "normal", "permissions": ["api"]}
        root = {"name": "root", "password": "rootpw", "type": "admin"}
        assert k.api("POST", "/users", bob).status == 200
        assert k.api("POST", "/users", root).status == 200
        k.stop()
        k.http_options = "  auth-enabled = true\n"
        k.start()
        k.auth = ("root", "rootpw")  # the test's own requests (writes); the browser is bob
        yield k
    finally:
        k.kill()


def test_with_auth_the_page_uses_the_browsers_basic_credentials(
    browser: WebDriver, secured: Kapfastd, tmp_path: Path
) -> None:
    """The browser authenticates the page once; its script's API calls (polling, the buttons)
    then pass with the same credentials, answered by the 401 challenge the page script asks for."""
    k, b = secured, browser
    body = {"id": "secured", "type": "stream", "dbrps": [{"db": "telegraf", "rp": "autogen"}]}
    script = SCRIPT.format(log=tmp_path / "alerts.log")
    assert k.api("POST", "/tasks", {**body, "script": script, "status": "enabled"}).status == 200
    b.get(f"http://bob:bobpw@127.0.0.1:{k.port}/ui/tasks/secured")
    WebDriverWait(b, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "svg.pipeline g.node"))
    assert k.write("cpu,host=a usage_idle=50 1\n", "db=telegraf&rp=autogen&precision=s").status == 204
    wait_text(b, 'svg.pipeline g[data-node="from1"] text[data-stat="0"]', "in 1 · out 1")
    b.find_element(By.ID, "disable").click()
    wait_text(b, "#action-result", "Disable: done")
    assert k.api("GET", "/tasks/secured").json()["status"] == "disabled"
    shot(b, "task-with-auth")


def test_explain_panel_renders_the_contract(browser: WebDriver, server: Kapfastd, tmp_path: Path) -> None:
    """The panel's rendering of GET .../explain (docs/ui.md; the endpoint's shape is fixed by the
    explain contract): fed one answer of that shape, it shows the deciding expression, the values
    and why nothing was sent. (The endpoint itself is tested where it is built.)"""
    b = browser
    body = {"id": "explained", "type": "stream", "dbrps": [{"db": "telegraf", "rp": "autogen"}]}
    script = SCRIPT.format(log=tmp_path / "alerts.log")
    assert server.api("POST", "/tasks", {**body, "script": script, "status": "enabled"}).status == 200
    b.get(server.url + "/ui/tasks/explained")
    answer = {
        "task": "cpu_alert",
        "at": None,
        "nodes": [
            {
                "node": "alert2",
                "groups": [
                    {
                        "group": "host=a",
                        "tags": {"host": "a"},
                        "time": "2026-12-07T08:00:00Z",
                        "level": "CRITICAL",
                        "previous_level": "CRITICAL",
                        "deciding": {"level": "CRITICAL", "expression": '"usage_idle" < 10'},
                        "values": {"usage_idle": 5.0},
                        "expressions": [],
                        "sent": False,
                        "reason": "stateChangesOnly",
                        "reason_text": "level unchanged (CRITICAL) and .stateChangesOnly() is set",
                    },
                    {
                        "group": "host=<b>",
                        "tags": {"host": "<b>"},
                        "time": "2026-12-07T08:00:00Z",
                        "level": "OK",
                        "previous_level": "WARNING",
                        "deciding": None,
                        "values": {"usage_idle": 90.5},
                        "expressions": [],
                        "sent": True,
                        "reason": None,
                        "reason_text": None,
                    },
                ],
            }
        ],
    }
    # the page's own 5 s poll of the endpoint stops first, so that it does not redraw the panel;
    # a poll already waiting for its answer would still redraw it when the answer comes: after
    # drawing ours, the page's renderExplain is replaced too
    b.execute_script(
        "refreshExplain = async () => {};"
        "renderExplain(arguments[0]); renderExplain = () => {};"
        "document.getElementById('explain').hidden = false;",
        answer,
    )
    text = b.execute_script("return document.getElementById('explain').textContent;")
    assert "alert2" in text
    assert 'CRITICAL: "usage_idle" < 10' in text and "usage_idle=5" in text
    assert "not sent: level unchanged (CRITICAL) and .stateChangesOnly() is set" in text
    assert "WARNING → OK" in text and "none (OK)" in text and "host=<b>" in text  # text, not HTML
    b.execute_script("document.getElementById('explain').scrollIntoView();")
    shot(b, "explain-panel")


def test_more_than_a_page_of_tasks_pages_through(
    browser: WebDriver, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """105 tasks: the list shows the first 100 (the page size), Next shows the other 5, Previous
    goes back; the live refresh of the second page updates its own rows (its offset)."""
    k = Kapfastd(tmp_path_factory.mktemp("kapfastd_ui_paging"))
    k.start()
    try:
        b = browser
        script = "stream\n    |from()\n        .measurement('m')\n"
        ids = [f"task{i:03d}" for i in range(105)]
        for ident in ids:
            body = {"id": ident, "type": "stream", "dbrps": [{"db": "telegraf", "rp": "autogen"}]}
            assert k.api("POST", "/tasks", {**body, "script": script, "status": "disabled"}).status == 200

        def shown() -> list[str]:
            rows = b.find_elements(By.CSS_SELECTOR, "#tasks tbody tr[data-task]")
            return [str(r.get_attribute("data-task")) for r in rows]

        b.get(k.url + "/ui/")
        assert shown() == ids[:100]
        assert "Rows 1–100" in b.find_element(By.CSS_SELECTOR, "nav.pager").text
        assert not b.find_elements(By.CSS_SELECTOR, "nav.pager a.prev")
        b.find_element(By.CSS_SELECTOR, "nav.pager a.next").click()
        WebDriverWait(b, 10).until(lambda d: shown() == ids[100:])
        assert "Rows 101–105" in b.find_element(By.CSS_SELECTOR, "nav.pager").text
        assert not b.find_elements(By.CSS_SELECTOR, "nav.pager a.next")
        # the page's own refresh reads its rows (offset 100), not the first page's
        assert k.api("PATCH", "/tasks/task103", {"status": "enabled"}).status == 200
        wait_text(b, 'tr[data-task="task103"] [data-field="status"]', "enabled")
        shot(b, "tasks-page-2")
        b.find_element(By.CSS_SELECTOR, "nav.pager a.prev").click()
        WebDriverWait(b, 10).until(lambda d: shown() == ids[:100])
    finally:
        k.kill()


def test_a_windows_buffered_points_show_on_the_graph(browser: WebDriver, server: Kapfastd) -> None:
    """The graph's node box shows kapfast's ``buffered_points`` of a window, live (no reload)."""
    k, b = server, browser
    script = "stream\n    |from()\n        .measurement('mem')\n        .groupBy('host')\n"
    script += "    |window()\n        .period(1h)\n        .every(1h)\n    |count('used')\n"
    body = {"id": "windowed", "type": "stream", "dbrps": [{"db": "telegraf", "rp": "autogen"}]}
    assert k.api("POST", "/tasks", {**body, "script": script, "status": "enabled"}).status == 200
    b.get(k.url + "/ui/tasks/windowed")
    box = 'svg.pipeline g[data-node="window2"] text[data-stat="2"]'
    wait_text(b, box, "buffered 0")
    lines = "".join(f"mem,host=h{i % 2} used={i} {i + 1}\n" for i in range(5))
    assert k.write(lines, "db=telegraf&rp=autogen&precision=s").status == 204
    wait_text(b, box, "buffered 5")
    assert "buffered" not in b.find_element(By.CSS_SELECTOR, 'svg.pipeline g[data-node="from1"]').text
    assert "buffered_points=5" in b.find_element(By.ID, "node-stats").text
    shot(b, "task-window-buffered")
