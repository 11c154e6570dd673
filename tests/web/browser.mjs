// browser.mjs: drives Debian's chromium (headless, through playwright-core) against a
// running arena stack and prints TAP lines ("ok - ..." / "not ok - ...").
//
//   node tests/web/browser.mjs URL ARTIFACT_DIR MODEL_NAME...
//
// URL is the arena server; screenshots go to ARTIFACT_DIR; MODEL_NAME... are the models of
// the server's registry (revealed names must be among them). Some checks replace one API
// answer with page.route() (a hostile answer, a rate limit, a failed model, a dropped
// connection); everything else talks to the real server.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const require = createRequire(new URL('./package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [base, artifacts, ...registry] = process.argv.slice(2);
if (!base || !artifacts || registry.length < 2) {
  console.error('usage: node tests/web/browser.mjs URL ARTIFACT_DIR MODEL_NAME MODEL_NAME...');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

const ANSWER_TIMEOUT = 60_000;
let failures = 0;

function report(pass, name, detail) {
  if (pass) {
    console.log(`ok - ${name}`);
  } else {
    failures++;
    console.log(`not ok - ${name}`);
    if (detail !== undefined) {
      for (const line of String(typeof detail === 'string' ? detail : JSON.stringify(detail)).split('\n').slice(0, 20)) {
        console.log(`# ${line}`);
      }
    }
  }
}

// step: runs fn; a throw is one failed line with the error, so one broken step cannot
// hide the others.
async function step(name, fn) {
  try {
    const r = await fn();
    if (r === undefined || r === true) report(true, name);
    else report(false, name, r);
  } catch (err) {
    report(false, name, err && err.stack ? err.stack : String(err));
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});

// Counts the stream events the page receives, keeps the text each side of the newest
// stream carried, and notes whether any vote button was enabled while an answer was
// still arriving. Runs before the page's own scripts.
function sseProbe() {
  window.__sse = { a: 0, b: 0, streams: 0, enabledWhileStreaming: 0, text: { a: '', b: '' } };
  const Native = window.EventSource;
  window.EventSource = class extends Native {
    constructor(...args) {
      super(...args);
      window.__sse.streams++;
      window.__sse.text = { a: '', b: '' };
      for (const side of ['a', 'b']) {
        this.addEventListener(side, (e) => {
          window.__sse[side]++;
          try { window.__sse.text[side] += JSON.parse(e.data).text || ''; } catch { /* counted anyway */ }
          if ([...document.querySelectorAll('.vote')].some((b) => !b.disabled)) window.__sse.enabledWhileStreaming++;
        });
      }
    }
  };
}

async function newPage(viewport, options = {}) {
  const context = await browser.newContext({ viewport, ...options });
  const page = await context.newPage();
  page.problems = [];
  page.dialogs = 0;
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !page.expectedErrors) page.problems.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => { page.dialogs++; d.dismiss().catch(() => {}); });
  // The API calls the page made ("POST /api/battles"), and the last battle it created.
  page.calls = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/api/')) page.calls.push(`${r.method()} ${u.pathname}`);
  });
  page.on('response', async (r) => {
    if (r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/battles' && r.status() === 201) {
      page.battle = await r.json().catch(() => null);
    }
  });
  await page.addInitScript(sseProbe);
  await page.addInitScript(`window.__inspectRendered = ${inspectRendered}`);
  return page;
}

const shot = (page, name) => page.screenshot({ path: path.join(artifacts, name), fullPage: true });

// Waits until both panes have finished (done or failed) and returns their states.
async function waitAnswers(page) {
  await page.waitForFunction(() => ['a', 'b'].every((k) => {
    const s = document.getElementById('status-' + k).dataset.state;
    return s === 'done' || s === 'error';
  }) && document.body.dataset.phase !== 'streaming', null, { timeout: ANSWER_TIMEOUT });
  return page.evaluate(() => ['a', 'b'].map((k) => document.getElementById('status-' + k).dataset.state).join(','));
}

