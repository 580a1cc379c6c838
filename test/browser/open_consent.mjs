// Answers inkan's consent page in Debian's headless Chromium, the way a signer
// does for `inkan sign`: the redirect goes to the real loopback listener of
// `inkan sign` (nothing is intercepted).
//
//   node open_consent.mjs URL DECISION [PIN OTP]
//
// Opens URL (the oauth2/authorize link inkan sign printed), answers DECISION
// ("yes" with PIN and OTP, or "no"), and waits for the browser to land on the
// loopback redirect URI. Prints one JSON line: {landed, status, text, page}
// where `landed` is the URL reached, `status` its HTTP status, `text` the
// loopback page's text and `page` the consent page's text.
import { chromium } from 'playwright-core';

const [url, decision, pin = '', otp = ''] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update',
         '--disable-sync'],
});
const out = { landed: null, status: 0, text: '', page: '' };
try {
  // The test CA is not in Chromium's store; the TLS itself is checked by
  // inkan sign (--cacert) and by the shell tests.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const loopback = /^http:\/\/127\.0\.0\.1:\d+\/cb\?/;
  let resolveLanding;
  const landing = new Promise((r) => { resolveLanding = r; });
  page.on('response', (response) => {
    if (loopback.test(response.url())) resolveLanding(response);
  });
  await page.goto(url);
  out.page = await page.locator('body').innerText();
  if (decision === 'yes') {
    await page.fill('#pin', pin);
    await page.fill('#otp', otp);
    await page.click('#yes');
  } else {
    await page.click('#no');
  }
  const response = await Promise.race([
    landing,
    new Promise((r) => setTimeout(() => r(null), 20000)),
  ]);
  if (response) {
    out.landed = response.url();
    out.status = response.status();
    await page.waitForLoadState('load');
    out.text = await page.locator('body').innerText();
  } else {
    out.text = await page.locator('body').innerText();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
