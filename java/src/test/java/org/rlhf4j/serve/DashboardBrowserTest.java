package org.rlhf4j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard in a real browser (Debian's chromium, headless, through chromedriver): it asks
 * for the token, lists the job, charts its metrics as iterations finish (with none lost between
 * its snapshot of the metrics and the start of its event stream), and cancels it. The
 * setup (scripts/lib.sh) installs chromium and chromium-driver; where they are missing the test
 * is skipped with that message. Leaves a screenshot in target/serve-dashboard.png.
 */
class DashboardBrowserTest {
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  private static final Path DRIVER = Path.of("/usr/bin/chromedriver");

  @TempDir Path dir;

  /**
   * Holds the dashboard's event-stream requests until the test releases them, so that iterations
   * surely end between its metrics snapshot and its stream (the gap of issue 23).
   */
  private static final String HOLD_EVENTS = """
      (() => {
        const realFetch = window.fetch.bind(window);
        let release;
        const held = new Promise(r => release = r);
        window.releaseEvents = () => release();
        window.fetch = (url, options) =>
          String(url).includes("/events") ? held.then(() => realFetch(url, options)) : realFetch(url, options);
      })();
      """;

  @Test
  void dashboardAsksForTheTokenShowsTheJobChartsItLiveWithoutGapsAndCancelsIt() throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(DRIVER),
        "needs Debian's chromium and chromium-driver (scripts/lib.sh installs them)");
    try (ServeFixture s = new ServeFixture(dir)) {
      String id = s.submit(s.ppoConfig(200, true));
      s.awaitIteration(id, 1);
      ChromeOptions options = new ChromeOptions();
      options.setBinary(CHROMIUM.toString());
      options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
          "--window-size=1400,1000", "--user-data-dir=" + dir.resolve("chromium-profile"));
      ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(DRIVER.toFile())
          .usingAnyFreePort().build();
      ChromeDriver browser = new ChromeDriver(service, options);
      try {
        WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(60), Duration.ofMillis(100));
        browser.executeCdpCommand("Page.addScriptToEvaluateOnNewDocument", Map.of("source", HOLD_EVENTS));
        browser.get(s.uri("/").toString());
        WebElement tokenInput = wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("token")));
        tokenInput.sendKeys(s.token);
        browser.findElement(By.id("token-save")).click();

        By row = By.cssSelector("tr.job[data-id='" + id + "']");
        wait.until(ExpectedConditions.elementToBeClickable(row)).click();
        By chart = By.cssSelector("#charts .chart[data-metric='objective/kl']");
        wait.until(d -> points(d.findElement(chart)) >= 1);
        int snapshot = points(browser.findElement(chart));
        s.awaitIteration(id, snapshot + 2);
        browser.executeScript("window.releaseEvents()");
        wait.until(d -> points(d.findElement(chart)) > snapshot + 2);
        assertTrue(browser.findElement(By.id("config")).getText().contains("iterations: 200"));
        wait.until(d -> !d.findElements(By.cssSelector("#samples tr")).isEmpty());
        Path shot = Path.of("target", "serve-dashboard.png");
        Files.createDirectories(shot.getParent());
        Files.write(shot, browser.getScreenshotAs(OutputType.BYTES));

        browser.findElement(By.id("cancel")).click();
        wait.until(ExpectedConditions.textToBe(By.id("job-state"), "cancelled"));
        long at = s.awaitState(id, "cancelled").get("iteration").asLong();
        assertTrue(at < 200);
        // Every iteration is charted: the ones that ended while the stream was held came first on it.
        wait.until(d -> points(d.findElement(chart)) == at);
      } finally {
        browser.quit();
        service.close();
      }
    }
  }

  private static int points(WebElement chart) {
    String n = chart.getDomAttribute("data-points");
    return n == null ? 0 : Integer.parseInt(n);
  }
}
