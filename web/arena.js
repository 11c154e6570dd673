// arena.js: the battle page. One battle at a time: create it with the first prompt, stream
// both answers over one EventSource, take follow-ups or a regeneration, then one vote that
// reveals the two names and locks the battle.
import { renderMarkdown } from '/markdown.js';

const $ = (id) => document.getElementById(id);

const form = $('ask');
const promptBox = $('prompt');
const sendButton = $('send');
const regenButton = $('regenerate');
const newRoundButton = $('new-round');
const voteButtons = [...document.querySelectorAll('.vote')];
const noticeBox = $('notice');
const noticeText = $('notice-text');
const retryButton = $('retry');
const result = $('result');

const VOTE_WORDS = { a: 'A is better', b: 'B is better', tie: 'Tie', bothbad: 'Both are bad' };
const STATUS_WORDS = { idle: '', streaming: 'answering…', done: 'done', error: 'failed' };

function makeSide(key) {
  return {
    key,
    title: $('title-' + key),
    status: $('status-' + key),
    convo: $('convo-' + key),
    answer: null,   // element of the current turn's answer
    text: '',       // the current turn's answer so far
    error: '',      // why the current answer failed
    state: 'idle',  // idle | streaming | done | error
    dirty: false,
  };
}

const S = {
  battle: null,       // { id, token } once created
  source: null,       // the open EventSource
  busy: false,        // a request is in flight
  voted: false,
  frame: 0,           // pending requestAnimationFrame
  retry: null,        // what the Retry button does
  sides: { a: makeSide('a'), b: makeSide('b') },
};
const sides = () => [S.sides.a, S.sides.b];

// --- HTTP ----------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

async function api(path, body) {
  let res;
  try {
    res = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body || {}),
    });
  } catch {
    throw new ApiError(0, 'network', 'could not reach the server', null);
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const e = data && data.error;
    throw new ApiError(res.status, (e && e.code) || 'http_' + res.status,
                       (e && e.message) || res.statusText || 'request failed',
                       res.headers.get('Retry-After'));
  }
  return data || {};
}

// explain: the sentence a voter reads for a failed request.
function explain(err) {
  if (err.status === 429 && err.code === 'daily_cap') {
    return `You have reached today's vote limit (${err.message}). Thank you for voting; please come back tomorrow.`;
  }
  if (err.status === 429) {
    const wait = /^\d+$/.test(err.retryAfter || '') ? `${err.retryAfter} seconds` : 'a minute';
    return `Slow down: too many requests from your address (${err.message}). Please wait ${wait} and try again.`;
  }
  if (err.status === 503) return `The arena is busy or briefly unavailable (${err.message}). Please try again in a moment.`;
  if (err.status === 0) return 'Could not reach the server. Check your connection and try again.';
  return `${capitalise(err.message)}. ${ADVICE[err.code] || ''}`.trim();
}

// What to do after the server's own refusals (its messages say what happened).
const ADVICE = {
  turn_limit: 'Vote on the answers, or start a new round.',
  side_failed: 'Press Regenerate to ask both models again.',
  unknown_battle: 'Start a new round.',
  bad_token: 'Start a new round.',
  prompt_too_long: 'Shorten your prompt and send it again.',
  too_large: 'Shorten your prompt and send it again.',
  blocked: 'Please rephrase your prompt.',
};

function capitalise(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : 'The request failed';
}

// --- messages ------------------------------------------------------------------------------

function notice(text, retry) {
  noticeText.textContent = text;
  noticeBox.hidden = false;
  S.retry = retry || null;
  retryButton.hidden = !retry;
}

function clearNotice() {
  noticeBox.hidden = true;
  noticeText.textContent = '';
  retryButton.hidden = true;
  S.retry = null;
}

// --- rendering -----------------------------------------------------------------------------

function scheduleRender(side) {
  side.dirty = true;
  if (!S.frame) S.frame = requestAnimationFrame(flushRenders);
}

