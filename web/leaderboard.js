// leaderboard.js: the leaderboard page. Fetches the board and two matrices for the chosen
// method and vote filter, fills the sortable table and draws the charts.
import { ratingChart, heatmap, rankScatter } from '/charts.js';

const $ = (id) => document.getElementById(id);
const finite = (v) => typeof v === 'number' && Number.isFinite(v);
const fixed = (v, digits) => (finite(v) ? v.toFixed(digits) : '—');

// Columns: value() is what sorting compares (null sorts last), show() what the cell says.
// desc: the first click sorts descending (bigger is better).
const COLUMNS = [
  { key: 'rank_ub', label: 'Rank (UB)', num: true,
    title: 'One plus the number of models whose interval lies entirely above this one' },
  { key: 'model', label: 'Model' },
  { key: 'rating', label: 'Arena score', num: true, desc: true, show: (m) => fixed(m.rating, 0) },
  { key: 'ci', label: '95 % CI', num: true, title: 'Distance from the score to the upper / lower bound',
    value: (m) => (finite(m.ci_upper) && finite(m.ci_lower) ? m.ci_upper - m.ci_lower : null),
    show: (m) => (finite(m.ci_upper) && finite(m.ci_lower) && finite(m.rating)
      ? `+${(m.ci_upper - m.rating).toFixed(0)}/-${(m.rating - m.ci_lower).toFixed(0)}` : '—') },
  { key: 'votes', label: 'Votes', num: true, desc: true },
  { key: 'organization', label: 'Organization' },
  { key: 'license', label: 'License' },
  { key: 'static_score', label: 'Static score', num: true, desc: true, show: (m) => fixed(m.static_score, 2) },
  { key: 'static_rank', label: 'Static rank', num: true },
  { key: 'rank_delta', label: 'Rank Δ', num: true,
    title: 'Arena rank minus static rank among the models in both rankings (positive: the arena ranks it lower)',
    show: (m) => (finite(m.rank_delta) ? (m.rank_delta > 0 ? '+' : '') + m.rank_delta : '—') },
];
for (const c of COLUMNS) {
  c.value ??= (m) => m[c.key] ?? null;
  c.show ??= (m) => (m[c.key] === null || m[c.key] === undefined || m[c.key] === '' ? '—' : String(m[c.key]));
}

const params = new URLSearchParams(location.search);
const S = {
  method: params.get('method') === 'elo' ? 'elo' : 'bt',
  anony: params.get('anony') !== '0',
  board: null,
  sort: { key: 'rank_ub', dir: 1 },
  loads: 0,        // sequence number: a slow answer to an old request is dropped
};

// --- table ---------------------------------------------------------------------------------

function buildHead() {
  const row = $('board-head');
  for (const c of COLUMNS) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.dataset.key = c.key;
    if (c.num) th.className = 'num';
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = c.label;
    if (c.title) button.title = c.title;
    button.addEventListener('click', () => sortBy(c));
    th.append(button);
    row.append(th);
  }
}

function sortBy(c) {
  S.sort = S.sort.key === c.key ? { key: c.key, dir: -S.sort.dir } : { key: c.key, dir: c.desc ? -1 : 1 };
  renderTable();
}

function compare(c, dir) {
  return (x, y) => {
    const a = c.value(x.m), b = c.value(y.m);
    if (a === null || b === null) return a === null && b === null ? x.i - y.i : a === null ? 1 : -1;
    const d = typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b));
    return d ? d * dir : x.i - y.i;   // ties keep the board's order
  };
}

function renderTable() {
  const c = COLUMNS.find((col) => col.key === S.sort.key);
  for (const th of $('board-head').children) {
    th.setAttribute('aria-sort', th.dataset.key !== c.key ? 'none' : S.sort.dir > 0 ? 'ascending' : 'descending');
  }
  const rows = (S.board ? S.board.models : []).map((m, i) => ({ m, i })).sort(compare(c, S.sort.dir));
  const body = $('board-body');
  if (!rows.length) {
    const td = document.createElement('td');
    td.colSpan = COLUMNS.length;
    td.className = 'empty';
    td.textContent = 'No votes counted yet. Cast some on the battle page.';
    const tr = document.createElement('tr');
    tr.append(td);
    body.replaceChildren(tr);
    return;
  }
  body.replaceChildren(...rows.map(({ m }) => {
    const tr = document.createElement('tr');
    for (const col of COLUMNS) {
      const td = document.createElement(col.key === 'model' ? 'th' : 'td');
      if (col.key === 'model') td.scope = 'row';
      if (col.num) td.className = 'num';
      if (col.key === 'rank_delta' && finite(m.rank_delta) && m.rank_delta) {
        td.classList.add(m.rank_delta < 0 ? 'delta-up' : 'delta-down');
      }
      td.textContent = col.show(m);
      tr.append(td);
    }
    return tr;
  }));
}

