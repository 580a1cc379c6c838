// Walks inkan's enrollment pages from the one-time URL in Debian's headless
// Chromium.
//
//   node enroll.mjs URL PATH PIN OUTDIR [P12_PASSWORD] [LANG]
//
// PATH is "hsm" (path A) or "deliver" (path C). Opens URL
// (https://host/enroll#CODE), sets the PIN, adds a TOTP authenticator (reads
// its secret from the page, checks the QR code is there, answers with the
// current code), makes the key, downloads the PKCS#12 (path C) into
// OUTDIR/key.p12, confirms receipt and saves the certificate shown at the end
// into OUTDIR/cert.pem. Prints one JSON line: {steps, csp, url_after_redeem,
// otpauth, qr, credential, texts}.
import { chromium } from 'playwright-core';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const [url, path, pin, outdir, p12Password = '', lang = 'en'] =
  process.argv.slice(2);

function base32(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of s.replace(/=+$/, '')) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) {
    bytes.push(parseInt(bits.slice(i, i + 8), 2));
  }
  return Buffer.from(bytes);
}

function totp(secret, offset = 0) {
  const step = Math.floor(Date.now() / 1000 / 30) + offset;
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32(secret)).update(msg).digest();
  const off = mac[19] & 0xf;
  const code = (mac.readUInt32BE(off) & 0x7fffffff) % 1000000;
  return code.toString().padStart(6, '0');
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update',
         '--disable-sync', `--lang=${lang}`],
});
const out = { steps: [], csp: '', url_after_redeem: '', otpauth: '', qr: false,
              credential: '', texts: [], landing_url: '', code_filled: false,
              second_download_status: 0 };
let current = null;
const step = async (page) => {
  const s = await page.locator('#step').innerText();
  out.steps.push(s);
  out.texts.push(await page.locator('body').innerText());
  return s;
};
try {
  // The test CA is not in Chromium's store; TLS is checked by the shell test.
  const context = await browser.newContext({
    ignoreHTTPSErrors: true, acceptDownloads: true, locale: lang,
  });
  const page = await context.newPage();
  current = page;
  const first = await page.goto(url);
  out.csp = first.headers()['content-security-policy'] || '';
  // The landing page's script puts the code from the fragment into the form
  // (and off the address bar); the person presses Start.
  out.landing_url = page.url();
  out.code_filled = (await page.inputValue('#code')).length > 0;
  await Promise.all([page.waitForURL(/\/enroll\/step$/), page.click('#start')]);
  out.url_after_redeem = page.url();
  if (await step(page) !== 'pin') throw new Error('not at the PIN step');
  await page.fill('#pin', pin);
  await page.fill('#pin2', pin);
  await Promise.all([page.waitForURL(/\/enroll\/step$/), page.click('#next')]);
  if (await step(page) !== 'factor') throw new Error('not at the factor step');
  await page.click('#totp');
  await page.waitForSelector('#totp-secret');
  if (await step(page) !== 'totp-confirm') throw new Error('no TOTP step');
  out.otpauth = await page.locator('#otpauth').textContent();
  out.secret_shown = await page.locator('#totp-secret').innerText();
  out.qr = (await page.locator('svg.qr path').count()) === 1;
  const secret = new URL(out.otpauth).searchParams.get('secret');
  await page.fill('#otp', totp(secret));
  await page.click('#next');
  await page.waitForSelector('#make');
  if (await step(page) !== 'key') throw new Error('not at the key step');
  await page.selectOption('#alg', 'ec-p256');
  if (path === 'deliver') {
    await page.check('#path-deliver');
    await page.fill('#password', p12Password);
    await page.fill('#password2', p12Password);
    await page.click('#make');
    await page.waitForSelector('#download');
    await step(page);
    const csrf = await page.inputValue('input[name=csrf]');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('#download'),
    ]);
    await download.saveAs(`${outdir}/key.p12`);
    // The file is handed out once: the same session asking again, with its
    // cookie and CSRF token, gets nothing.
    const again = await context.request.post(
      new URL('/enroll/key.p12', page.url()).toString(), { form: { csrf } });
    out.second_download_status = again.status();
    await page.goto(new URL('/enroll/step', page.url()).toString());
  } else {
    await page.check('#path-hsm');
    await page.click('#make');
  }
  await page.waitForSelector('#confirm');
  if (await step(page) !== 'receipt') throw new Error('not at the receipt step');
  await page.check('#confirm');
  await page.click('#next');
  await page.waitForSelector('#done');
  await step(page);
  out.credential = await page.locator('#credential').innerText();
  if (await page.locator('#certificate-pem').count()) {
    writeFileSync(`${outdir}/cert.pem`,
                  await page.locator('#certificate-pem').innerText());
  }
} catch (e) {
  out.error = String(e);
  if (current) out.error_page = await current.locator('body').innerText();
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
