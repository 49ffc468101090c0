// The portal's stories from the guides, in a real headless Chromium (Debian's), driven by
// playwright-core. tests/browser.sh builds the CLI, starts `mentorflow serve --demo` on a free
// loopback port with its own database and mail folder, and runs this file with:
//   MF_URL    the portal's address (http://127.0.0.1:PORT)
//   MF_MAIL   the folder the portal writes its e-mails to (one .eml per message)
//   MF_SHOTS  where screenshots go (target/browser-shots)
// Every page a story visits is checked with axe-core (serious and critical violations fail).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const URL = process.env.MF_URL;
const MAIL = process.env.MF_MAIL;
const SHOTS = process.env.MF_SHOTS || 'target/browser-shots';
assert.ok(URL && MAIL, 'MF_URL and MF_MAIL must be set (run tests/browser.sh)');
fs.mkdirSync(SHOTS, { recursive: true });

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** A fresh browser (own profile) for one person. */
async function browserFor(name) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), `mf-chrome-${name}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ARGS,
    viewport: { width: 1200, height: 860 },
    locale: 'en-US',
  });
  context.setDefaultTimeout(10000);
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // documents answer 400/404 on purpose; a failing stylesheet, script or image is a bug
  page.on('response', (r) => {
    if (r.status() >= 400 && r.request().resourceType() !== 'document') {
      problems.push(`${r.status()} for ${r.request().resourceType()} ${r.url()}`);
    }
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
      problems.push(`console: ${m.text()}`);
    }
  });
  return {
    page,
    problems,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** axe-core on the current page: no serious or critical WCAG violation. */
async function axe(page, what) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } }),
  );
  assert.ok(result.passes.length > 0, `axe-core ran on ${what} (${result.passes.length} rules passed)`);
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join('; ')}`),
    [],
    `accessibility of ${what}`,
  );
}

/** Screenshot (full page) and accessibility check. */
async function look(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  await axe(page, name);
}

async function demoSignIn(page, name) {
  await page.goto(`${URL}/demo`);
  await page.getByRole('button', { name, exact: true }).click();
  await page.waitForURL(`${URL}/`);
  await assert.doesNotReject(page.getByRole('heading', { name: `Welcome, ${name}` }).waitFor());
}

/** The newest .eml in the mail folder addressed to `to` that arrived after `since`. */
async function mailTo(to, since) {
  for (let i = 0; i < 50; i++) {
    const found = fs
      .readdirSync(MAIL)
      .filter((f) => f.endsWith('.eml'))
      .map((f) => path.join(MAIL, f))
      .filter((f) => fs.statSync(f).mtimeMs >= since)
      .map((f) => fs.readFileSync(f, 'utf8'))
      .filter((t) => t.includes(`<${to}>`));
    if (found.length) return found[found.length - 1];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no e-mail to ${to} in ${MAIL}`);
}

let browserProblems = [];
const opened = [];
async function open(name) {
  const b = await browserFor(name);
  opened.push(b);
  return b;
}
after(async () => {
  for (const b of opened) {
    browserProblems.push(...b.problems);
    await b.close().catch(() => {});
  }
});

// Shared by the stories, in order: the request Pat submits.
let requestUrl;

test('a client submits a request; a bad input shows its error at the field', async () => {
  const { page } = await open('pat');
  await demoSignIn(page, 'Pat Rivera');
  await look(page, '01-home-client');
  await page.getByRole('link', { name: 'Submit a mentoring request' }).click();
  await page.getByRole('heading', { name: 'Submit a mentoring request' }).waitFor();
  await look(page, '02-start-form');

  // a client name is required: leave it empty
  await page.getByLabel('Business').fill('Rosa Plants');
  await page.getByRole('button', { name: 'Submit a mentoring request' }).click();
  const name = page.getByLabel('Client name');
  assert.equal(await name.getAttribute('aria-invalid'), 'true');
  const describedBy = await name.getAttribute('aria-describedby');
  const error = page.locator(`#${describedBy}`);
  assert.match(await error.innerText(), /required|client name/i);
  assert.match(await page.getByRole('alert').innerText(), /nothing was started/);
  // what was typed is kept
  assert.equal(await page.getByLabel('Business').inputValue(), 'Rosa Plants');
  await look(page, '03-start-form-error');

  await name.fill('Rosa’s Plant Shop <b>&</b>');
  await page.getByLabel('What the client needs help with').fill('A website and a first marketing plan.');
  await page.getByRole('button', { name: 'Submit a mentoring request' }).click();
  await page.waitForURL(/\/cases\/\d+/);
  requestUrl = page.url().replace(/\?.*$/, '');
  await page.getByText('Submitted', { exact: true }).first().waitFor();
  // hostile-looking text is shown as typed, never as markup
  await page.getByText('Rosa’s Plant Shop <b>&</b>').first().waitFor();
  await look(page, '04-case-submitted');
});