// --- summary, methods, charts --------------------------------------------------------------

// when: a timestamp (Unix seconds or an ISO string) as "YYYY-MM-DD HH:MM UTC".
function when(t) {
  const d = finite(t) ? new Date(t * 1000) : typeof t === 'string' && t ? new Date(t) : null;
  if (!d || Number.isNaN(d.getTime())) return null;
  return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

const CI_WORDS = {
  sandwich: 'the sandwich (robust) covariance of the Bradley–Terry fit: score ± 1.96 standard errors',
  bootstrap: 'the bootstrap: the votes are resampled with replacement, the ratings refitted, and the ' +
             '2.5th and 97.5th percentiles over the rounds taken',
  none: 'nowhere: this deployment computes no intervals',
};

function renderSummary(b) {
  const last = when(b.last_vote_tstamp);
  const parts = [`${b.total_votes ?? 0} votes`, `${b.models.length} models`,
                 S.method === 'elo' ? 'online Elo' : 'Bradley–Terry',
                 S.anony ? 'anonymous battles only' : 'all battles'];
  if (last) parts.push(`last vote ${last}`);
  $('summary').textContent = parts.join(' · ');
  const ci = S.method === 'elo' && b.ci_method !== 'none' ? 'bootstrap' : b.ci_method;
  $('ci-method').textContent = CI_WORDS[ci] || String(ci || 'the configured method');
  $('updated').textContent = `Board last updated: ${when(b.updated) || '—'}; last vote counted: ${last || 'none yet'}.`;
}

function place(id, node) {
  $(id).querySelector('.plot').replaceChildren(node);
}

function emptyNote(textContent) {
  const p = document.createElement('p');
  p.className = 'empty';
  p.textContent = textContent;
  return p;
}

function renderCharts(b, wins, counts) {
  const rated = b.models.filter((m) => finite(m.rating));
  place('chart-ratings', rated.length ? ratingChart(rated) : emptyNote('No ratings yet: cast some votes.'));
  const points = b.models
    .filter((m) => finite(m.static_rank) && finite(m.rank_delta))
    .map((m) => ({ model: m.model, x: m.static_rank, y: m.static_rank + m.rank_delta }));
  place('chart-scatter', points.length ? rankScatter(points, b.correlation || null)
                                       : emptyNote(rated.length ? 'No model of the board is in the static ranking.'
                                                                : 'No ratings yet.'));
  for (const [id, m, kind] of [['chart-wins', wins, 'fraction'], ['chart-counts', counts, 'count']]) {
    place(id, m && m.models.length ? heatmap(m.models, m.matrix, kind) : emptyNote('No battles yet.'));
  }
}

// --- loading -------------------------------------------------------------------------------

async function get(path) {
  const res = await fetch(path, { headers: { Accept: 'application/json' } });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error((data && data.error && data.error.message) || `${path}: HTTP ${res.status}`);
  return data;
}

async function load() {
  const seq = ++S.loads;
  const anony = S.anony ? 1 : 0;
  $('board').setAttribute('aria-busy', 'true');
  try {
    const [board, wins, counts] = await Promise.all([
      get(`/api/leaderboard?method=${S.method}&anony=${anony}`),
      get(`/api/leaderboard/matrix?kind=wins&anony=${anony}`),
      get(`/api/leaderboard/matrix?kind=counts&anony=${anony}`),
    ]);
    if (seq !== S.loads) return;
    S.board = board;
    $('notice').hidden = true;
    renderSummary(board);
    renderTable();
    renderCharts(board, wins, counts);
    document.body.dataset.loaded = `${S.method}-${anony}`;
  } catch (err) {
    if (seq !== S.loads) return;
    $('notice-text').textContent = `The leaderboard could not be loaded: ${err.message}. Reload the page to try again.`;
    $('notice').hidden = false;
    $('summary').textContent = '';
  } finally {
    if (seq === S.loads) $('board').setAttribute('aria-busy', 'false');
  }
}

function syncControls() {
  const form = $('controls');
  form.elements.method.value = S.method;
  form.elements.anony.checked = S.anony;
  $('dl-board-csv').href = `/api/export/leaderboard.csv?method=${S.method}&anony=${S.anony ? 1 : 0}`;
}

$('controls').addEventListener('change', () => {
  const form = $('controls');
  S.method = form.elements.method.value === 'elo' ? 'elo' : 'bt';
  S.anony = form.elements.anony.checked;
  syncControls();
  const q = new URLSearchParams({ method: S.method, anony: S.anony ? '1' : '0' });
  history.replaceState(null, '', `?${q}`);
  load();
});

buildHead();
syncControls();
load();
