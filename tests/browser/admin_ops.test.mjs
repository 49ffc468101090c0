// The operators' story in a real headless Chromium (run by tests/browser.sh after
// stories.test.mjs, on the same `mentorflow serve --demo`): a coordinator (an operator in the
// demo) reads the health counts and the incidents page, suspends and resumes a case from its
// operator panel, and reassigns a mentor's cases after a dry run; a mentor sees no panel and
// gets 404 for the operators' pages. Every page is checked with axe-core and photographed.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const URL = process.env.MF_URL;
const SHOTS = process.env.MF_SHOTS || 'target/browser-shots';
assert.ok(URL, 'MF_URL must be set (run tests/browser.sh)');
fs.mkdirSync(SHOTS, { recursive: true });

const opened = [];
const problems = [];

async function open(name) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), `mf-chrome-ops-${name}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1200, height: 860 },
    locale: 'en-US',
  });
  context.setDefaultTimeout(10000);
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400 && r.request().resourceType() !== 'document') {
      problems.push(`${r.status()} for ${r.request().resourceType()} ${r.url()}`);
    }
  });
  opened.push({ context, profile });
  return page;
}

after(async () => {
  for (const b of opened) {
    await b.context.close().catch(() => {});
    fs.rmSync(b.profile, { recursive: true, force: true });
  }
});

async function look(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  await page.evaluate(AXE);
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } }),
  );
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join('; ')}`),
    [],
    `accessibility of ${name}`,
  );
}

async function demoSignIn(page, name) {
  await page.goto(`${URL}/demo`);
  await page.getByRole('button', { name, exact: true }).click();
  await page.waitForURL(`${URL}/`);
}

test('an operator sees health and incidents, suspends and resumes a case, reassigns after a dry run, suspends and resumes by a filter', async () => {
  const page = await open('cody');
  await demoSignIn(page, 'Cody Nguyen');
  await page.goto(`${URL}/admin`);
  await page.getByRole('heading', { name: /^Health: / }).waitFor();
  await page.getByText('Open incidents', { exact: true }).waitFor();
  await look(page, '50-admin-health');
  await page.getByRole('link', { name: /Incidents/ }).first().click();
  await page.getByRole('heading', { name: 'Incidents', level: 1 }).waitFor();
  await look(page, '51-admin-incidents');

  // a case from his first list
  await page.goto(`${URL}/`);
  const boxes = await page.locator('a.box').evaluateAll((as) =>
    as.map((a) => ({ href: a.getAttribute('href'), count: Number(a.querySelector('.count')?.textContent) })));
  const full = boxes.find((b) => b.href.startsWith('/views/') && b.count > 0);
  assert.ok(full, `a list with cases among ${JSON.stringify(boxes)}`);
  await page.goto(`${URL}${full.href}`);
  await page.locator('table.list tbody tr a').first().click();
  await page.getByRole('heading', { name: 'Operator controls' }).waitFor();
  const caseUrl = page.url();
  await page.getByLabel('Reason for suspending').fill('client asked for a pause');
  await page.getByRole('button', { name: 'Suspend', exact: true }).click();
  await page.getByText(/Suspended by Cody Nguyen .*client asked for a pause/).waitFor();
  await look(page, '52-case-suspended');
  await page.getByLabel('Reason for resuming').fill('client is back');
  await page.getByRole('button', { name: 'Resume', exact: true }).click();
  await page.getByLabel('Reason for suspending').waitFor();
  assert.equal(await page.getByText(/Suspended by/).count(), 0);

  // reassign a mentor's cases: the dry run first, then for real
  await page.goto(`${URL}/admin/reassign`);
  await page.getByLabel('From (the person who leaves)').selectOption('lena');
  await page.getByLabel('To', { exact: true }).selectOption('omar');
  await page.getByLabel('Reason').fill('Lena left the programme');
  await page.getByRole('button', { name: 'Show the cases' }).click();
  await page.getByText(/^Dry run: \d+ cases? would change/).waitFor();
  await look(page, '53-reassign-dry-run');
  const confirm = page.getByRole('button', { name: /^Reassign \d+ cases?$/ });
  if (await confirm.count()) {
    await confirm.click();
    await page.getByText(/^Done: \d+ cases? reassigned/).waitFor();
    await look(page, '54-reassign-done');
  }

  // suspend the cases of a filter after a dry run, then resume them the same way
  for (const [control, shot] of [['suspend', '55-bulk-suspend-dry-run'], ['resume', null]]) {
    await page.goto(`${URL}/admin/bulk`);
    await page.getByLabel('Control').selectOption(control);
    await page.getByLabel('Workflow').selectOption('engagement');
    await page.getByLabel('Reason').fill('the programme pauses engagements for the holidays');
    await page.getByRole('button', { name: 'Show the cases' }).click();
    await page.getByText(/^Dry run: \d+ cases? would change/).waitFor();
    const rows = await page.locator('table.list tbody tr').count();
    if (control === 'suspend') {
      assert.ok(rows > 0, 'the demo has engagements to suspend');
      await look(page, shot);
    }
    const go = page.getByRole('button', { name: new RegExp(`^${control} \\d+ cases?$`, 'i') });
    await go.click();
    await page.getByText(/^Done: \d+ cases? changed/).waitFor();
    if (control === 'suspend') {
      await look(page, '56-bulk-suspend-done');
      const outcomes = await page.locator('table.list tbody tr td:last-child').allTextContents();
      assert.deepEqual(outcomes, outcomes.map(() => 'suspended'));
      assert.equal(outcomes.length, rows);
    }
  }

  // a mentor is no operator: no panel, no pages
  const omar = await open('omar');
  await demoSignIn(omar, 'Omar Haddad');
  const r = await omar.goto(`${URL}/admin/incidents`);
  assert.equal(r.status(), 404);
  const c = await omar.goto(caseUrl);
  if (c.status() === 200) {
    assert.equal(await omar.getByRole('heading', { name: 'Operator controls' }).count(), 0);
  }
  assert.deepEqual(problems, []);
});