function flushRenders() {
  S.frame = 0;
  for (const side of sides()) {
    if (!side.dirty || !side.answer) continue;
    side.dirty = false;
    const stick = side.convo.scrollHeight - side.convo.scrollTop - side.convo.clientHeight < 40;
    side.answer.replaceChildren(renderMarkdown(side.text));
    side.answer.classList.toggle('streaming', side.state === 'streaming');
    if (side.state === 'done' && !side.text.trim()) {
      // A model may end its answer at once; say so rather than show a blank pane.
      const empty = document.createElement('p');
      empty.className = 'empty';
      empty.textContent = 'This model gave an empty answer.';
      side.answer.append(empty);
    }
    if (side.state === 'error') {
      const failed = document.createElement('p');
      failed.className = 'failed';
      failed.textContent = side.error ? `This model failed: ${side.error}` : 'This model failed to answer.';
      side.answer.append(failed);
    }
    if (stick) side.convo.scrollTop = side.convo.scrollHeight;
  }
}

function setState(side, state, error) {
  side.state = state;
  side.error = error || '';
  side.status.textContent = STATUS_WORDS[state];
  side.status.dataset.state = state;
  side.convo.setAttribute('aria-busy', state === 'streaming' ? 'true' : 'false');
  scheduleRender(side);
}

// startTurn: a new prompt/answer pair at the bottom of both panes.
function startTurn(prompt) {
  for (const side of sides()) {
    side.convo.querySelector('.placeholder')?.remove();
    const turn = document.createElement('div');
    turn.className = 'turn';
    const you = document.createElement('p');
    you.className = 'you';
    you.textContent = prompt;
    side.answer = document.createElement('div');
    side.answer.className = 'answer md';
    turn.append(you, side.answer);
    side.convo.append(turn);
    side.text = '';
    setState(side, 'streaming');
    side.convo.scrollTop = side.convo.scrollHeight;
  }
}

// restartTurn: empties the current answers before the stream sends them again.
function restartTurn() {
  for (const side of sides()) {
    side.text = '';
    setState(side, 'streaming');
  }
}

function updateControls() {
  const streaming = S.source !== null;
  const bothDone = sides().every((s) => s.state === 'done');
  const canVote = S.battle && bothDone && !S.voted && !streaming && !S.busy;
  for (const b of voteButtons) b.disabled = !canVote;
  sendButton.disabled = streaming || S.busy;
  regenButton.disabled = !S.battle || S.voted || streaming || S.busy;
  document.body.dataset.phase = S.voted ? 'voted' : streaming ? 'streaming' : S.battle ? 'answered' : 'idle';
}

// --- the stream ----------------------------------------------------------------------------

function parse(data) {
  try { return JSON.parse(data); } catch { return null; }
}

function sideOf(data) {
  return data && (data.side === 'a' || data.side === 'b') ? S.sides[data.side] : null;
}

function closeStream() {
  if (S.source) S.source.close();
  S.source = null;
}

function openStream() {
  closeStream();
  const es = new EventSource(`/api/battles/${encodeURIComponent(S.battle.id)}/stream`);
  S.source = es;
  for (const key of ['a', 'b']) {
    es.addEventListener(key, (e) => {
      const d = parse(e.data);
      const side = S.sides[key];
      if (d && typeof d.text === 'string' && side.state === 'streaming') {
        side.text += d.text;
        scheduleRender(side);
      }
    });
  }
  es.addEventListener('done', (e) => {
    const side = sideOf(parse(e.data));
    if (side) setState(side, 'done');
  });
  // "error" is both the server's per-side event (a MessageEvent with data) and
  // EventSource's own signal that the connection failed (a plain Event).
  es.addEventListener('error', (e) => {
    if (S.source !== es) return;
    if (e instanceof MessageEvent) {
      const d = parse(e.data);
      const side = sideOf(d);
      if (side) {
        setState(side, 'error', typeof d.message === 'string' ? d.message : '');
        reportFailures();
      }
      return;
    }
    closeStream();
    for (const side of sides()) if (side.state === 'streaming') setState(side, 'idle');
    notice('The connection to the server was lost before the answers were complete.', retryStream);
    updateControls();
  });
  es.addEventListener('end', (e) => {
    if (S.source !== es) return;
    closeStream();
    for (const side of sides()) if (side.state === 'streaming') setState(side, 'error', 'the answer ended early');
    reportFailures();
    const d = parse(e.data);
    if (d && d.saved === false && sides().every((s) => s.state === 'done')) {
      notice('The server could not store these answers just now, so a vote may be refused. ' +
             'Vote anyway, or start a new round.');
    }
    updateControls();
  });
  updateControls();
}

// reportFailures: says which model failed and what the voter can do about it.
function reportFailures() {
  const failed = sides().filter((s) => s.state === 'error');
  if (!failed.length) return;
  const what = failed.length === 2 ? 'Both models failed to answer'
    : `Model ${failed[0].key.toUpperCase()} failed to answer${failed[0].error ? ` (${failed[0].error})` : ''}`;
  notice(`${what}. A battle needs two answers to be voted on: press Regenerate to ask again, or start a new round.`);
}

