// markdown.js: renders untrusted Markdown (model answers) into DOM nodes.
//
// Model output is hostile input. Nothing here parses HTML: every character of the source
// ends up in a text node, or selects one of a fixed set of elements (p, h1-h6, pre, code,
// ul, ol, li, blockquote, hr, table parts in a div, strong, em, a, br). The only attribute
// that carries source text is a link's href, and only after URL parsing proved it http: or
// https:.
//
// Supported: paragraphs (single newlines become line breaks), ATX headings, fenced code
// blocks, bullet and numbered lists (nested by indentation), block quotes, rules, pipe
// tables, code spans, **bold**, *italic*, [links](https://...), bare http(s) URLs,
// backslash escapes. Anything else stays literal text. Unclosed fences run to the end, so
// a code block that is still streaming looks like one.

const MAX_DEPTH = 8; // nested quotes / lists / emphasis beyond this are kept as text

const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])([ \t]+|$)(.*)$/;
const BLANK = /^[ \t]*$/;
const TABLE_RULE = /^ {0,3}\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;
const PUNCT = /^[!-/:-@[-`{-~]$/;
const URL_START = /^https?:\/\/[^\s<>"'`]+/i;

// safeHref: the normalised URL when text is an absolute http(s) URL, else null.
export function safeHref(text) {
  let url;
  try { url = new URL(text); } catch { return null; }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
}

// renderMarkdown: a DocumentFragment holding the rendering of src.
export function renderMarkdown(src, doc = document) {
  const lines = String(src).replace(/\r\n?/g, '\n').split('\n');
  return blocks(lines, doc, 0);
}

function startsBlock(line) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || ITEM.test(line);
}

// cells: the cells of a table row ("| a | b |" or "a | b"); "\|" is a literal bar.
function cells(line) {
  const row = line.trim().replace(/^\|/, '').replace(/(^|[^\\])\|$/, '$1');
  return row.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
}

// A table starts with a header row whose next line is a rule with as many cells.
function tableAt(lines, i) {
  return i + 1 < lines.length && lines[i].includes('|') && TABLE_RULE.test(lines[i + 1]) &&
         lines[i + 1].includes('|') && cells(lines[i]).length === cells(lines[i + 1]).length;
}

function indentOf(line) {
  const m = /^[ \t]*/.exec(line)[0];
  return m.replace(/\t/g, '    ').length;
}

// dedent: line without its first n columns of indentation.
function dedent(line, n) {
  let col = 0, i = 0;
  while (i < line.length && col < n && (line[i] === ' ' || line[i] === '\t')) {
    col += line[i] === '\t' ? 4 : 1;
    i++;
  }
  return line.slice(i);
}

