"""The web page of ``advisor serve`` in a real browser: Debian's Chromium driven by Selenium
through upload → target → run → report, against a real server subprocess."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.test_service_helpers import SAMPLES, Server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
TOKEN = "page-token"

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="Chromium and its driver are not installed (apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("page") / "data", token=TOKEN).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,1600",
                     f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait(driver, condition, timeout=240):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)


def open_page(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(server.url + "/")
    token = browser.find_element(By.ID, "token")
    token.clear()
    token.send_keys(TOKEN + Keys.TAB)  # the page keeps it for its API calls


def choose_file(browser, path: Path) -> list[str]:
    """Upload ``path`` in the page; the target choices it then offers."""
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, "file").send_keys(str(path))
    wait(browser, lambda d: d.find_element(By.ID, "target").is_enabled(), 60)
    return [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#target option")]


def run_and_wait(browser) -> None:
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, "run").click()
    wait(browser, lambda d: d.find_element(By.ID, "state").text in ("succeeded", "failed",
                                                                    "cancelled"))
    state = browser.find_element(By.ID, "state").text
    assert state == "succeeded", browser.find_element(By.ID, "job-error").text
    wait(browser, lambda d: "shown" in d.find_element(By.ID, "report").get_attribute("class"), 60)


def test_upload_pick_the_target_run_and_read_the_report(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    open_page(browser, server)
    columns = choose_file(browser, SAMPLES / "diagnosis.csv")
    assert columns == ["age", "sex", "bmi", "systolic_bp", "fasting_glucose", "hba1c",
                       "cholesterol", "smoker", "family_history", "crp_mg_l", "diagnosis"]
    target = Select(browser.find_element(By.ID, "target"))
    assert target.first_selected_option.text == "diagnosis"  # the header's last column
    Select(browser.find_element(By.ID, "domain")).select_by_value("medical")
    budget = browser.find_element(By.ID, "budget")
    budget.clear()
    budget.send_keys("8")
    assert browser.find_element(By.ID, "validate").is_selected()  # Keras trials, for real
    run_and_wait(browser)
    browser.switch_to.frame(browser.find_element(By.ID, "report"))
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert heading == "Which loss for diagnosis?"
    assert "Recommended loss" in browser.find_element(By.TAG_NAME, "body").text
    browser.switch_to.default_content()
    wait(browser, lambda d: "succeeded" in d.find_element(By.ID, "jobs").text, 30)
    rows = browser.find_element(By.ID, "jobs").text
    assert "diagnosis.csv" in rows and "diagnosis" in rows
    job = server.http.get("/v1/jobs", params={"limit": 1}).json()["jobs"][0]
    assert job["options"]["domain"] == "medical" and job["options"]["budget"] == 8.0
    assert job["options"]["validate"] is True and job["state"] == "succeeded"


def test_a_column_named_script_shows_as_text(browser, server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    evil = ["<script>window.pwned=1</script>", "<img src=x onerror=window.pwned=2>"]
    table = tmp_path / "evil.csv"
    table.write_text(f"{evil[0]},{evil[1]},y\n" + "a,1.5,0\nb,2.5,1\n" * 40)
    open_page(browser, server)
    assert choose_file(browser, table) == [*evil, "y"]
    Select(browser.find_element(By.ID, "target")).select_by_visible_text("y")
    browser.find_element(By.ID, "validate").click()  # rules only
    run_and_wait(browser)
    assert browser.execute_script("return window.pwned") is None
    browser.switch_to.frame(browser.find_element(By.ID, "report"))
    text = browser.find_element(By.TAG_NAME, "body").text
    browser.switch_to.default_content()
    assert evil[0] in text and evil[1] in text  # shown as the column names they are
    assert browser.execute_script("return window.pwned") is None