// answered: does action (which sends a prompt or asks for a regeneration), waits for
// the stream it opens (or a notice saying why none was opened), then for both answers.
async function answered(page, action) {
  const before = await page.evaluate(() => window.__sse.streams);
  await action();
  await page.waitForFunction((n) => window.__sse.streams > n || !document.getElementById('notice').hidden,
                             before, { timeout: ANSWER_TIMEOUT });
  return waitAnswers(page);
}

const ask = (page, prompt) => answered(page, async () => {
  await page.fill('#prompt', prompt);
  await page.press('#prompt', 'Enter');
});

const voteStates = (page) => page.$$eval('.vote', (bs) => bs.map((b) => (b.disabled ? 'off' : 'on')).join(','));
const answerTexts = (page) => page.$$eval('.pane', (ps) => ps.map((p) => {
  const answers = p.querySelectorAll('.answer');
  return answers.length ? answers[answers.length - 1].textContent.trim() : '';
}));

// Whether each pane's newest answer shows what its side of the newest stream carried:
// some text, or the empty-answer note when the model ended at once (a real model can;
// babyllama105 does for about one prompt in 300). Null when both do, else the details.
const EMPTY_NOTE = 'This model gave an empty answer.';
async function answersShown(page) {
  const texts = await answerTexts(page);
  const streamed = await page.evaluate(() => window.__sse.text);
  const ok = ['a', 'b'].every((side, i) =>
    streamed[side].trim() ? texts[i] && texts[i] !== EMPTY_NOTE : texts[i] === EMPTY_NOTE);
  return ok ? null : { texts, streamed };
}

// ---------------------------------------------------------------------------------------
// The arena page on a desktop screen: the whole vote flow.
const page = await newPage({ width: 1280, height: 900 });
let votesCast = 0;

await step('arena page loads with its vote buttons disabled', async () => {
  await page.goto(base + '/');
  const states = await voteStates(page);
  return states === 'off,off,off,off' || `vote buttons: ${states}`;
});

await step('vote flow: both answers stream token by token, votes enabled only when both are done', async () => {
  const states = await ask(page, 'Once upon a time');
  if (states !== 'done,done') return `pane states: ${states}; notice: ${await page.textContent('#notice')}`;
  const sse = await page.evaluate(() => window.__sse);
  const votes = await voteStates(page);
  if (sse.a < 2 || sse.b < 2) return `token events a=${sse.a} b=${sse.b}`;
  if (sse.enabledWhileStreaming) return `a vote button was enabled during ${sse.enabledWhileStreaming} token events`;
  const shown = await answersShown(page);
  if (shown) return `answers: ${JSON.stringify(shown)}`;
  if (votes !== 'on,on,on,on') return `vote buttons after both answers: ${votes}`;
  await shot(page, 'arena-desktop-answered.png');
});

await step('vote flow: the vote reveals both model names and locks voting', async () => {
  await page.click('#vote-a');
  await page.waitForSelector('#result:not([hidden])');
  votesCast++;
  const titles = await page.$$eval('.pane h2', (hs) => hs.map((h) => h.textContent));
  const names = titles.map((t) => t.replace(/^Model [AB]: /, ''));
  const votes = await voteStates(page);
  const pressed = await page.getAttribute('#vote-a', 'aria-pressed');
  const regen = await page.isDisabled('#regenerate');
  await shot(page, 'arena-desktop-voted.png');
  if (!/^Model A: /.test(titles[0]) || !/^Model B: /.test(titles[1])) return `titles: ${titles}`;
  if (!names.every((n) => registry.includes(n)) || names[0] === names[1]) return `revealed: ${names}`;
  if (votes !== 'off,off,off,off' || pressed !== 'true' || !regen) return `after the vote: votes ${votes}, pressed ${pressed}, regenerate disabled ${regen}`;
  const text = await page.textContent('#result');
  if (!text.includes(names[0]) || !text.includes(names[1])) return `result line: ${text}`;
});

await step('a second vote on the same battle is refused by the server', async () => {
  page.expectedErrors = true;   // the browser logs the refusal itself
  const status = await page.evaluate(async ({ id, token }) =>
    (await fetch(`/api/battles/${id}/vote`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ winner: 'b', token }) })).status, page.battle);
  page.expectedErrors = false;
  return (status >= 400 && status < 500) || `status ${status}`;
});

