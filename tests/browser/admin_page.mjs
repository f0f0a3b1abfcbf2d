// The admin page in a real browser: Debian's chromium, headless, driven by playwright-core. It loads the
// page from admin_browser_server (its port as argv[2]), sees the projection and its lag chart, opens an
// event whose payload is markup and finds it shown as text (no script of it runs), retries the parked
// event by clicking with the token typed in, and saves a screenshot (argv[3]).
import { chromium } from 'playwright-core';

const [, , port, screenshot] = process.argv;
const executablePath = process.env.STRATA_CHROMIUM || '/usr/lib/chromium/chromium';
const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
let failed = false;
const check = (ok, what) => {
  console.log((ok ? 'ok   ' : 'FAIL ') + what);
  if (!ok) failed = true;
};
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const dialogs = [];
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${port}/`);

  // The projection's row and its lag.
  const row = page.locator('tr.projection', { hasText: 'test.ledger' });
  await row.waitFor({ timeout: 15000 });
  const cells = await row.locator('td').allTextContents();
  check(cells[0] === 'test.ledger', `the projection is listed (${cells.join(' | ')})`);
  check(cells[2] === '0', 'its lag is 0 events');
  check(cells[5] === '1', 'one event is parked');
  await page.waitForFunction(() => document.querySelectorAll('#lag-chart polyline').length > 0, null, { timeout: 10000 });
  check((await page.locator('#lag-legend').textContent()).includes('test.ledger: 0 behind'), 'the lag chart has its line');

  // An event whose payload is markup shows as text.
  await page.locator('#streams a', { hasText: 'markup-1' }).click();
  const event = page.locator('tr.event').first();
  await event.waitFor({ timeout: 10000 });
  await event.click();
  const shown = await page.locator('#event').textContent();
  check(shown.includes('<script>alert(\\"owned\\")</script>'), 'the markup payload is shown as text');
  check((await page.locator('#event script, #event img, #events img').count()) === 0, 'no element was made of it');

  // Retry without the token is refused; with it, the event is applied and leaves the list.
  const parked = page.locator('tr.parked', { hasText: 'ledger-1@' });
  await parked.waitFor({ timeout: 10000 });
  await parked.locator('button.retry').click();
  await page.waitForFunction(() => document.getElementById('message').textContent.startsWith('refused'), null, { timeout: 10000 });
  check((await page.locator('#message').textContent()).includes('Authorization'), 'a retry without the token is refused');
  await page.locator('#token').fill('browser-test');
  await parked.locator('button.retry').click();
  await page.waitForFunction(() => document.getElementById('message').textContent.startsWith('retry done'), null, { timeout: 10000 });
  await page.waitForFunction(() => document.querySelectorAll('tr.parked').length === 0, null, { timeout: 10000 });
  const after = await page.locator('tr.projection', { hasText: 'test.ledger' }).locator('td').allTextContents();
  check(after[5] === '0', 'after the retry nothing is parked');

  await page.screenshot({ path: screenshot, fullPage: true });
  check(dialogs.length === 0, `no script from the store ran (dialogs: ${dialogs.length})`);
  check(errors.length === 0, `the page threw nothing (${errors.join('; ')})`);
} catch (e) {
  check(false, e.stack || String(e));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