test('a coordinator works the Client Intake Queue and assigns a mentor', async () => {
  assert.ok(requestUrl, 'the previous story made a request');
  const { page } = await open('cody');
  await demoSignIn(page, 'Cody Nguyen');
  const box = page.getByRole('link', { name: /Client Intake Queue/ });
  assert.match(await box.innerText(), /^\s*[1-9]\d*\s/);
  await look(page, '05-home-coordinator');
  await box.click();
  await page.getByRole('heading', { name: /Client Intake Queue/ }).waitFor();
  await look(page, '06-intake-queue');
  await page.getByRole('link', { name: 'Rosa’s Plant Shop <b>&</b>' }).click();
  await page.waitForURL(requestUrl);

  // the picker offers the chapter's mentors whom the guard accepts: the active ones, not Sam
  // (a subject matter expert) nor anyone who is no mentor (choices: { role: mentor, guard: true })
  await page.locator('summary', { hasText: 'Assign a mentor' }).click();
  const offered = (await page.getByLabel('Mentor').locator('option').allInnerTexts())
    .map((t) => t.trim())
    .filter((t) => !t.startsWith('—'));
  assert.deepEqual(offered, ['Alice Moreau', 'Dan Okafor', 'Erin Walsh']);
  await page.getByText('Submitted', { exact: true }).first().waitFor();
  await look(page, '07-case-assign-picker');

  await page.getByLabel('Mentor').selectOption({ label: 'Dan Okafor' });
  await page.getByRole('button', { name: 'Assign a mentor' }).click();
  await page.waitForURL(/done=assign/);
  await page.getByText('Assigned – Pending', { exact: true }).first().waitFor();
  await look(page, '08-case-assigned');
});