function blocks(lines, doc, depth) {
  const out = doc.createDocumentFragment();
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (BLANK.test(line)) {
      i++;
    } else if ((m = FENCE.exec(line))) {
      const fence = m[1];
      const body = [];
      for (i++; i < lines.length; i++) {
        const close = /^ {0,3}(`{3,}|~{3,})[ \t]*$/.exec(lines[i]);
        if (close && close[1][0] === fence[0] && close[1].length >= fence.length) { i++; break; }
        body.push(lines[i]);
      }
      const pre = doc.createElement('pre');
      const code = doc.createElement('code');
      code.textContent = body.join('\n');
      pre.append(code);
      out.append(pre);
    } else if ((m = HEADING.exec(line))) {
      const h = doc.createElement('h' + m[1].length);
      h.append(inline(m[2] || '', doc, depth));
      out.append(h);
      i++;
    } else if (RULE.test(line)) {
      out.append(doc.createElement('hr'));
      i++;
    } else if (QUOTE.test(line) && depth < MAX_DEPTH) {
      const body = [];
      while (i < lines.length && (m = QUOTE.exec(lines[i]))) { body.push(m[1]); i++; }
      const q = doc.createElement('blockquote');
      q.append(blocks(body, doc, depth + 1));
      out.append(q);
    } else if (ITEM.test(line) && depth < MAX_DEPTH) {
      i = list(lines, i, doc, depth, out);
    } else if (tableAt(lines, i)) {
      i = table(lines, i, doc, depth, out);
    } else {
      const para = [line.trim()];
      for (i++; i < lines.length && !BLANK.test(lines[i]) && !startsBlock(lines[i]) && !tableAt(lines, i); i++) {
        para.push(lines[i].trim());
      }
      const p = doc.createElement('p');
      p.append(inline(para.join('\n'), doc, depth));
      out.append(p);
    }
  }
  return out;
}

// table: parses the table starting at lines[i] into out (in a scrolling box, so a wide
// table never widens the page); returns the index after it.
function table(lines, i, doc, depth, out) {
  const head = cells(lines[i]);
  const row = (values, tag) => {
    const tr = doc.createElement('tr');
    head.forEach((_, k) => {
      const cell = doc.createElement(tag);
      cell.append(inline(values[k] || '', doc, depth));
      tr.append(cell);
    });
    return tr;
  };
  const el = doc.createElement('table');
  const thead = doc.createElement('thead');
  thead.append(row(head, 'th'));
  const tbody = doc.createElement('tbody');
  for (i += 2; i < lines.length && !BLANK.test(lines[i]) && lines[i].includes('|'); i++) {
    tbody.append(row(cells(lines[i]), 'td'));
  }
  el.append(thead, tbody);
  const box = doc.createElement('div');
  box.className = 'table-scroll';
  box.append(el);
  out.append(box);
  return i;
}

// list: parses the list starting at lines[i] into out; returns the index after it.
function list(lines, i, doc, depth, out) {
  const first = ITEM.exec(lines[i]);
  const ordered = /\d/.test(first[2]);
  const el = doc.createElement(ordered ? 'ol' : 'ul');
  if (ordered) {
    const start = parseInt(first[2], 10);
    if (start !== 1) el.start = start;
  }
  let tight = true;
  for (;;) {
    const m = ITEM.exec(lines[i]);
    const contentIndent = m[1].length + m[2].length + Math.max(1, Math.min(m[3].length, 4));
    const body = [m[4]];
    let blankBefore = false;
    for (i++; i < lines.length; i++) {
      const line = lines[i];
      if (BLANK.test(line)) { blankBefore = true; body.push(''); continue; }
      if (indentOf(line) >= contentIndent) {
        if (blankBefore) tight = false;
        body.push(dedent(line, contentIndent));
      } else if (!blankBefore && !startsBlock(line)) {
        body.push(line.trim()); // lazy continuation of the item's paragraph
      } else {
        break;
      }
      blankBefore = false;
    }
    while (body.length && body[body.length - 1] === '') body.pop();
    const li = doc.createElement('li');
    li.append(blocks(body, doc, depth + 1));
    el.append(li);
    const next = i < lines.length ? ITEM.exec(lines[i]) : null;
    if (!next || /\d/.test(next[2]) !== ordered) break;
    if (blankBefore) tight = false;
  }
  if (tight) {
    for (const li of el.children) {
      for (const p of [...li.children]) if (p.tagName === 'P') p.replaceWith(...p.childNodes);
    }
  }
  out.append(el);
  return i;
}

// Emphasis delimiters: an opener is followed by a non-space, a closer preceded by one;
// "_" must not sit inside a word (snake_case stays as it is).
function isWordChar(c) { return c !== undefined && /[\p{L}\p{N}]/u.test(c); }
function isSpace(c) { return c === undefined || /\s/.test(c); }

function canOpen(text, i, d) {
  if (isSpace(text[i + d.length])) return false;
  return d[0] !== '_' || !isWordChar(text[i - 1]);
}

function canClose(text, j, d) {
  if (isSpace(text[j - 1])) return false;
  if (d.length === 1 && (text[j - 1] === d || text[j + 1] === d)) return false; // part of a double run
  return d[0] !== '_' || !isWordChar(text[j + d.length]);
}

// inline: a fragment with the inline rendering of text. Searches for closing delimiters
// are memoised per delimiter so that hostile input (thousands of unmatched "*" or "[")
// costs linear time per nesting level instead of quadratic.
function inline(text, doc, depth) {
  const out = doc.createDocumentFragment();
  const memo = new Map();
  let buf = '';
  const flush = () => { if (buf) { appendText(out, buf, doc); buf = ''; } };

  // find: first index >= from where token occurs and accept(index) holds, or -1.
  const find = (token, from, accept) => {
    const hit = memo.get(token);
    if (hit && hit.from <= from && (hit.at === -1 || hit.at >= from)) return hit.at;
    let j = text.indexOf(token, from);
    while (j !== -1 && !accept(j)) j = text.indexOf(token, j + 1);
    memo.set(token, { from, at: j });
    return j;
  };

  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '\\' && PUNCT.test(text[i + 1] || '')) {
      buf += text[i + 1];
      i += 2;
      continue;
    }
    if (c === '`') {
      let n = 1;
      while (text[i + n] === '`') n++;
      const run = '`'.repeat(n);
      const j = find(run, i + n, (k) => text[k - 1] !== '`' && text[k + n] !== '`');
      if (j !== -1) {
        flush();
        const code = doc.createElement('code');
        let body = text.slice(i + n, j).replace(/\n/g, ' ');
        if (body.length > 2 && body[0] === ' ' && body[body.length - 1] === ' ') body = body.slice(1, -1);
        code.textContent = body;
        out.append(code);
        i = j + n;
      } else {
        buf += run;
        i += n;
      }
      continue;
    }
    if ((c === '*' || c === '_') && depth < MAX_DEPTH) {
      const d = text[i + 1] === c ? c + c : c;
      if (canOpen(text, i, d)) {
        const j = find(d, i + d.length + 1, (k) => canClose(text, k, d));
        if (j !== -1) {
          flush();
          const el = doc.createElement(d.length === 2 ? 'strong' : 'em');
          el.append(inline(text.slice(i + d.length, j), doc, depth + 1));
          out.append(el);
          i = j + d.length;
          continue;
        }
      }
      buf += d;
      i += d.length;
      continue;
    }
    if (c === '[' && depth < MAX_DEPTH) {
      const close = find(']', i + 1, () => true);
      if (close !== -1 && text[close + 1] === '(') {
        const end = find(')', close + 2, () => true);
        if (end !== -1) {
          const target = text.slice(close + 2, end).trim().split(/\s+/)[0] || '';
          const label = inline(text.slice(i + 1, close), doc, depth + 1);
          const href = safeHref(target);
          flush();
          // A link to anything but http(s) keeps its label as plain text and loses the target.
          out.append(href ? link(href, label, doc) : label);
          i = end + 1;
          continue;
        }
      }
    }
    if ((c === 'h' || c === 'H') && !isWordChar(text[i - 1])) {
      const m = URL_START.exec(text.slice(i, i + 2048));
      if (m) {
        const url = m[0].replace(/[.,;:!?'")\]]+$/, '');
        const href = safeHref(url);
        if (href) {
          flush();
          out.append(link(href, doc.createTextNode(url), doc));
          i += url.length;
          continue;
        }
      }
    }
    buf += c;
    i++;
  }
  flush();
  return out;
}

function link(href, content, doc) {
  const a = doc.createElement('a');
  a.href = href;
  a.rel = 'noopener noreferrer nofollow';
  a.target = '_blank';
  a.append(content);
  return a;
}

// appendText: text as text nodes, each newline a <br>.
function appendText(out, text, doc) {
  const parts = text.split('\n');
  parts.forEach((part, k) => {
    if (k) out.append(doc.createElement('br'));
    if (part) out.append(doc.createTextNode(part));
  });
}
