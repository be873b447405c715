// The workbench in a real headless Chromium: a data directory prepared with the CLI (demo,
// a monitor pass that creates alerts, trace build), an analyst and an approver registered with
// passwords (`floodgate users add`, `floodgate users passwd`), a supervisor key,
// `floodgate serve` on an ephemeral loopback port; then log in with a password (a wrong one
// refused first), open an alert, open its case,
// add a note carrying markup (shown literally), expand the fund-flow graph, decide, approve as
// the second user, see the report due, and sign in as a supervisor (aggregates only). A screenshot of each step goes to
// target/browser-artifacts/. Run from the repository root: `node crates/api/tests/browser/workbench.mjs`.
// Env: FLOODGATE_BIN (default target/debug/floodgate), CHROMIUM (default /usr/bin/chromium).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const bin = resolve(process.env.FLOODGATE_BIN || 'target/debug/floodgate');
const out = resolve('target/browser-artifacts');
mkdirSync(out, { recursive: true });
const data = mkdtempSync(join(tmpdir(), 'fg-web-'));
const cli = (...args) => execFileSync(bin, ['--data-dir', data, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const key = (user, role) => JSON.parse(cli('serve', 'keys', 'create', '--tenant', 'default', '--user', user, '--role', role)).key;

cli('demo', '--no-serve');
cli('monitor', '--from-store');
cli('trace', 'build');
// People sign in with passwords: registered users (the first one an admin), each password set
// through standard input and stored only as an argon2id hash.
cli('users', 'add', 'boss', 'admin', '--as', 'boss');
cli('users', 'add', 'lan', 'analyst', '--as', 'boss');
cli('users', 'add', 'minh', 'approver', '--as', 'boss');
const passwd = (user, pw) => execFileSync(bin, ['--data-dir', data, 'users', 'passwd', user, '--as', 'boss'], { encoding: 'utf8', input: `${pw}\n`, stdio: ['pipe', 'pipe', 'pipe'] });
const analystPw = 'lan-correct-horse-7';
const approverPw = 'minh-battery-staple-9';
passwd('lan', analystPw);
passwd('minh', approverPw);
const supervisorKey = JSON.parse(cli('serve', 'keys', 'create', '--tenant', 'sbv', '--user', 'inspector', '--role', 'supervisor')).key;

const server = spawn(bin, ['--data-dir', data, 'serve', '--addr', '127.0.0.1:0', '--rate-limit', '0'], {
  env: { ...process.env, FLOODGATE_LOG: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'],
});
let log = '';
const base = await new Promise((ok, fail) => {
  const t = setTimeout(() => fail(new Error(`serve did not start:\n${log}`)), 30000);
  server.stderr.on('data', (d) => {
    log += d;
    const m = /serving; docs at (http:\/\/[0-9.:]+)\/docs/.exec(log);
    if (m) { clearTimeout(t); ok(m[1]); }
  });
  server.on('exit', (c) => fail(new Error(`serve exited ${c}:\n${log}`)));
});

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
let step = 0;
let current = null;
const shot = async (page, name) => {
  step += 1;
  const file = join(out, `${String(step).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`ok ${step} ${name} (${file})`);
};
const problems = [];
const newPage = async () => {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await ctx.newPage();
  current = page;
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // 401s before login and for the wrong key are answers the page handles, not faults.
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 401/.test(m.text())) problems.push(`console: ${m.text()}`); });
  page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); d.dismiss(); });
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) problems.push(`off-origin request: ${r.url()}`); });
  // Every response the page receives, recorded from the start: a waitForResponse set up just
  // before an action can miss a fast answer on a loaded machine (its event subscription is
  // asynchronous), so steps look the response up here after the page shows its effect.
  const seen = [];
  page.on('response', (r) => seen.push(r));
  responsesOf.set(page, seen);
  return page;
};
const responsesOf = new WeakMap();
/** The responses `page` has received so far whose URL ends with `path`. */
const responses = (page, path) => responsesOf.get(page).filter((r) => r.url().endsWith(path));
const loginKey = async (page, k) => {
  await page.goto(`${base}/`);
  await page.click('#key-login summary');
  await page.fill('#api-key', k);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#nav:not([hidden])');
};
const login = async (page, user, pw) => {
  await page.goto(`${base}/`);
  await page.fill('#login-tenant', 'default');
  await page.fill('#login-user', user);
  await page.fill('#login-password', pw);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#nav:not([hidden])');
};

try {
  const page = await newPage();
  const resp = await page.goto(`${base}/`);
  assert.match(resp.headers()['content-security-policy'], /script-src 'self'/);
  await page.waitForSelector('#login-form');
  assert.equal(await page.isVisible('#nav'), false, 'the navigation shows before sign-in');
  await shot(page, 'login');
  await page.fill('#login-tenant', 'default');
  await page.fill('#login-user', 'lan');
  await page.fill('#login-password', 'not-the-password');
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#flash.error');
  assert.match(await page.textContent('#flash'), /wrong tenant, user or password/);
  assert.equal(await page.isVisible('#nav'), false, 'a wrong password signed in');

  await login(page, 'lan', analystPw);
  assert.match(await page.textContent('#who'), /lan · analyst · default/);
  await page.waitForSelector('#alerts tbody tr[data-id]');
  const rows = await page.locator('#alerts tbody tr[data-id]').count();
  assert.ok(rows >= 4, `expected the monitor's alerts, saw ${rows}`);
  await shot(page, 'alert-queue');

  // Keyboard: j moves the selection, k back; the detail pane follows.
  await page.keyboard.press('j');
  const second = await page.getAttribute('#alerts tr.selected', 'data-id');
  await page.keyboard.press('k');
  const first = await page.getAttribute('#alerts tr.selected', 'data-id');
  assert.notEqual(first, second);
  // Filter by rule: only alerts of that rule remain.
  await page.selectOption('select[name=rule]', 'new_account_large');
  await page.waitForFunction(() => document.querySelectorAll('#alerts tbody tr[data-id]').length === 1);
  assert.match(await page.textContent('#alert-detail'), /account opened 0 days ago/);
  await shot(page, 'alert-open');

  await page.keyboard.press('Enter');
  await page.waitForSelector('#case-state');
  const caseUrl = page.url();
  assert.match(await page.textContent('#view'), /new_account_large/);
  await shot(page, 'case');

  // A note with markup is data: shown literally, never parsed.
  const evil = '<img src=x onerror="document.title=\'pwned\'"> <b>bold?</b>';
  await page.fill('#note-form input[name=text]', evil);
  await page.click('#note-form button');
  await page.waitForSelector('#notes .note-text');
  assert.equal(await page.textContent('#notes .note-text'), evil);
  assert.equal(await page.locator('#notes img, #notes b').count(), 0);
  assert.notEqual(await page.title(), 'pwned');
  await page.fill('#assign-form input[name=user]', 'lan');
  await page.click('#assign-form button');
  await page.waitForFunction(() => document.querySelector('#flash').textContent === 'Assigned.');
  await shot(page, 'case-note-literal');

  // Fund flow: Satoshi → Hal Finney (block 170), then expand a node by one hop.
  await page.click('#nav a[data-view=graph]');
  await page.fill('#trace-form input[name=from]', '12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S');
  await page.fill('#trace-form input[name=to]', '1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3');
  await page.click('#trace-form button[type=submit]');
  await page.waitForFunction(() => window.fgGraph && window.fgGraph.nodes().length >= 3);
  const before = await page.evaluate(() => window.fgGraph.elements().length);
  // Expanding the transaction node asks the server for its real neighbours (one hop out).
  const tx = await page.evaluate(() => window.fgGraph.nodes('.tx')[0].id());
  assert.equal(responses(page, '/v1/trace/neighbours').length, 0);
  await page.evaluate((id) => window.fgGraph.getElementById(id).emit('tap'), tx);
  await page.waitForSelector('#hop-info');
  for (let i = 0; i < 100 && responses(page, '/v1/trace/neighbours').length === 0; i += 1) await page.waitForTimeout(100);
  const [nb] = responses(page, '/v1/trace/neighbours');
  assert.ok(nb, 'expanding the node asked the server for its neighbours (POST /v1/trace/neighbours)');
  assert.equal(nb.status(), 200);
  const hop = await nb.json();
  assert.ok(hop.neighbours.length >= 2, `tx 170 pays Hal and change: ${JSON.stringify(hop)}`);
  assert.match(await page.textContent('#hop-info'), /Expanded one hop out/);
  for (const n of hop.neighbours) assert.ok(await page.evaluate((id) => window.fgGraph.getElementById(id).nonempty(), n.node), `${n.node} not drawn`);
  await page.evaluate(() => window.fgGraph.getElementById('12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S').emit('tap'));
  await page.waitForFunction(() => /Exposure \(BTC/.test(document.querySelector('#node-info').textContent));
  const after = await page.evaluate(() => window.fgGraph.elements().length);
  assert.ok(after >= before);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-svg')]);
  const svgPath = join(out, 'trace.svg');
  await download.saveAs(svgPath);
  await shot(page, 'graph-expanded');

  // Decide (report needs four eyes), then approve as a different user.
  await page.goto(caseUrl);
  await page.waitForSelector('#decide-form');
  await page.selectOption('#decide-form select[name=decision]', 'report');
  await page.fill('#decide-form input[name=reason]', 'large first deposit without travel-rule data');
  await page.click('#decide-form button');
  await page.waitForFunction(() => document.querySelector('#case-state')?.textContent === 'pending_approval');
  await shot(page, 'decided');

  const page2 = await newPage();
  await login(page2, 'minh', approverPw);
  await page2.goto(caseUrl);
  await page2.waitForSelector('#approve-form');
  await page2.click('#approve-form button');
  await page2.waitForFunction(() => document.querySelector('#case-state')?.textContent === 'closed');
  assert.match(await page2.textContent('#view'), /minh/);
  await shot(page2, 'approved');

  await page2.click('#nav a[data-view=reports]');
  await page2.waitForSelector('#reports tbody tr');
  assert.match(await page2.textContent('#reports'), /large_value/);
  await shot(page2, 'reports-due');

  // A supervisor sees only the aggregates page.
  const page3 = await newPage();
  await loginKey(page3, supervisorKey);
  await page3.waitForSelector('#summary');
  assert.match(await page3.textContent('#timeliness'), /default/);
  assert.equal(await page3.isVisible('#nav a[data-view=alerts]'), false);
  assert.doesNotMatch(await page3.textContent('#summary'), /cust-1002/);
  await shot(page3, 'supervisor');

  assert.deepEqual(problems, []);
  console.log(`workbench: ${step} steps passed; screenshots in ${out}`);
} catch (e) {
  if (current) await current.screenshot({ path: join(out, 'failure.png'), fullPage: true }).catch(() => {});
  console.error(`FAILED: ${e.stack || e}\nbrowser problems: ${JSON.stringify(problems, null, 1)}\nserver log:\n${log.slice(-3000)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  server.kill('SIGTERM');
  await new Promise((ok) => { if (server.exitCode !== null) ok(); else server.on('exit', ok); });
  rmSync(data, { recursive: true, force: true });
}