test('a mentor signs in by the e-mailed link and accepts the request with a note', async () => {
  assert.ok(requestUrl, 'the first story made a request');
  const { page } = await open('dan');
  await page.goto(`${URL}/`);
  await page.waitForURL(`${URL}/sign-in`);
  await look(page, '09-sign-in');
  const since = Date.now() - 1000;
  await page.getByLabel('E-mail address', { exact: true }).fill('dan@ch12.example.org');
  await page.getByRole('button', { name: 'Send me a sign-in link' }).click();
  await page.getByRole('status').getByText(/a sign-in link is on its way/).waitFor();
  await look(page, '10-sign-in-sent');

  const mail = await mailTo('dan@ch12.example.org', since);
  assert.match(mail, /^Subject: Your sign-in link/m);
  const link = mail.match(/https?:\/\/\S+\/sign-in\/[A-Za-z0-9_-]+/)?.[0];
  assert.ok(link, `a link in the mail:\n${mail}`);
  assert.ok(link.startsWith(URL), `the link points to the portal (${link})`);
  await page.goto(link);
  await page.getByText('Sign in as').waitFor();
  assert.match(await page.locator('main').innerText(), /Dan Okafor/);
  await look(page, '11-sign-in-confirm');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${URL}/`);
  await page.getByRole('heading', { name: 'Welcome, Dan Okafor' }).waitFor();

  // the assignment's notification came by mail too, linking to the request in this portal
  const caseId = requestUrl.match(/\/cases\/(\d+)/)[1];
  const assigned = fs
    .readdirSync(MAIL)
    .filter((f) => f.startsWith('notification-'))
    .map((f) => fs.readFileSync(path.join(MAIL, f), 'utf8').replace(/=\r\n/g, '').replace(/=3D/g, '='))
    .find((t) => t.includes('<dan@ch12.example.org>') && t.includes(`/requests/${caseId}`));
  assert.ok(assigned, 'a notification mail to Dan links to the request');
  const notified = assigned.match(/https?:\/\/\S+\/requests\/\d+/)[0];
  assert.equal(notified, `${URL}/requests/${caseId}`);
  await page.goto(notified);
  await page.waitForURL(requestUrl);
  await page.goto(`${URL}/`);

  const needAction = page.getByRole('link', { name: /Need Action/ });
  assert.match(await needAction.innerText(), /^\s*[1-9]\d*\s/, 'Need Action counts the request');
  await look(page, '12-home-mentor');
  await needAction.click();
  await page.getByRole('heading', { name: /Need Action/ }).waitFor();
  await look(page, '13-need-action');
  await page.getByRole('link', { name: 'Rosa’s Plant Shop <b>&</b>' }).click();
  await page.waitForURL(requestUrl);

  // seed 001: a session cannot be added before accepting; the page says so, greyed, no form
  const notNow = page.getByRole('region', { name: 'Not possible now' });
  const session = notNow.locator('#unavailable-log_session');
  assert.match(await session.innerText(), /Add a mentoring session/);
  assert.match(await session.innerText(), /You must accept or decline this mentoring request before adding a session/);
  assert.match(await notNow.innerText(), /once the case moves on \(Accept Assignment or Decline Assignment\)/);
  assert.equal(await page.locator('form[action$="/act/log_session"]').count(), 0);
  // the plain "not while the case is …" lines are one grouped line, not one each
  const later = notNow.locator('li.later');
  assert.match(await later.innerText(), /^Not while the case is Assigned – Pending\n.*Refer Mentor/s);
  assert.doesNotMatch(await notNow.innerText(), /Refer Mentor is not possible while/);
  await look(page, '13b-case-not-possible-now');

  // a blank note is refused at the field, nothing changes
  await page.locator('summary', { hasText: 'Accept Assignment' }).click();
  await page.getByRole('button', { name: 'Accept Assignment' }).click();
  const note = page.getByLabel('Note to the client');
  assert.equal(await note.getAttribute('aria-invalid'), 'true');
  await page.locator(`#${await note.getAttribute('aria-describedby')}`).waitFor();
  await page.getByText('Assigned – Pending', { exact: true }).first().waitFor();
  await look(page, '14-accept-blank-note');

  await note.fill('Hi Rosa, I am Dan. Let us meet on Thursday at 10:00.');
  await page.getByRole('button', { name: 'Accept Assignment' }).click();
  await page.waitForURL(/done=accept/);
  await page.getByText('In Progress', { exact: true }).first().waitFor();
  await page.getByText('Hi Rosa, I am Dan. Let us meet on Thursday at 10:00.').first().waitFor();
  // accepted: adding a session is now a form, no longer "not possible"
  await page.locator('summary', { hasText: 'Add a mentoring session' }).waitFor();
  assert.equal(await page.locator('#unavailable-log_session').count(), 0);
  await look(page, '15-case-accepted');
  // the request no longer needs action
  await page.goto(`${URL}/`);
  await look(page, '16-home-mentor-after');
});