await step('new round: empty panes, hidden names, votes disabled', async () => {
  await page.click('#new-round');
  const titles = await page.$$eval('.pane h2', (hs) => hs.map((h) => h.textContent).join('|'));
  const turns = await page.$$eval('.turn', (ts) => ts.length);
  const votes = await voteStates(page);
  const hidden = await page.isHidden('#result');
  const focused = await page.evaluate(() => document.activeElement.id);
  return (titles === 'Model A|Model B' && turns === 0 && votes === 'off,off,off,off' && hidden && focused === 'prompt') ||
    { titles, turns, votes, hidden, focused };
});

await step('follow-up: a second turn in the same battle, both panes answer it', async () => {
  const first = await ask(page, 'Tom had a red ball');
  const { id } = page.battle;
  const callsBefore = page.calls.length;
  const second = await ask(page, 'What happened next?');
  const calls = page.calls.slice(callsBefore).join(', ');
  const sameBattle = calls === `POST /api/battles/${id}/messages, GET /api/battles/${id}/stream`;
  const turns = await page.$$eval('.pane', (ps) => ps.map((p) => p.querySelectorAll('.turn').length).join(','));
  const prompts = await page.$$eval('.pane', (ps) => ps.map((p) => p.querySelectorAll('.you')[1]?.textContent).join('|'));
  const shown = await answersShown(page);
  return (first === 'done,done' && second === 'done,done' && sameBattle && turns === '2,2' &&
          prompts === 'What happened next?|What happened next?' && !shown) ||
    { first, second, calls, turns, prompts, shown };
});

await step('regenerate: the last turn is answered again and can then be voted on', async () => {
  const streamsBefore = await page.evaluate(() => window.__sse.streams);
  const states = await answered(page, () => page.click('#regenerate'));
  const streams = await page.evaluate(() => window.__sse.streams) - streamsBefore;
  const turns = await page.$$eval('.pane', (ps) => ps.map((p) => p.querySelectorAll('.turn').length).join(','));
  const shown = await answersShown(page);
  const votes = await voteStates(page);
  return (states === 'done,done' && streams === 1 && turns === '2,2' && !shown && votes === 'on,on,on,on') ||
    { states, streams, turns, shown, votes };
});

await step('turn limit: a turn past the server\'s limit is refused and explained; the battle can still be voted on', async () => {
  const third = await ask(page, 'And then?');            // the third of three turns
  page.expectedErrors = true;                              // the browser logs the 409 itself
  await page.fill('#prompt', 'And after that?');
  await page.press('#prompt', 'Enter');
  await page.waitForSelector('#notice:not([hidden])');
  page.expectedErrors = false;
  const text = await page.textContent('#notice-text');
  const retry = await page.isVisible('#retry');
  const turns = await page.$$eval('#convo-a .turn', (ts) => ts.length);
  const votes = await voteStates(page);
  await page.fill('#prompt', '');
  return (third === 'done,done' && /turn limit/.test(text) && /start a new round/.test(text) && !retry && turns === 3 &&
          votes === 'on,on,on,on') || { third, text, retry, turns, votes };
});

await step('keyboard: digits typed in the prompt box do not vote; Esc then 2 votes "B is better"', async () => {
  await page.focus('#prompt');
  await page.keyboard.press('2');
  const typed = await page.inputValue('#prompt');
  const stillOpen = await voteStates(page);
  await page.fill('#prompt', '');
  await page.keyboard.press('Escape');
  await page.keyboard.press('2');
  await page.waitForSelector('#result:not([hidden])');
  votesCast++;
  const pressed = await page.getAttribute('#vote-b', 'aria-pressed');
  const shortcuts = await page.textContent('#shortcuts');
  const hints = await page.$$eval('.vote kbd', (ks) => ks.map((k) => k.textContent).join(''));
  return (typed === '2' && stillOpen === 'on,on,on,on' && pressed === 'true' && hints === '1234' &&
          /1.*A is better.*2.*B is better.*3.*Tie.*4.*Both are bad/s.test(shortcuts)) ||
    { typed, stillOpen, pressed, hints, shortcuts };
});

