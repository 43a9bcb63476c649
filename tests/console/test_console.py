"""The web console end to end, in headless Chromium (Debian's, driven by Playwright):
three participating clusters on 127.0.0.1, the management plane's six steps done from
the browser, lag watched while a link is cut, a cluster removed, a flush, a delete, and a
Viewer who cannot flush. A screenshot of each page goes to $CONSOLE_SCREENSHOTS
(default target/console-screenshots).

Run by scripts/test; alone: CONCORD_BIN=target/release/concord python3 -m pytest tests/console
"""

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request

import pytest
from playwright.sync_api import expect, sync_playwright

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("CONCORD_BIN", os.path.join(ROOT, "target/release/concord"))
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
SHOTS = os.environ.get("CONSOLE_SCREENSHOTS", os.path.join(ROOT, "target/console-screenshots"))
ADMIN = ("admin@example.com", "admin-password")
SERVICE = ("svc@example.com", "service-password")
VIEWER = ("viewer@example.com", "viewer-password")
# Every wait in the browser is bounded by this (ms).
WAIT = 30_000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, secs=30):
    """Polls `check` until it is true, failing after `secs`."""
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def cli(port, *args):
    """redis-cli against 127.0.0.1:port; its output, stripped."""
    out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
                         capture_output=True, text=True, timeout=20)
    return out.stdout.strip()


