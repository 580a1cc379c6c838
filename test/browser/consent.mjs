// Drives inkan's consent page in Debian's headless Chromium.
//
//   node consent.mjs URL DECISION [PIN OTP] [WRONG_PIN EARLIER_OTP]
//
// Opens URL (an oauth2/authorize link), checks the page is inkan's consent
// page with a strict CSP, optionally tries a wrong PIN first (the page must
// stay, showing an error; EARLIER_OTP is a good code of an earlier time step,
// since a code is accepted once), then answers DECISION ("yes" with PIN and OTP, or
// "no"). The client's redirect is intercepted, never fetched. Prints one JSON
// line: {redirect, title, text, csp, error_shown}.
import { chromium } from 'playwright-core';

const [url, decision, pin = '', otp = '', wrongPin = '', earlierOtp = ''] =
  process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update',
         '--disable-sync'],
});
const out = { redirect: null, title: '', text: '', csp: '', error_shown: false };
try {
  // The test CA is not in Chromium's store; the TLS itself is checked by the
  // shell test with curl and openssl.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  let resolveRedirect;
  const redirected = new Promise((r) => { resolveRedirect = r; });
  await page.route(/^http:\/\/127\.0\.0\.1:\d+\/cb/, async (route) => {
    resolveRedirect(route.request().url());
    await route.fulfill({ status: 200, contentType: 'text/plain', body: 'ok' });
  });
  const response = await page.goto(url);
  out.csp = response.headers()['content-security-policy'] || '';
  out.title = await page.title();
  out.text = await page.locator('body').innerText();
  if (wrongPin) {
    await page.fill('#pin', wrongPin);
    await page.fill('#otp', earlierOtp);
    await Promise.all([page.waitForLoadState('load'), page.click('#yes')]);
    await page.waitForSelector('#pin');
    const again = await page.locator('body').innerText();
    out.error_shown = /PIN/.test(again) && again !== out.text;
  }
  if (decision === 'yes') {
    await page.fill('#pin', pin);
    await page.fill('#otp', otp);
    await page.click('#yes');
  } else {
    await page.click('#no');
  }
  out.redirect = await Promise.race([
    redirected,
    new Promise((r) => setTimeout(() => r(null), 15000)),
  ]);
  if (!out.redirect) out.text = await page.locator('body').innerText();
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
