// charts.js: the leaderboard's pictures as plain SVG built with DOM calls. Model names
// only ever reach text nodes (labels and <title> tooltips); attributes get numbers and
// fixed class names. Each chart returns an <svg> with a viewBox, so it scales with its box.

const NS = 'http://www.w3.org/2000/svg';

function svg(name, attrs = {}, ...children) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  e.append(...children);
  return e;
}

function text(x, y, content, attrs = {}) {
  return svg('text', { x: round(x), y: round(y), ...attrs }, String(content));
}

function title(content) { return svg('title', {}, String(content)); }

function round(v) { return Math.round(v * 10) / 10; }

function frame(width, height, label) {
  return svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': label });
}

// shorten: long model names cut to fit a label column; the full name is in the tooltip.
function shorten(name, max) {
  return name.length > max ? name.slice(0, max - 1) + '…' : name;
}

// ticks: about count round numbers covering [lo, hi] (steps of 1, 2 or 5 times 10^k).
export function ticks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

const finite = (v) => typeof v === 'number' && Number.isFinite(v);

// ratingChart: one row per model (in the given order): a dot at the rating and a bar
// from ci_lower to ci_upper when the interval is known.
export function ratingChart(models) {
  const W = 520, L = 150, R = 16, T = 8, ROW = 26, B = 28;
  const H = T + ROW * models.length + B;
  const root = frame(W, H, 'Arena score of each model with its 95 % interval');
  const values = models.flatMap((m) => [m.rating, m.ci_lower, m.ci_upper]).filter(finite);
  if (!values.length) return root;
  let lo = Math.min(...values), hi = Math.max(...values);
  const pad = Math.max((hi - lo) * 0.05, 1);
  lo -= pad; hi += pad;
  const x = (v) => L + (v - lo) / (hi - lo) * (W - L - R);
  const bottom = T + ROW * models.length;

  const axis = svg('g', { class: 'axis' });
  for (const t of ticks(lo, hi, 5)) {
    axis.append(svg('line', { class: 'grid', x1: round(x(t)), x2: round(x(t)), y1: T, y2: bottom }),
                text(x(t), bottom + 16, t, { class: 'tick', 'text-anchor': 'middle' }));
  }
  axis.append(svg('line', { x1: L, x2: W - R, y1: bottom, y2: bottom }));
  root.append(axis);

  models.forEach((m, i) => {
    const y = T + ROW * i + ROW / 2;
    root.append(text(L - 8, y + 4, shorten(m.model, 22), { 'text-anchor': 'end' }));
    if (!finite(m.rating)) return;
    const g = svg('g', { class: 'errbar' });
    const hasCi = finite(m.ci_lower) && finite(m.ci_upper);
    g.append(title(hasCi ? `${m.model}: ${m.rating.toFixed(1)} (95 % CI ${m.ci_lower.toFixed(1)} to ${m.ci_upper.toFixed(1)})`
                         : `${m.model}: ${m.rating.toFixed(1)}`));
    if (hasCi) {
      const a = round(x(m.ci_lower)), b = round(x(m.ci_upper));
      g.append(svg('line', { x1: a, x2: b, y1: y, y2: y }),
               svg('line', { x1: a, x2: a, y1: y - 5, y2: y + 5 }),
               svg('line', { x1: b, x2: b, y1: y - 5, y2: y + 5 }));
    }
    g.append(svg('circle', { cx: round(x(m.rating)), cy: y, r: 4 }));
    root.append(g);
  });
  return root;
}

// Colour scales. Win fractions diverge around 0.5 (red: the row loses, blue: it wins);
// counts go from white to blue.
const RED = [215, 48, 39], WHITE = [247, 247, 247], BLUE = [49, 104, 174];

function mix(a, b, t) { return a.map((v, k) => Math.round(v + (b[k] - v) * t)); }

function fractionColour(v) {
  return v < 0.5 ? mix(RED, WHITE, v / 0.5) : mix(WHITE, BLUE, (v - 0.5) / 0.5);
}

function countColour(v, max) { return mix(WHITE, BLUE, max > 0 ? Math.sqrt(v / max) : 0); }

const css = (rgb) => `rgb(${rgb.join(',')})`;
const dark = (rgb) => 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] < 140;