await step('keyboard: N starts a new round and / focuses the prompt box', async () => {
  await page.keyboard.press('n');
  const titles = await page.$$eval('.pane h2', (hs) => hs.map((h) => h.textContent).join('|'));
  await page.evaluate(() => document.activeElement.blur());
  await page.keyboard.press('/');
  const focused = await page.evaluate(() => document.activeElement.id);
  return (titles === 'Model A|Model B' && focused === 'prompt') || { titles, focused };
});

// ---------------------------------------------------------------------------------------
// Hostile model output.
const HOSTILE = [
  '<img src=x onerror="window.__pwned=1;alert(1)">',
  '<script>window.__pwned=2;alert(2)</script>',
  '<svg onload="window.__pwned=3"></svg><iframe src="javascript:window.__pwned=4"></iframe>',
  '[click me](javascript:window.__pwned=5) [upper](JAVASCRIPT:alert(1)) [spaced]( javascript:alert(1))',
  '[data](data:text/html,<script>alert(1)</script>) [vb](vbscript:msgbox) [rel](/api/leaderboard)',
  '<a href="javascript:alert(1)">raw link</a> **<b onmouseover=alert(1)>bold</b>**',
  '`<img src=x onerror=alert(1)>`',
  '```html\n<script>alert(1)</script>\n```',
  'https://example.com/"onmouseover="alert(1) and [fine](https://example.com/a?b=1)',
  '> <style>body{display:none}</style>\n- <form action=x><input></form>',
  '| <img src=x onerror=alert(1)> | [x](javascript:alert(1)) |\n|---|---|\n| <b>cell</b> | `</td><script>` |',
].join('\n\n');

const ALLOWED_TAGS = new Set(['P', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'PRE', 'CODE', 'UL', 'OL', 'LI', 'BLOCKQUOTE',
                              'HR', 'STRONG', 'EM', 'A', 'BR', 'DIV', 'TABLE', 'THEAD', 'TBODY', 'TR', 'TH', 'TD']);