function retryStream() {
  clearNotice();
  restartTurn();
  openStream();
}

// --- actions -------------------------------------------------------------------------------

async function request(path, body, retry) {
  S.busy = true;
  updateControls();
  try {
    return await api(path, body);
  } catch (err) {
    const retriable = err.status === 0 || err.status === 429 || err.status >= 500;
    notice(explain(err), retriable ? retry : null);
    return null;
  } finally {
    S.busy = false;
    updateControls();
  }
}

async function send(prompt) {
  if (!prompt.trim() || S.busy || S.source) return;
  if (S.voted) newRound();
  clearNotice();
  const again = () => { clearNotice(); send(prompt); };
  const id = S.battle && encodeURIComponent(S.battle.id);
  const r = S.battle ? await request(`/api/battles/${id}/messages`, { prompt }, again)
                     : await request('/api/battles', { prompt }, again);
  if (!r) return;
  if (!S.battle) S.battle = { id: String(r.id), token: String(r.token) };
  else if (typeof r.token === 'string') S.battle.token = r.token;
  if (promptBox.value === prompt) promptBox.value = '';
  startTurn(prompt);
  openStream();
}

async function regenerate() {
  if (!S.battle || S.voted || S.busy || S.source) return;
  clearNotice();
  const r = await request(`/api/battles/${encodeURIComponent(S.battle.id)}/regenerate`, {}, regenerate);
  if (!r) return;
  if (typeof r.token === 'string') S.battle.token = r.token;
  restartTurn();
  openStream();
}

async function vote(winner) {
  if (!S.battle || S.voted) return;
  clearNotice();
  const r = await request(`/api/battles/${encodeURIComponent(S.battle.id)}/vote`,
                          { winner, token: S.battle.token }, () => { clearNotice(); vote(winner); });
  if (!r) return;
  S.voted = true;
  reveal(winner, r);
  updateControls();
}

function reveal(winner, r) {
  S.sides.a.title.textContent = `Model A: ${r.model_a}`;
  S.sides.b.title.textContent = `Model B: ${r.model_b}`;
  for (const side of sides()) side.title.classList.add('revealed');
  for (const b of voteButtons) b.setAttribute('aria-pressed', String(b.dataset.winner === winner));
  result.textContent = `Thanks! You voted “${VOTE_WORDS[winner]}”. Model A was ${r.model_a}, ` +
                       `Model B was ${r.model_b}. Type a new prompt or press New round for another battle.`;
  result.hidden = false;
}

function newRound() {
  closeStream();
  clearNotice();
  S.battle = null;
  S.voted = false;
  for (const side of sides()) {
    const placeholder = document.createElement('p');
    placeholder.className = 'placeholder';
    placeholder.textContent = `Model ${side.key.toUpperCase()}'s answer will appear here.`;
    side.convo.replaceChildren(placeholder);
    side.answer = null;
    side.text = '';
    side.title.textContent = `Model ${side.key.toUpperCase()}`;
    side.title.classList.remove('revealed');
    setState(side, 'idle');
  }
  for (const b of voteButtons) b.removeAttribute('aria-pressed');
  result.hidden = true;
  result.textContent = '';
  updateControls();
  promptBox.focus();
}

// --- wiring --------------------------------------------------------------------------------

form.addEventListener('submit', (e) => {
  e.preventDefault();
  send(promptBox.value);
});
regenButton.addEventListener('click', regenerate);
newRoundButton.addEventListener('click', newRound);
retryButton.addEventListener('click', () => S.retry && S.retry());
for (const b of voteButtons) b.addEventListener('click', () => vote(b.dataset.winner));

document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
  const t = e.target;
  if (t === promptBox) {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      form.requestSubmit();
    } else if (e.key === 'Escape') {
      promptBox.blur();
    }
    return;
  }
  if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t.isContentEditable) return;
  const button = voteButtons.find((b) => b.dataset.key === e.key);
  if (button) {
    e.preventDefault();
    if (!button.disabled) button.click();
  } else if (e.key === 'n' || e.key === 'N') {
    e.preventDefault();
    newRound();
  } else if (e.key === '/') {
    e.preventDefault();
    promptBox.focus();
  }
});

updateControls();