class Cluster:
    """One participating cluster: `concord cluster init` and `start` in its directory."""

    def __init__(self, root, i):
        self.name = f"c{i}.example.com"
        self.proc = None
        self.log = None
        # Another process may take a port picked here before the cluster binds it: the
        # cluster then exits, and is made again on new ports.
        for attempt in range(5):
            self.dir = os.path.join(root, f"{self.name}-{attempt}")
            self.rest = free_port()
            self.console = free_port()
            # Database ports of their own per cluster, so three share one machine.
            # Below the ephemeral range the REST and console ports come from.
            first = 26000 + 1000 * i + 200 * attempt + (os.getpid() % 20) * 10
            self.first = first
            subprocess.run([BIN, "cluster", "init", "--dir", self.dir, "--name", self.name,
                            "--admin-user", ADMIN[0], "--admin-password", ADMIN[1],
                            "--rest-port", str(self.rest), "--console-port", str(self.console),
                            "--ports", f"{first}-{first + 9}"],
                           check=True, stdout=subprocess.DEVNULL)
            self.log = open(os.path.join(root, f"{self.name}-{attempt}.log"), "wb")
            self.proc = subprocess.Popen([BIN, "cluster", "start", "--dir", self.dir],
                                         stdout=self.log, stderr=subprocess.STDOUT)
            self.url = f"https://127.0.0.1:{self.rest}"
            self.page_url = f"https://127.0.0.1:{self.console}/"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.proc.poll() is None and not self.up():
                time.sleep(0.05)
            if self.proc.poll() is None and self.up():
                return
            self.stop()
        pytest.fail(f"{self.name} did not start: see {self.log.name}")

    def up(self):
        try:
            ctx = ssl.create_default_context(cafile=os.path.join(self.dir, "tls/api-cert.pem"))
            ctx.check_hostname = False
            with urllib.request.urlopen(self.page_url, context=ctx, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.log:
            self.log.close()


@pytest.fixture(scope="module")
def clusters():
    root = tempfile.mkdtemp(prefix="concord-console-")
    made = []
    try:
        for i in (1, 2, 3):
            made.append(Cluster(root, i))
        yield made
    finally:
        for c in made:
            c.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    os.makedirs(SHOTS, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


def open_console(browser, cluster, user, screenshot=None):
    """A new browser session on `cluster`'s console, logged in as `user` (the login saved
    as `screenshot` if given). Any error the page's scripts throw fails the test."""
    ctx = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.set_default_timeout(WAIT)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    page.goto(cluster.page_url)
    login = page.locator("#login")
    expect(login).to_be_visible()
    if screenshot:
        shot(page, screenshot)
    page.fill("#login-user", user[0])
    page.fill("#login-password", user[1])
    page.click("#login-submit")
    expect(login).to_be_hidden()
    expect(page.locator("#whoami")).to_contain_text(user[0])
    return page


def shot(page, name):
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def add_user(page, user, role):
    page.goto(page.url.split("#")[0] + "#/users")
    page.fill("#user-name", user[0])
    page.fill("#user-password", user[1])
    page.select_option("#user-role", role)
    page.click("#user-form button[type=submit]")
    expect(page.locator(f'tr[data-user="{user[0]}"]')).to_be_visible()


def check_cluster(row, cluster, user):
    """Fills a participating-cluster row, checks it and trusts its certificate."""
    row.locator('input[aria-label="Cluster URL"]').fill(cluster.url)
    row.locator('input[aria-label="User name"]').fill(user[0])
    row.locator('input[aria-label="Password"]').fill(user[1])
    row.get_by_role("button", name="Check").click()
    trust = row.get_by_role("button", name="Trust this certificate")
    expect(trust).to_be_visible()
    trust.click()
    expect(row).to_have_attribute("data-state", "ok")
    expect(row.locator(".check")).to_contain_text(cluster.name)


def link_cell(page, link, cls):
    return page.locator(f'#links tr[data-link="{link}"] td.{cls}')


def number(locator):
    """The number a cell shows (-1 while it shows none)."""
    text = locator.inner_text().strip()
    return int(text) if text.isdigit() else -1


def test_the_six_steps_and_a_database_watched_from_the_browser(clusters, browser):
    c1, c2, c3 = clusters
    # Step 1: on each other cluster, an Admin service account, made in its console.
    for c in (c2, c3):
        page = open_console(browser, c, ADMIN, screenshot="login" if c is c2 else None)
        add_user(page, SERVICE, "admin")
        if c is c2:
            shot(page, "users")
        assert page.errors == []
        page.context.close()

    page = open_console(browser, c1, ADMIN)
    shot(page, "databases-empty")
    add_user(page, VIEWER, "db_viewer")
    # Users are changed and removed in place too.
    temp = ("temp@example.com", "temp-password")
    add_user(page, temp, "db_viewer")
    row = page.locator(f'tr[data-user="{temp[0]}"]')
    row.locator('select[aria-label="Role"]').select_option("db_member")
    row.locator('input[aria-label="New password"]').fill("another-password")
    row.get_by_role("button", name="Save").click()
    expect(row).to_contain_text("Saved.")
    row.get_by_role("button", name="Remove").click()
    page.click("#confirm-ok")
    expect(row).to_have_count(0)

    # Steps 2-4: the database, with every participating cluster checked as entered.
    page.click('a[data-page="create"]')
    page.fill("#db-name", "bad name!")
    expect(page.locator("#create-form p.error.field").first).to_contain_text("letters, digits")
    page.fill("#db-name", "shop")
    page.fill("#db-memory", "256")
    rows = page.locator("#clusters .cluster-row")
    first = rows.nth(0)
    # Prefilled with this cluster's name, which other clusters resolve; not here.
    expect(first.locator('input[aria-label="Cluster URL"]')).to_have_value(f"https://{c1.name}:{c1.rest}")
    first.locator('input[aria-label="Cluster URL"]').fill(c1.url)
    first.locator('input[aria-label="Password"]').fill(ADMIN[1])
    # The session ends mid-form: the login comes back over the page, and after it the
    # check goes on with everything typed still there.
    page.evaluate("Concord.token = 'no-longer-valid'")
    first.get_by_role("button", name="Check").click()
    expect(page.locator("#login-reason")).to_contain_text("session has ended")
    page.fill("#login-user", ADMIN[0])
    page.fill("#login-password", "not the password")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_have_text("Wrong user name or password.")
    page.fill("#login-password", ADMIN[1])
    page.click("#login-submit")
    expect(page.locator("#login")).to_be_hidden()
    expect(page.locator("#db-name")).to_have_value("shop")
    expect(page.locator("#db-memory")).to_have_value("256")
    first.get_by_role("button", name="Trust this certificate").click()
    expect(first).to_have_attribute("data-state", "ok")

    page.click("#add-cluster")
    second = rows.nth(1)
    # A wrong password: said in place, and what was typed stays.
    second.locator('input[aria-label="Cluster URL"]').fill(c2.url)
    second.locator('input[aria-label="User name"]').fill(SERVICE[0])
    second.locator('input[aria-label="Password"]').fill("wrong-password")
    second.get_by_role("button", name="Check").click()
    second.get_by_role("button", name="Trust this certificate").click()
    expect(second.locator(".check")).to_contain_text("refused the user name or password")
    expect(second.locator('input[aria-label="Cluster URL"]')).to_have_value(c2.url)
    expect(page.locator("#create")).to_be_disabled()
    check_cluster(second, c2, SERVICE)
    # An unreachable cluster: said in place too.
    page.click("#add-cluster")
    third = rows.nth(2)
    third.locator('input[aria-label="Cluster URL"]').fill(f"https://127.0.0.1:{free_port()}")
    third.locator('input[aria-label="User name"]').fill(SERVICE[0])
    third.locator('input[aria-label="Password"]').fill(SERVICE[1])
    third.get_by_role("button", name="Check").click()
    expect(third.locator(".check")).to_contain_text("cannot reach the cluster")
    check_cluster(third, c3, SERVICE)
    expect(page.locator("#create")).to_be_enabled()
    page.click("#create")
    task = page.locator("#create-task .task")
    expect(task).to_have_attribute("data-status", "finished")
    for c in clusters:
        expect(page.locator("#create-task .progress")).to_contain_text(c.name)
    shot(page, "create")

    # A second database of the same name: the error in place, the form as typed.
    page.click("#create")
    expect(page.locator("#create-error")).to_contain_text("exists")
    expect(page.locator("#db-name")).to_have_value("shop")

    # A database one cluster refuses (a port outside its range): the task fails with the
    # reason, the form keeps what was typed, and nothing is created anywhere.
    page.fill("#db-name", "cache")
    page.select_option("#db-port-mode", "fixed")
    page.fill("#db-port", str(c1.first + 5))
    page.click("#create")
    failed = page.locator('#create-task .task[data-status="failed"]')
    expect(failed).to_be_visible()
    expect(failed.locator("ul.error")).to_contain_text(c2.name)
    expect(page.locator("#create-error")).to_contain_text("not created")
    expect(page.locator("#db-name")).to_have_value("cache")
    expect(page.locator("#db-port")).to_have_value(str(c1.first + 5))
    shot(page, "create-failed")
    page.click('a[data-page="databases"]')
    expect(page.locator('#databases tr[data-name="shop"]')).to_be_visible()
    expect(page.locator('#databases tr[data-name="cache"]')).to_have_count(0)
    shot(page, "databases")
    page.click('#databases tr[data-name="shop"] a')

    # The Database page: three instances, six links, all up.
    expect(page.locator("#db-title")).to_have_text("shop")
    expect(page.locator("#instances tbody tr")).to_have_count(3)
    expect(page.locator('#links tr[data-state="up"]')).to_have_count(6)
    ports = [number(page.locator(f'#instances tr[data-instance="{i}"] td').nth(2))
             for i in (1, 2, 3)]
    assert all(p > 0 for p in ports), ports

    # Step 5: log in to the other clusters and see the database there.
    for c, name in ((c2, "databases-cluster2"), (c3, None)):
        other = open_console(browser, c, SERVICE)
        row = other.locator('#databases tr[data-name="shop"]')
        expect(row).to_be_visible()
        expect(row.locator(".state")).to_have_text("in sync")
        if name:
            shot(other, name)
        assert other.errors == []
        other.context.close()

    # Step 6: write on one instance, read on another.
    assert cli(ports[0], "SET", "greeting", "hello") == "OK"
    wait_for("the write on instance 2", lambda: cli(ports[1], "GET", "greeting") == "hello")

    # A link cut (instance 3 stops replicating): lag appears on the writing side, then
    # clears when it heals.
    assert cli(ports[2], "CRDT.SYNC", "PAUSE") == "OK"
    for i in range(50):
        cli(ports[0], "SET", f"k{i}", "v")
    expect(link_cell(page, "1-3", "pending-ops")).not_to_have_text("0")
    expect(page.locator('#links tr[data-link="1-3"]')).not_to_have_attribute("data-state", "up")
    wait_for("lag in milliseconds", lambda: number(link_cell(page, "1-3", "pending-ms")) >= 2000)
    expect(page.locator("#lag-chart polyline")).to_have_count(3)
    shot(page, "database")
    assert cli(ports[2], "CRDT.SYNC", "RESUME") == "OK"
    expect(link_cell(page, "1-3", "pending-ops")).to_have_text("0")
    expect(page.locator('#links tr[data-state="up"]')).to_have_count(6)
    wait_for("instance 3 caught up", lambda: cli(ports[2], "GET", "k49") == "v")

    # An instance that stops answering altogether (its process stopped, as a partition
    # looks from here): the writing side sees its writes pending, then the catch-up.
    pid = next(int(l.split(":")[1]) for l in cli(ports[1], "INFO", "server").splitlines()
               if l.startswith("process_id:"))
    os.kill(pid, signal.SIGSTOP)
    try:
        for i in range(20):
            cli(ports[0], "SET", f"s{i}", "v")
        wait_for("writes pending for the stopped instance",
                 lambda: number(link_cell(page, "1-2", "pending-ops")) >= 20
                 and number(link_cell(page, "1-2", "pending-ms")) >= 1000)
    finally:
        os.kill(pid, signal.SIGCONT)
    expect(link_cell(page, "1-2", "pending-ops")).to_have_text("0")
    wait_for("instance 2 caught up", lambda: cli(ports[1], "GET", "s19") == "v")

    # Remove cluster 3.
    page.locator('#instances tr[data-instance="3"] button.remove').click()
    page.click("#confirm-ok")
    expect(page.locator("#action-task .task")).to_have_attribute("data-status", "finished")
    expect(page.locator("#instances tbody tr")).to_have_count(2)
    expect(page.locator('#links tr[data-state="up"]')).to_have_count(2)

    # Add it back, checked like at creation.
    page.click("#show-add")
    check_cluster(page.locator("#add-instance .cluster-row"), c3, SERVICE)
    page.click("#add-instance button[type=submit]")
    expect(page.locator("#confirm-title")).to_contain_text(c3.name)
    page.click("#confirm-ok")
    expect(page.locator("#action-task .task")).to_have_attribute("data-status", "finished")
    expect(page.locator("#instances tbody tr")).to_have_count(3)
    expect(page.locator('#links tr[data-state="up"]')).to_have_count(6)

    # A Viewer sees the database but cannot flush it, not even through the API.
    viewer = open_console(browser, c1, VIEWER)
    viewer.goto(page.url)
    expect(viewer.locator("#db-title")).to_have_text("shop")
    expect(viewer.locator("#flush")).to_have_count(0)
    expect(viewer.locator('a[data-page="create"]')).to_be_hidden()
    guid = page.url.rsplit("/", 1)[1]
    status = viewer.evaluate("""async (guid) => {
        const r = await fetch('/v1/crdbs/' + guid + '/flush', {method: 'PUT',
            headers: {Authorization: 'Bearer ' + sessionStorage.getItem('concord.token')}});
        return r.status;
    }""", guid)
    assert status == 403
    shot(viewer, "database-viewer")
    assert viewer.errors == []
    viewer.context.close()
    assert cli(ports[0], "GET", "greeting") == "hello"

    # Flush: every instance empties.
    page.click("#flush")
    page.click("#confirm-ok")
    expect(page.locator("#action-task .task")).to_have_attribute("data-status", "finished")
    for p in ports[:2]:
        wait_for(f"instance on {p} empty", lambda p=p: cli(p, "DBSIZE") == "0")

    # Tasks: the create, the removal, the addition and the flush, finished.
    page.click('a[data-page="tasks"]')
    for op in ("create_crdb", "flush_crdb"):
        expect(page.locator(f'.task[data-status="finished"]:has-text("{op}")').first).to_be_visible()
    shot(page, "tasks")

    # Delete, confirmed by typing the name.
    page.go_back()
    expect(page.locator("#db-title")).to_have_text("shop")
    page.click("#delete")
    expect(page.locator("#confirm-ok")).to_be_disabled()
    page.fill("#confirm-typed", "shop")
    page.click("#confirm-ok")
    expect(page.locator("#databases")).to_be_visible()
    expect(page.locator('#databases tr[data-name="shop"]')).to_have_count(0)

    # Log out ends the session on the cluster, not only in the browser.
    token = page.evaluate("sessionStorage.getItem('concord.token')")
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    status = "async (t) => (await fetch('/v1/cluster', {headers: {Authorization: 'Bearer ' + t}})).status"
    wait_for("the old token refused", lambda: page.evaluate(status, token) == 401)
    assert page.errors == []