// inspect: what the rendered container holds that should not be there.
function inspectRendered(root, allowed) {
  const bad = [];
  for (const el of root.querySelectorAll('*')) {
    if (!allowed.includes(el.tagName)) bad.push(`element ${el.tagName}`);
    for (const a of el.attributes) {
      const ok = (el.tagName === 'A' && ['href', 'rel', 'target'].includes(a.name)) ||
                 (el.tagName === 'OL' && a.name === 'start') || (el.tagName === 'DIV' && a.name === 'class');
      if (!ok) bad.push(`attribute ${a.name} on ${el.tagName}`);
    }
    if (el.tagName === 'A' && !/^https?:\/\//.test(el.getAttribute('href'))) bad.push(`href ${el.getAttribute('href')}`);
    if (el.tagName === 'A' && !/noopener/.test(el.rel)) bad.push('link without rel=noopener');
  }
  return bad;
}

await step('markdown renderer on its own: hostile input creates no element, attribute or handler and runs nothing', async () => {
  const out = await page.evaluate(async ([src, allowed]) => {
    const { renderMarkdown } = await import('/markdown.js');
    const inspect = window.__inspectRendered;
    const box = document.createElement('div');
    box.className = 'answer md';
    document.querySelector('main').append(box);
    box.append(renderMarkdown(src));
    await new Promise((r) => setTimeout(r, 500));   // an <img> would have failed by now
    const links = [...box.querySelectorAll('a')].map((a) => a.href);
    const result = { bad: inspect(box, allowed), links, text: box.textContent, pwned: window.__pwned ?? null };
    box.remove();
    return result;
  }, [HOSTILE, [...ALLOWED_TAGS]]);
  const literal = ['<img src=x onerror=', '<script>', '<svg onload=', '<a href="javascript:alert(1)">'].filter((s) => !out.text.includes(s));
  return (out.bad.length === 0 && out.pwned === null && page.dialogs === 0 && literal.length === 0 &&
          out.links.length === 2 && out.links.every((l) => l.startsWith('https://example.com/'))) || { ...out, literal, dialogs: page.dialogs };
});

await step('markdown renderer: paragraphs, headings, code, emphasis, lists, tables and links render as elements', async () => {
  const html = await page.evaluate(async () => {
    const { renderMarkdown } = await import('/markdown.js');
    const box = document.createElement('div');
    box.append(renderMarkdown('# Title\n\nSome **bold**, *italic*, `code` and [a link](https://example.org/x).\n' +
      'second line\n\n- one\n- two\n  - nested\n\n3. three\n4. four\n\n```c\nint x = 1 < 2;\n```\n\n> quoted\n\n---\n\n' +
      '| Model | Score |\n|:------|------:|\n| a \\| b | **9** |'));
    return box.innerHTML;
  });
  const want = ['<h1>Title</h1>', '<strong>bold</strong>', '<em>italic</em>', '<code>code</code>',
                '<a href="https://example.org/x" rel="noopener noreferrer nofollow" target="_blank">a link</a>', '<br>second line',
                '<ul><li>one</li><li>two<ul><li>nested</li></ul></li></ul>', '<ol start="3"><li>three</li><li>four</li></ol>',
                '<pre><code>int x = 1 &lt; 2;</code></pre>', '<blockquote><p>quoted</p></blockquote>', '<hr>',
                '<div class="table-scroll"><table><thead><tr><th>Model</th><th>Score</th></tr></thead>' +
                '<tbody><tr><td>a | b</td><td><strong>9</strong></td></tr></tbody></table></div>'];
  const missing = want.filter((w) => !html.includes(w));
  return missing.length === 0 || `missing ${JSON.stringify(missing)} in ${html}`;
});

// A stream body in the server's format, for routed checks.
const sse = (events) => events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join('');

await step('hostile answer through the page: streamed markup is shown as text and runs nothing', async () => {
  await page.goto(base + '/');
  const tokens = HOSTILE.match(/[\s\S]{1,7}/g);
  await page.route('**/api/battles/*/stream', (route) => route.fulfill({
    status: 200, headers: { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' },
    body: sse([...tokens.map((t) => ['a', { text: t }]), ['done', { side: 'a' }],
               ...tokens.map((t) => ['b', { text: t }]), ['done', { side: 'b' }], ['end', {}]]),
  }));
  const states = await ask(page, 'Say something hostile');
  await page.unroute('**/api/battles/*/stream');
  await page.waitForTimeout(500);
  const out = await page.evaluate((allowed) => {
    const inspect = window.__inspectRendered;
    return { bad: [...document.querySelectorAll('.answer')].flatMap((a) => inspect(a, allowed)),
             text: document.querySelector('#convo-a .answer').textContent, pwned: window.__pwned ?? null,
             scripts: document.scripts.length };
  }, [...ALLOWED_TAGS]);
  await shot(page, 'arena-desktop-hostile.png');
  return (states === 'done,done' && out.bad.length === 0 && out.pwned === null && page.dialogs === 0 &&
          out.scripts === 1 && out.text.includes('<img src=x onerror=')) || { states, ...out, dialogs: page.dialogs };
});

// ---------------------------------------------------------------------------------------
// Failures the voter must understand.
await step('rate limit: a 429 is explained, with Retry, and the prompt is kept', async () => {
  await page.click('#new-round');
  page.expectedErrors = true;   // the browser logs the 429 response itself
  await page.route('**/api/battles', (route) => route.fulfill({
    status: 429, headers: { 'Content-Type': 'application/json', 'Retry-After': '30' },
    body: JSON.stringify({ error: { code: 'rate_limited', message: 'too many battles from this address' } }),
  }), { times: 1 });
  await page.fill('#prompt', 'Hello there');
  await page.press('#prompt', 'Enter');
  await page.waitForSelector('#notice:not([hidden])');
  const text = await page.textContent('#notice-text');
  const retry = await page.isVisible('#retry');
  const kept = await page.inputValue('#prompt');
  await page.click('#retry');                  // the route answered once: this one is real
  const states = await waitAnswers(page);
  page.expectedErrors = false;
  return (/too many requests/i.test(text) && /30 seconds/.test(text) && retry && kept === 'Hello there' &&
          states === 'done,done' && await page.isHidden('#notice')) || { text, retry, kept, states };
});

await step('a failed model: its pane says so, the notice explains, voting stays disabled', async () => {
  await page.click('#new-round');
  await page.route('**/api/battles/*/stream', (route) => route.fulfill({
    status: 200, headers: { 'Content-Type': 'text/event-stream' },
    body: sse([['a', { text: 'Hello ' }], ['a', { text: 'world.' }], ['done', { side: 'a' }],
               ['error', { side: 'b', message: 'upstream timed out' }], ['end', {}]]),
  }));
  const states = await ask(page, 'Hello');
  await page.unroute('**/api/battles/*/stream');
  const pane = await page.textContent('#convo-b');
  const status = await page.textContent('#status-b');
  const text = await page.textContent('#notice-text');
  const votes = await voteStates(page);
  const regen = await page.isEnabled('#regenerate');
  await shot(page, 'arena-desktop-model-failed.png');
  return (states === 'done,error' && /upstream timed out/.test(pane) && status === 'failed' &&
          /Model B failed/.test(text) && votes === 'off,off,off,off' && regen) || { states, pane, status, text, votes, regen };
});

await step('an empty answer: its pane says the model gave an empty answer, and the vote is open', async () => {
  await page.click('#new-round');
  await page.route('**/api/battles/*/stream', (route) => route.fulfill({
    status: 200, headers: { 'Content-Type': 'text/event-stream' },
    body: sse([['done', { side: 'a' }], ['b', { text: 'Hello.' }], ['done', { side: 'b' }], ['end', {}]]),
  }));
  const states = await ask(page, 'Hello');
  await page.unroute('**/api/battles/*/stream');
  const texts = await answerTexts(page);
  const shown = await answersShown(page);
  const votes = await voteStates(page);
  return (states === 'done,done' && texts[0] === EMPTY_NOTE && texts[1] === 'Hello.' && !shown &&
          votes === 'on,on,on,on') || { states, texts, shown, votes };
});

await step('a lost connection: explained with Retry, which reconnects and finishes the answers', async () => {
  await page.click('#new-round');
  page.expectedErrors = true;
  await page.route('**/api/battles/*/stream', (route) => route.abort('connectionreset'), { times: 1 });
  await page.fill('#prompt', 'The little dog');
  await page.press('#prompt', 'Enter');
  await page.waitForSelector('#retry:visible');
  const text = await page.textContent('#notice-text');
  await page.click('#retry');
  const states = await waitAnswers(page);
  page.expectedErrors = false;
  const votes = await voteStates(page);
  return (/connection .*lost/i.test(text) && states === 'done,done' && votes === 'on,on,on,on' &&
          await page.isHidden('#notice')) || { text, states, votes };
});

await step('the arena page ran without script errors or CSP violations', () =>
  page.problems.length === 0 || page.problems.join('\n'));

// Make sure every registry model has votes, so that the board, its heatmaps and the
// rank correlations have something to show: vote "tie" on fresh battles until each
// model was in one (a voter is not served the same pair twice in a row).
await step('votes cast until every registry model is on the board', async () => {
  const seen = await page.evaluate(async ([need]) => {
    const post = (url, body) => fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                             body: JSON.stringify(body) }).then((r) => r.json());
    const names = new Set();
    for (let round = 0; round < 12 && need.some((n) => !names.has(n)); round++) {
      const { id, token } = await post('/api/battles', { prompt: `Once upon a time ${round}` });
      await new Promise((resolve) => {
        const es = new EventSource(`/api/battles/${id}/stream`);
        es.addEventListener('end', () => { es.close(); resolve(); });
        es.onerror = () => { es.close(); resolve(); };
      });
      const r = await post(`/api/battles/${id}/vote`, { winner: 'tie', token });
      if (r.model_a) { names.add(r.model_a); names.add(r.model_b); }
    }
    return [...names];
  }, [registry]);
  return registry.every((n) => seen.includes(n)) || `models seen in votes: ${seen}`;
});
await page.context().close();