test('a mentor accepts from the signed link in the e-mail; the used link says so', async () => {
  // Pat submits another request and the coordinator assigns Erin
  const pat = (await open('pat-2')).page;
  await demoSignIn(pat, 'Pat Rivera');
  await pat.getByRole('link', { name: 'Submit a mentoring request' }).click();
  await pat.getByLabel('Client name').fill('Link Street Bakery');
  await pat.getByRole('button', { name: 'Submit a mentoring request' }).click();
  await pat.waitForURL(/\/cases\/\d+/);
  const caseUrl = pat.url().replace(/\?.*$/, '');
  const cody = (await open('cody-2')).page;
  await demoSignIn(cody, 'Cody Nguyen');
  await cody.goto(caseUrl);
  await cody.locator('summary', { hasText: 'Assign a mentor' }).click();
  await cody.getByLabel('Mentor').selectOption({ label: 'Erin Walsh' });
  const since = Date.now() - 1000;
  await cody.getByRole('button', { name: 'Assign a mentor' }).click();
  await cody.waitForURL(/done=assign/);

  // the mail to Erin carries signed Accept / Decline links
  const mail = (await mailTo('erin@ch12.example.org', since)).replace(/=\r\n/g, '').replace(/=3D/g, '=');
  assert.match(mail, /Act directly from this e-mail/);
  const accept = mail.match(/Accept Assignment: (https?:\/\/\S+\/l\/[A-Za-z0-9_.-]+)/)?.[1];
  const decline = mail.match(/Decline Assignment: (https?:\/\/\S+\/l\/[A-Za-z0-9_.-]+)/)?.[1];
  assert.ok(accept && decline, `action links in the mail:\n${mail}`);
  assert.ok(accept.startsWith(URL), accept);

  // not signed in: the link asks for sign-in first, and keeps where it was going
  const { page } = await open('erin');
  await page.goto(accept);
  await page.waitForURL(/\/sign-in\?next=%2Fl%2F|\/sign-in\?next=\/l\//);
  await demoSignIn(page, 'Erin Walsh');
  await page.goto(accept);
  await page.getByRole('status').getByText(/From your e-mail/).waitFor();
  assert.match(await page.getByRole('status').innerText(), /Accept Assignment/);
  // the form is open, nothing was done yet
  await page.getByText('Assigned – Pending', { exact: true }).first().waitFor();
  await look(page, '16b-link-form');
  await page.getByLabel('Note to the client').fill('Hello from Erin: let us talk on Monday.');
  await page.getByRole('button', { name: 'Accept Assignment' }).click();
  await page.waitForURL(/done=accept/);
  await page.getByText('In Progress', { exact: true }).first().waitFor();

  // used: the link and its sibling are refused with a page that says so
  for (const link of [accept, decline]) {
    const r = await page.goto(link);
    assert.equal(r.status(), 410);
    await page.getByRole('heading', { name: 'This link was already used' }).waitFor();
    await page.getByRole('link', { name: 'Open the case as it is now' }).waitFor();
  }
  await look(page, '16c-link-used');
  // a changed link is refused too
  const r = await page.goto(accept.replace(/\/l\/(.)/, (m, c) => `/l/${c === 'A' ? 'B' : 'A'}`));
  assert.equal(r.status(), 400);
  await page.getByRole('heading', { name: 'This link is not valid' }).waitFor();
});

test('a coordinator reads the Session Activity Report and downloads it as CSV', async () => {
  const { page } = await open('cody-report');
  await demoSignIn(page, 'Cody Nguyen');
  await page.getByRole('region', { name: 'Reports' }).getByRole('link', { name: 'Session Activity Report' }).click();
  await page.getByRole('heading', { name: /Session Activity Report/ }).waitFor();
  const headers = await page.locator('table.list thead th').allInnerTexts();
  for (const h of ['Case', 'Client', 'Mentor', 'Date', 'Duration', 'Kind']) {
    assert.ok(headers.includes(h), `column ${h} in ${headers}`);
  }
  const rows = await page.locator('table.list tbody tr').count();
  assert.ok(rows >= 1, 'the demo logged sessions');
  // person ids are shown by name
  assert.match(await page.locator('table.list tbody').innerText(), /Dan Okafor/);
  // the chapter by its name, not its id; empty date filters say the format they take
  const chapterCol = headers.indexOf('Chapter');
  assert.ok(chapterCol >= 0, `a Chapter column in ${headers}`);
  const chapters = await page.locator(`table.list tbody tr td:nth-child(${chapterCol + 1})`).allInnerTexts();
  assert.ok(chapters.length > 0 && chapters.every((c) => c === 'SCORE Chapter 12'), `chapters: ${chapters}`);
  assert.equal(await page.getByLabel('From').getAttribute('placeholder'), 'YYYY-MM-DD');
  await look(page, '23-session-activity-report');
  // a period with no sessions: no rows, and the filter is kept
  await page.getByLabel('From').fill('2030-01-01');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.getByText(/No rows for these filters/).waitFor();
  assert.equal(await page.getByLabel('From').inputValue(), '2030-01-01');
  // the CSV: the same columns, one line per session (as the signed-in coordinator)
  const csv = await page.request.get(`${URL}/exports/score_request/session_activity?format=csv`);
  assert.equal(csv.status(), 200);
  assert.match(csv.headers()['content-disposition'], /attachment; filename="session_activity.csv"/);
  const lines = (await csv.text()).trim().split(/\r\n/);
  assert.match(lines[0], /^case,chapter,client,mentor,lead_mentor,date,duration,kind/);
  assert.equal(lines.length - 1, rows);
  // an agent of the contact centre is not offered it, and cannot open it
  const ana = (await open('ana-report')).page;
  await demoSignIn(ana, 'Ana Souza');
  const r = await ana.goto(`${URL}/exports/score_request/session_activity`);
  assert.equal(r.status(), 404);
});

test('an agent sees the Outbox, Inbox and Public Box; the supervisor the To-Do Box', async () => {
  const { page } = await open('ana');
  await demoSignIn(page, 'Ana Souza');
  await look(page, '17-home-agent');
  // her start buttons are the contact centre's own, none of the other organisations' flows
  const starts = await page.locator('ul.starts .button').allInnerTexts();
  assert.deepEqual(starts, ['New Request - Mentoring Request']);
  for (const box of ['Outbox', 'Inbox', 'Public Box']) {
    await page.getByRole('link', { name: new RegExp(`^\\s*\\d+\\s+${box}\\b`) }).waitFor();
  }
  // the To-Do Box is the supervisor's (agent_exception: viewer supervisor)
  assert.equal(await page.getByRole('link', { name: /To-Do Box/ }).count(), 0);
  await page.getByRole('link', { name: /Outbox/ }).click();
  await page.getByRole('heading', { name: /Outbox/ }).waitFor();
  await look(page, '18-outbox');
  await page.locator('table.list tbody tr a').first().click();
  await page.waitForURL(/\/cases\/\d+/);
  await look(page, '19-agent-case');

  const sue = (await open('sue')).page;
  await demoSignIn(sue, 'Sue Palmer');
  for (const box of ['To-Do Box', 'All Box']) {
    await sue.getByRole('link', { name: new RegExp(`^\\s*\\d+\\s+${box}\\b`) }).waitFor();
  }
  await look(sue, '20-home-supervisor');
});

test('a person who may not see a case gets 404, like a missing one', async () => {
  assert.ok(requestUrl, 'the first story made a request');
  const { page } = await open('kim');
  await demoSignIn(page, 'Kim Tanaka');
  const hidden = await page.goto(requestUrl);
  assert.equal(hidden.status(), 404);
  const hiddenText = await page.locator('main').innerText();
  assert.doesNotMatch(hiddenText, /Rosa/);
  await look(page, '21-not-found');
  const missing = await page.goto(`${URL}/cases/987654321`);
  assert.equal(missing.status(), 404);
  assert.equal(
    (await page.locator('main').innerText()).replace(/\d+/g, 'N'),
    hiddenText.replace(/\d+/g, 'N'),
    'an invisible case looks like a missing one',
  );
});

test('the demo page and signing out', async () => {
  const { page } = await open('demo');
  await page.goto(`${URL}/demo`);
  await look(page, '22-demo');
  await demoSignIn(page, 'Sue Palmer');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${URL}/sign-in`);
  const r = await page.goto(`${URL}/`);
  assert.equal(new globalThis.URL(page.url()).pathname, '/sign-in', `home after sign-out (${r.status()})`);
});

test('an operator administers people, organisations, workflows and the outbox; others get 404', async () => {
  // in the demo, coordinators are operators
  const { page } = await open('admin');
  await demoSignIn(page, 'Gus Ferreira');
  await page.getByRole('link', { name: /People, organisations, workflows and the outbox/ }).click();
  await page.getByRole('heading', { name: 'Administration', level: 1 }).waitFor();
  await look(page, '23-admin');
  await page.getByRole('link', { name: /People/ }).first().click();
  await page.getByRole('heading', { name: /^People/ }).waitFor();
  await look(page, '24-admin-people');
  await page.getByRole('link', { name: 'Lena Park' }).click();
  await page.getByRole('heading', { name: 'Lena Park' }).waitFor();
  // attributes that are not a JSON object: the message at the field, nothing saved
  await page.getByLabel('Attributes').fill('[1, 2]');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#e-attributes').waitFor();
  assert.equal(await page.getByLabel('Attributes').getAttribute('aria-invalid'), 'true');
  await look(page, '25-admin-person-error');
  await page.getByLabel('Attributes').fill('{"classification": "active"}');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved.').waitFor();

  await page.goto(`${URL}/admin/orgs`);
  await look(page, '26-admin-orgs');
  await page.locator('table.list tbody tr a').first().click();
  await page.getByLabel('Time zone').fill('Mars/Olympus');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#e-timezone').waitFor();
  assert.match(await page.locator('#e-timezone').innerText(), /Mars\/Olympus/);
  await look(page, '27-admin-org-error');

  await page.goto(`${URL}/admin/definitions`);
  await page.getByRole('cell', { name: 'score_request', exact: true }).first().waitFor();
  await look(page, '28-admin-workflows');
  await page.goto(`${URL}/admin/outbox?status=all`);
  await look(page, '29-admin-outbox');

  // a mentor is no operator: the page is not there for her
  const lena = (await open('lena')).page;
  await demoSignIn(lena, 'Lena Park');
  assert.equal(await lena.getByRole('link', { name: /People, organisations/ }).count(), 0);
  const r = await lena.goto(`${URL}/admin/people`);
  assert.equal(r.status(), 404);
});

/** Open an action's form on a case page (a lone action's form may be open already). */
async function openAction(page, label) {
  const button = page.getByRole('button', { name: label, exact: true });
  if (!(await button.isVisible())) {
    await page.locator('summary', { hasText: label }).first().click();
  }
  await button.waitFor();
}

test('an agent exception goes from request to supervisor approval', async () => {
  // Cam asks for coaching; Ben takes it from the Public Box; Cam confirms; Sue approves
  const cam = (await open('cam-exc')).page;
  await demoSignIn(cam, 'Cam Ortiz');
  await cam.getByRole('link', { name: 'New Request - Mentoring Request' }).click();
  await cam.getByRole('heading', { name: 'New Request - Mentoring Request' }).waitFor();
  const day = new Date(Date.now() + 21 * 86400000).toISOString().slice(0, 10);
  await cam.getByLabel('Mentoring Date').fill(day);
  await cam.getByLabel('Exception Type').selectOption({ index: 1 });
  await cam.getByLabel('Start Time').fill('10:00');
  await cam.getByLabel('End Time').fill('11:00');
  await cam.getByLabel('Description').fill('Coaching on the new refund policy calls.');
  await cam.getByRole('button', { name: 'New Request - Mentoring Request' }).click();
  await cam.waitForURL(/\/cases\/\d+/);
  const caseUrl = cam.url().replace(/\?.*$/, '');
  await cam.getByText('Pending', { exact: true }).first().waitFor();
  await look(cam, '30-exception-pending');

  const ben = (await open('ben-exc')).page;
  await demoSignIn(ben, 'Ben Carter');
  await ben.goto(caseUrl);
  await openAction(ben, 'Accept mentoring request');
  await ben.getByRole('button', { name: 'Accept mentoring request' }).click();
  await ben.waitForURL(/done=accept/);
  await ben.getByText('To-Do', { exact: true }).first().waitFor();

  await cam.goto(caseUrl);
  await openAction(cam, 'Confirm the acceptance');
  await cam.getByRole('button', { name: 'Confirm the acceptance' }).click();
  await cam.waitForURL(/done=confirm/);
  await cam.getByText('Submitted', { exact: true }).first().waitFor();

  const sue = (await open('sue-exc')).page;
  await demoSignIn(sue, 'Sue Palmer');
  await sue.getByRole('link', { name: /To-Do Box/ }).click();
  await sue.getByRole('heading', { name: /To-Do Box/ }).waitFor();
  await sue.locator(`table.list tbody a[href="${new globalThis.URL(caseUrl).pathname}"]`).first().click();
  await sue.waitForURL(caseUrl);
  await look(sue, '31-exception-to-approve');
  await openAction(sue, 'Approve');
  await sue.getByLabel('Note').fill('Approved: enjoy the session.');
  await sue.getByRole('button', { name: 'Approve' }).click();
  await sue.waitForURL(/done=approve/);
  await sue.getByText('Approved', { exact: true }).first().waitFor();
  await look(sue, '32-exception-approved');
});

test('seed 003: the lead mentor refers the client to another mentor, who accepts', async () => {
  assert.ok(requestUrl, 'the first story made a request (Dan accepted it)');
  const dan = (await open('dan-refer')).page;
  await demoSignIn(dan, 'Dan Okafor');
  await dan.goto(requestUrl);
  await dan.getByText('In Progress', { exact: true }).first().waitFor();
  // the flow drawn on the page: the current state marked, told in words for screen readers
  const flow = dan.getByRole('img', { name: 'Flow diagram' });
  await flow.waitFor();
  assert.equal(await dan.locator('svg.flow-svg g.node.current').count(), 1);
  assert.match(await dan.locator('svg.flow-svg g.node.current title').textContent(), /In Progress/);
  assert.match(await dan.locator('svg.flow-svg desc').textContent(), /The case is now in In Progress/);
  await openAction(dan, 'Refer Mentor');
  // a subject matter expert is refused with the guard's message, nothing changes
  await dan.getByLabel('Mentor to refer to').selectOption({ label: 'Sam Lee' });
  await dan.getByLabel('Reason (not sent to the mentor)').fill('Sam knows retail leases.');
  await dan.getByRole('button', { name: 'Refer Mentor', exact: true }).click();
  await dan.getByRole('alert').getByText(/only refer a client to an active mentor/).waitFor();
  await look(dan, '33-referral-refused');
  await dan.getByLabel('Mentor to refer to').selectOption({ label: 'Alice Moreau' });
  await dan.getByLabel('Reason (not sent to the mentor)').fill('Alice knows garden centres.');
  const since = Date.now() - 1000;
  await dan.getByRole('button', { name: 'Refer Mentor', exact: true }).click();
  await dan.waitForURL(/done=refer/);
  await look(dan, '34-referred');

  // Alice is told by e-mail, finds the request under My Team Client Requests, accepts
  const mail = await mailTo('alice@ch12.example.org', since);
  assert.doesNotMatch(mail, /garden centres/, 'the reason is not sent to the referred mentor');
  const alice = (await open('alice-refer')).page;
  await demoSignIn(alice, 'Alice Moreau');
  const team = alice.getByRole('link', { name: /My Team Client Requests/ });
  assert.match(await team.innerText(), /^\s*[1-9]\d*\s/);
  await team.click();
  await alice.getByRole('heading', { name: /My Team Client Requests/ }).waitFor();
  await alice.locator(`table.list tbody a[href="${new globalThis.URL(requestUrl).pathname}"]`).first().click();
  await alice.waitForURL(requestUrl);
  await openAction(alice, 'Accept Referral');
  await look(alice, '35-referral-to-accept');
  await alice.getByRole('button', { name: 'Accept Referral', exact: true }).click();
  await alice.waitForURL(/done=accept_referral/);
  // she is on the case team now, and may add her own session
  const people = alice.getByRole('region', { name: 'People' });
  assert.match(await people.innerText(), /Alice Moreau/);
  await alice.locator('summary', { hasText: 'Add a mentoring session' }).waitFor();
  await look(alice, '36-referral-accepted');
  // Dan hears that she accepted
  await mailTo('dan@ch12.example.org', since);
});

test('seed 002: a volunteer mission with manager validation', async () => {
  const vera = (await open('vera')).page;
  await demoSignIn(vera, 'Vera Costa');
  await vera.getByRole('link', { name: 'Register', exact: true }).click();
  await vera.getByLabel('Why I volunteer').fill('I want to help young founders with their books.');
  await vera.getByRole('button', { name: 'Register', exact: true }).click();
  await vera.waitForURL(/\/cases\/\d+/);
  const caseUrl = vera.url().replace(/\?.*$/, '');
  await vera.getByText('Application / Exchange', { exact: true }).first().waitFor();
  // the exchange starts with her message (the coordinator validates after it)
  await openAction(vera, 'Write to the coordinator / to the volunteer');
  await vera.getByLabel('Message').fill('Hello Cora, I am available on Tuesdays.');
  await vera.getByRole('button', { name: 'Write to the coordinator / to the volunteer' }).click();
  await vera.waitForURL(/done=post_message/);

  const cora = (await open('cora')).page;
  await demoSignIn(cora, 'Cora Diallo');
  await cora.getByRole('link', { name: /Applications to validate/ }).click();
  await cora.locator(`table.list tbody a[href="${new globalThis.URL(caseUrl).pathname}"]`).first().click();
  await cora.waitForURL(caseUrl);
  await openAction(cora, 'Validate the application');
  await cora.getByRole('button', { name: 'Validate the application' }).click();
  await cora.waitForURL(/done=validate/);
  await cora.getByText('Search for a mentee', { exact: true }).first().waitFor();

  await vera.goto(caseUrl);
  await openAction(vera, 'Enter the mentee and the engagement period');
  const day = (n) => new Date(Date.now() + n * 86400000).toISOString().slice(0, 10);
  await vera.locator('#enter_engagement-mentee').fill('Lina, founder of a bike repair shop');
  // an end before the start: the guard's message, nothing changes
  await vera.locator('#enter_engagement-start').fill(day(30));
  await vera.locator('#enter_engagement-end').fill(day(10));
  await vera.getByRole('button', { name: 'Enter the mentee and the engagement period' }).click();
  await vera.getByRole('alert').getByText(/must be on or after its start/).waitFor();
  await vera.locator('#enter_engagement-end').fill(day(120));
  await vera.getByRole('button', { name: 'Enter the mentee and the engagement period' }).click();
  await vera.waitForURL(/done=enter_engagement/);
  await vera.getByText('Waiting for manager validation', { exact: true }).first().waitFor();
  await look(vera, '37-initiative-waiting-for-manager');

  // her manager (from the directory) validates it from his box
  const max = (await open('max')).page;
  await demoSignIn(max, 'Max Weber');
  const box = max.getByRole('link', { name: /Engagements waiting for my validation/ });
  assert.match(await box.innerText(), /^\s*[1-9]\d*\s/);
  await look(max, '38-home-manager');
  await box.click();
  await max.locator(`table.list tbody a[href="${new globalThis.URL(caseUrl).pathname}"]`).first().click();
  await max.waitForURL(caseUrl);
  await openAction(max, 'Approve the engagement');
  await look(max, '39-initiative-to-approve');
  await max.getByRole('button', { name: 'Approve the engagement' }).click();
  await max.waitForURL(/done=manager_approve/);
  await max.getByText('In progress', { exact: true }).first().waitFor();
  await vera.goto(caseUrl);
  assert.match(await vera.locator('svg.flow-svg g.node.current title').textContent(), /In progress/);
  await look(vera, '40-initiative-in-progress');
});

test('a password set through the e-mailed link signs in; a wrong one is refused', async () => {
  const { page } = await open('omar');
  await page.goto(`${URL}/sign-in`);
  await page.getByRole('link', { name: 'Set or reset your password' }).click();
  await page.getByRole('heading', { name: 'Set or reset your password' }).waitFor();
  const since = Date.now() - 1000;
  await page.getByLabel('E-mail address').fill('omar@guild.example.org');
  await page.getByRole('button', { name: 'Send me the link' }).click();
  await page.getByRole('status').getByText(/a link to set the password is on its way/).waitFor();
  await look(page, '41-password-requested');
  const mail = (await mailTo('omar@guild.example.org', since)).replace(/=\r\n/g, '').replace(/=3D/g, '=');
  assert.match(mail, /^Subject: Set your password/m);
  const link = mail.match(/https?:\/\/\S+\/password\/[A-Za-z0-9_-]+/)?.[0];
  assert.ok(link && link.startsWith(URL), `a password link in the mail:\n${mail}`);
  await page.goto(link);
  await page.getByRole('heading', { name: 'Set your password' }).waitFor();
  // a short one is refused at the field
  await page.getByLabel('New password').fill('short');
  await page.getByLabel('The same again').fill('short');
  await page.getByRole('button', { name: 'Set password and sign in' }).click();
  await page.getByText(/at least 12/).first().waitFor();
  await look(page, '42-password-too-short');
  const pw = 'four sturdy garden ladders';
  await page.getByLabel('New password').fill(pw);
  await page.getByLabel('The same again').fill(pw);
  await page.getByRole('button', { name: 'Set password and sign in' }).click();
  // argon2id is slow on purpose (slower still in a debug build)
  await page.waitForURL(`${URL}/?password=set`, { timeout: 60000 });
  await page.getByRole('heading', { name: 'Welcome, Omar Haddad' }).waitFor();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${URL}/sign-in`);

  // a wrong password is refused, the right one signs in
  await page.getByLabel('E-mail', { exact: true }).fill('omar@guild.example.org');
  await page.getByLabel('Password', { exact: true }).fill('not my password at all');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('alert').getByText('That e-mail address and password do not match.').waitFor({ timeout: 60000 });
  await look(page, '43-password-wrong');
  await page.getByLabel('E-mail', { exact: true }).fill('omar@guild.example.org');
  await page.getByLabel('Password', { exact: true }).fill(pw);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(`${URL}/`, { timeout: 60000 });
  await page.getByRole('heading', { name: 'Welcome, Omar Haddad' }).waitFor();
  // the link worked once
  const r = await page.goto(link);
  assert.equal(r.status(), 404);
});

test('no script errors on any page', () => {
  for (const b of opened) browserProblems.push(...b.problems.splice(0));
  assert.deepEqual(browserProblems, []);
});