// heatmap: names.length x names.length cells; matrix[i][j] null where there is no value.
// kind 'fraction' (0..1, shown as a percentage) or 'count'.
export function heatmap(names, matrix, kind) {
  const n = names.length;
  const L = 130, T = 110, W = 520;
  const cell = n ? Math.min(52, (W - L - 8) / n) : 0;
  const H = T + cell * n + 8;
  const root = frame(W, H, kind === 'fraction' ? 'Win fraction heatmap' : 'Battle count heatmap');
  const values = matrix.flat().filter(finite);
  const max = values.length ? Math.max(...values) : 0;
  const showValues = cell >= 24;

  names.forEach((name, i) => {
    const c = T + cell * i + cell / 2;
    root.append(text(L - 6, c + 4, shorten(name, 18), { 'text-anchor': 'end' }));
    const top = L + cell * i + cell / 2;
    root.append(text(top, T - 6, shorten(name, 18), { transform: `rotate(-50 ${round(top)} ${T - 6})` }));
  });
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = matrix[i] ? matrix[i][j] : null;
      const has = finite(v);
      const rgb = has ? (kind === 'fraction' ? fractionColour(v) : countColour(v, max)) : [255, 255, 255];
      const shown = kind === 'fraction' ? (has ? `${Math.round(v * 100)}%` : '') : (has ? String(v) : '');
      const g = svg('g', { class: has ? 'cell' : 'cell empty' });
      g.append(title(has ? `${names[i]} vs ${names[j]}: ${kind === 'fraction' ? shown + ' wins' : shown + ' battles'}`
                         : `${names[i]} vs ${names[j]}: no battles`),
               svg('rect', { x: round(L + cell * j), y: round(T + cell * i), width: round(cell - 1), height: round(cell - 1),
                             fill: css(rgb), stroke: has ? 'none' : '#e3e6ea' }));
      if (has && showValues) {
        g.append(text(L + cell * j + cell / 2, T + cell * i + cell / 2 + 3.5, shown,
                      { 'text-anchor': 'middle', fill: dark(rgb) ? '#fff' : '#1d232b' }));
      }
      root.append(g);
    }
  }
  return root;
}

function fmt(v, digits) { return finite(v) ? v.toFixed(digits) : '—'; }
function pValue(p) { return finite(p) && p >= 0 && p < 0.001 ? '< 0.001' : `= ${fmt(p, 3)}`; }

// rankScatter: points [{model, x: static rank, y: arena rank}], both 1 = best, with the
// rank correlations (null when undefined) written above the plot.
export function rankScatter(points, correlation) {
  const W = 520, H = 340, L = 44, R = 16, T = 40, B = 40;
  const root = frame(W, H, 'Arena rank against static rank');
  const stat = correlation
    ? `Spearman ρ = ${fmt(correlation.spearman_rho, 3)} (p ${pValue(correlation.spearman_p)})   ` +
      `Kendall τ-b = ${fmt(correlation.kendall_tau_b, 3)} (p ${pValue(correlation.kendall_p)})   n = ${correlation.n}`
    : 'ρ and τ need at least three models found in both rankings';
  root.append(text(L, 18, stat, { class: 'stat' }));
  const n = Math.max(2, ...points.flatMap((p) => [p.x, p.y]));
  const x = (r) => L + (r - 0.5) / n * (W - L - R);
  const y = (r) => T + (r - 0.5) / n * (H - T - B);

  const axis = svg('g', { class: 'axis' });
  for (const t of ticks(1, n, Math.min(n - 1, 8)).filter(Number.isInteger)) {
    axis.append(svg('line', { class: 'grid', x1: round(x(t)), x2: round(x(t)), y1: T, y2: H - B }),
                svg('line', { class: 'grid', x1: L, x2: W - R, y1: round(y(t)), y2: round(y(t)) }),
                text(x(t), H - B + 14, t, { class: 'tick', 'text-anchor': 'middle' }),
                text(L - 6, y(t) + 4, t, { class: 'tick', 'text-anchor': 'end' }));
  }
  axis.append(svg('line', { x1: L, x2: W - R, y1: H - B, y2: H - B }),
              svg('line', { x1: L, x2: L, y1: T, y2: H - B }),
              text((L + W - R) / 2, H - 6, 'static rank (1 = best)', { 'text-anchor': 'middle' }),
              text(12, (T + H - B) / 2, 'arena rank', { 'text-anchor': 'middle', transform: `rotate(-90 12 ${(T + H - B) / 2})` }));
  root.append(axis, svg('line', { class: 'diagonal', x1: x(0.5), y1: y(0.5), x2: x(n + 0.5), y2: y(n + 0.5) }));

  for (const p of points) {
    const cx = round(x(p.x)), cy = round(y(p.y));
    const right = cx < W - 140;
    root.append(svg('g', { class: 'point' },
      title(`${p.model}: static rank ${p.x}, arena rank ${p.y}`),
      svg('circle', { cx, cy, r: 5 }),
      text(right ? cx + 8 : cx - 8, cy - 6, shorten(p.model, 20), { 'text-anchor': right ? 'start' : 'end' })));
  }
  return root;
}