// ---------------------------------------------------------------------------------------
// The leaderboard, after those votes.
const board = await newPage({ width: 1280, height: 900 });

await step('leaderboard: the table lists every model with the ten columns', async () => {
  // The board follows the vote stream within a second or so; reload until it shows all models.
  for (let i = 0; i < 40; i++) {
    await board.goto(base + '/leaderboard');
    await board.waitForSelector('body[data-loaded]');
    if (await board.$$eval('#board-body tr', (rs) => rs.length) >= registry.length) break;
    await board.waitForTimeout(250);
  }
  const heads = await board.$$eval('#board-head th', (ths) => ths.map((t) => t.textContent));
  const models = await board.$$eval('#board-body th', (ths) => ths.map((t) => t.textContent));
  const want = ['Rank (UB)', 'Model', 'Arena score', '95 % CI', 'Votes', 'Organization', 'License', 'Static score',
                'Static rank', 'Rank Δ'];
  const ci = await board.$$eval('#board-body tr', (rs) => rs.map((r) => r.children[3]?.textContent));
  if (!models.length) return `the board lists no model after the votes: ${await board.textContent('#summary')}`;
  return (JSON.stringify(heads) === JSON.stringify(want) && registry.every((m) => models.includes(m)) &&
          ci.every((c) => /^\+\d+\/-\d+$/.test(c) || c === '—')) || { heads, models, ci };
});

await step('leaderboard: charts drawn as SVG (error bars, both heatmaps, rank scatter with rho and tau)', async () => {
  // Intervals are computed in the background after the point estimates: wait for them.
  for (let i = 0; i < 40; i++) {
    const withCi = await board.$$eval('#chart-ratings .errbar line', (ls) => ls.length);
    if (withCi >= 3 * registry.length) break;
    await board.waitForTimeout(250);
    await board.reload();
    await board.waitForSelector('body[data-loaded]');
  }
  const n = await board.$$eval('#board-body tr', (rs) => rs.length);
  const ranked = await board.$$eval('#board-body tr',
                                    (rs) => rs.filter((r) => r.children[8] && r.children[8].textContent !== '—').length);
  const counts = await board.evaluate(() => ({
    svgs: document.querySelectorAll('.chart svg').length,
    errbars: document.querySelectorAll('#chart-ratings .errbar').length,
    barLines: document.querySelectorAll('#chart-ratings .errbar line').length,
    winCells: document.querySelectorAll('#chart-wins .cell').length,
    winFilled: document.querySelectorAll('#chart-wins .cell:not(.empty)').length,
    countCells: document.querySelectorAll('#chart-counts .cell').length,
    points: document.querySelectorAll('#chart-scatter .point').length,
    stat: document.querySelector('#chart-scatter .stat')?.textContent || '',
  }));
  await shot(board, 'leaderboard-desktop.png');
  return (counts.svgs === 4 && counts.errbars === n && counts.barLines === 3 * n && counts.winCells === n * n &&
          counts.winFilled >= 2 && counts.countCells === n * n && counts.points === ranked && ranked >= 3 &&
          /Spearman ρ = -?\d\.\d{3}/.test(counts.stat) && /Kendall τ-b = -?\d\.\d{3}/.test(counts.stat)) || { n, ranked, ...counts };
});

await step('leaderboard: sorting by a column header sets aria-sort and reorders the rows', async () => {
  const column = async (i) => board.$$eval('#board-body tr', (rs, k) => rs.map((r) => r.children[k]?.textContent), i);
  const sortOf = (key) => board.getAttribute(`#board-head th[data-key="${key}"]`, 'aria-sort');
  const initial = await sortOf('rank_ub');
  await board.click('#board-head th[data-key="model"] button');
  const asc = await column(1);
  const modelSort = await sortOf('model');
  const rankSort = await sortOf('rank_ub');
  await board.click('#board-head th[data-key="model"] button');
  const desc = await column(1);
  const modelSort2 = await sortOf('model');
  await board.click('#board-head th[data-key="votes"] button');
  const votes = (await column(4)).map(Number);
  const votesSort = await sortOf('votes');
  const sorted = [...asc].sort((x, y) => x.localeCompare(y));
  return (initial === 'ascending' && modelSort === 'ascending' && rankSort === 'none' &&
          JSON.stringify(asc) === JSON.stringify(sorted) && JSON.stringify(desc) === JSON.stringify([...sorted].reverse()) &&
          modelSort2 === 'descending' && votesSort === 'descending' && votes.every((v, i) => !i || votes[i - 1] >= v)) ||
    { initial, modelSort, rankSort, asc, desc, modelSort2, votesSort, votes };
});

await step('leaderboard: the BT / Elo switch and the anonymous-only box reload the board', async () => {
  const answer = board.waitForResponse((r) => r.url().includes('/api/leaderboard?method=elo'));
  await board.check('input[name="method"][value="elo"]');
  const elo = await (await answer).json();
  await board.waitForSelector('body[data-loaded="elo-1"]');
  const summary = await board.textContent('#summary');
  const rows = await board.$$eval('#board-body tr', (rs) => rs.length);
  const url = board.url();
  await board.uncheck('#anony');
  await board.waitForSelector('body[data-loaded="elo-0"]');
  await board.check('input[name="method"][value="bt"]');
  await board.waitForSelector('body[data-loaded="bt-0"]');
  const csv = await board.getAttribute('#dl-board-csv', 'href');
  return (elo.models.length === rows && /online Elo/.test(summary) && /method=elo/.test(url) &&
          /method=bt&anony=0/.test(csv)) || { summary, rows, url, csv };
});

await step('leaderboard: export links download, methods note says when it was updated', async () => {
  const hrefs = await board.$$eval('.downloads a', (as) => as.map((a) => a.getAttribute('href')));
  const statuses = [];
  for (const h of hrefs) statuses.push((await board.request.get(base + h)).status());
  const updated = await board.textContent('#updated');
  return (hrefs.length === 3 && statuses.every((s) => s === 200) && /\d{4}-\d\d-\d\d \d\d:\d\d UTC/.test(updated)) ||
    { hrefs, statuses, updated };
});

await step('the leaderboard page ran without script errors or CSP violations', () =>
  board.problems.length === 0 || board.problems.join('\n'));
await board.context().close();

// ---------------------------------------------------------------------------------------
// A phone: 360 x 740.
const phone = await newPage({ width: 360, height: 740 }, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 });

await step('phone 360x740: answers stack, nothing overflows sideways, voting works', async () => {
  await phone.goto(base + '/');
  const states = await ask(phone, 'Once upon a time there was a big dog');
  const layout = await phone.evaluate(() => {
    const a = document.getElementById('pane-a').getBoundingClientRect();
    const b = document.getElementById('pane-b').getBoundingClientRect();
    const votes = [...document.querySelectorAll('.vote')].map((v) => v.getBoundingClientRect());
    return { scrollWidth: document.documentElement.scrollWidth, stacked: b.top >= a.bottom, paneWidth: a.width,
             votesInside: votes.every((r) => r.left >= 0 && r.right <= 360) };
  });
  await shot(phone, 'arena-phone-answered.png');
  await phone.click('#vote-tie');
  await phone.waitForSelector('#result:not([hidden])');
  const after = await phone.evaluate(() => document.documentElement.scrollWidth);
  await shot(phone, 'arena-phone-voted.png');
  return (states === 'done,done' && layout.scrollWidth <= 360 && layout.stacked && layout.paneWidth > 300 &&
          layout.votesInside && after <= 360) || { states, ...layout, after };
});

await step('phone 360x740: the leaderboard fits the width (table and charts scroll inside their boxes)', async () => {
  await phone.goto(base + '/leaderboard');
  await phone.waitForSelector('body[data-loaded]');
  const width = await phone.evaluate(() => document.documentElement.scrollWidth);
  await shot(phone, 'leaderboard-phone.png');
  return width <= 360 || `scrollWidth ${width}`;
});

await step('the phone pages ran without script errors or CSP violations', () =>
  phone.problems.length === 0 || phone.problems.join('\n'));

await browser.close();
process.exit(failures ? 1 : 0);
