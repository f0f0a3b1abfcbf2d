// The admin page: one HTML document, its script and its style, served by the admin server itself (no
// network, no library). The script reads the JSON API and puts every value into the page as text
// (textContent, never innerHTML), so nothing a store holds is ever read as HTML.
#include "admin_api.h"

namespace strata::tools {

const char* const kAdminPage = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>strata admin</title>
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header><h1>strata</h1><span id="store"></span>
<label>token <input id="token" type="password" autocomplete="off" placeholder="for retry and skip"></label></header>
<main>
<section id="overview-section"><h2>Store</h2><table id="overview"></table></section>
<section id="projections-section"><h2>Projections</h2>
<table id="projections"><thead><tr><th>projection</th><th>position</th><th>lag</th><th>lag (s)</th><th>events/s</th><th>parked</th><th>state</th></tr></thead><tbody></tbody></table>
<h3>Lag, last 5 minutes (events)</h3><svg id="lag-chart" viewBox="0 0 600 120" preserveAspectRatio="none"></svg>
<div id="lag-legend"></div></section>
<section id="parked-section"><h2>Parked events</h2><div id="parked"></div><p id="message" role="status"></p></section>
<section id="streams-section"><h2>Streams</h2><ul id="streams"></ul></section>
<section id="events-section"><h2 id="events-title">Events</h2><table id="events"><tbody></tbody></table>
<pre id="event"></pre></section>
</main>
</body>
</html>
)HTML";

const char* const kAdminScript = R"JS('use strict';
const $ = (id) => document.getElementById(id);
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; };
const history = new Map();  // projection -> [[time, lag]]
const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

async function get(path) {
  const r = await fetch(path, {headers: {'Accept': 'application/json'}});
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

async function change(path) {
  const r = await fetch(path, {method: 'POST', headers: {'Authorization': 'Bearer ' + $('token').value}});
  const body = await r.json();
  $('message').textContent = r.ok ? (body.done + ' done: ' + body.projection + ' position ' + body.position) : ('refused: ' + body.error);
  refresh();
}

function row(cells) { const tr = el('tr'); for (const c of cells) tr.append(c instanceof Node ? c : el('td', c)); return tr; }

async function overview() {
  const o = await get('/api/overview');
  $('store').textContent = o.store + (o.read_only ? ' (read-only)' : '');
  const t = $('overview'); t.replaceChildren();
  t.append(row(['head position', o.head]), row(['streams', 'about ' + o.streams_estimate]),
           row(['disk', (o.disk_bytes / 1048576).toFixed(1) + ' MiB']), row(['writes stalled', o.write_stalled ? 'yes' : 'no']));
}

function chart() {
  const svg = $('lag-chart'); svg.replaceChildren();
  const now = Date.now(), span = 5 * 60 * 1000;
  let max = 1;
  for (const points of history.values()) for (const [, lag] of points) max = Math.max(max, lag);
  const legend = $('lag-legend'); legend.replaceChildren();
  let i = 0;
  for (const [name, points] of history) {
    const color = colors[i++ % colors.length];
    const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    line.setAttribute('fill', 'none'); line.setAttribute('stroke', color); line.setAttribute('stroke-width', '2');
    line.setAttribute('points', points.map(([t, lag]) => ((600 * (t - now + span)) / span).toFixed(1) + ',' + (118 - (110 * lag) / max).toFixed(1)).join(' '));
    svg.append(line);
    const key = el('span', name + ': ' + points[points.length - 1][1] + ' behind', 'legend'); key.style.color = color; legend.append(key);
  }
}

async function projections() {
  const p = await get('/api/projections');
  const body = $('projections').querySelector('tbody'); body.replaceChildren();
  // Built apart and put in at once, so that the list never shows half of one refresh.
  const parked = document.createDocumentFragment();
  const now = Date.now();
  for (const x of p.projections) {
    const tr = row([x.name, x.position, x.lag_events, x.lag_seconds.toFixed(1), x.events_per_second.toFixed(0), x.parked,
                    (x.state || 'not running here') + (x.rebuilding ? ', rebuilding' : '')]);
    tr.dataset.projection = x.name; tr.className = 'projection';
    body.append(tr);
    const points = history.get(x.name) || [];
    points.push([now, x.lag_events]);
    while (points.length && points[0][0] < now - 5 * 60 * 1000) points.shift();
    history.set(x.name, points);
    if (x.parked > 0) await parkedOf(x, parked);
  }
  $('parked').replaceChildren(parked);
  chart();
}

async function parkedOf(x, into) {
  const list = await get('/api/projections/' + encodeURIComponent(x.name) + '/parked');
  into.append(el('h3', x.name));
  const t = el('table');
  t.append(row([el('th', 'position'), el('th', 'event'), el('th', 'type'), el('th', 'attempts'), el('th', 'error'), el('th', '')]));
  for (const p of list.parked) {
    const actions = el('td');
    for (const action of ['retry', 'skip']) {
      const b = el('button', action, action); b.disabled = !x.can_retry;
      b.addEventListener('click', () => change('/api/projections/' + encodeURIComponent(x.name) + '/parked/' + p.event.position + '/' + action));
      actions.append(b);
    }
    const tr = row([p.event.position, p.event.stream + '@' + p.event.version, p.event.type, p.attempts, p.error, actions]);
    tr.className = 'parked';
    t.append(tr);
  }
  into.append(t);
}

async function streams() {
  const s = await get('/api/streams?count=200');
  const ul = $('streams'); ul.replaceChildren();
  for (const x of s.streams) {
    const li = el('li'); const a = el('a', x.stream + ' (' + x.head + ')'); a.href = '#';
    a.addEventListener('click', (e) => { e.preventDefault(); events(x.stream); });
    li.append(a); ul.append(li);
  }
}

async function events(stream) {
  const s = await get('/api/streams/' + encodeURIComponent(stream) + '?count=200');
  $('events-title').textContent = 'Events of ' + stream;
  const body = $('events').querySelector('tbody'); body.replaceChildren();
  for (const e of s.events) {
    const tr = row([e.version, e.position, e.time, e.type, JSON.stringify(e.payload)]);
    tr.className = 'event';
    tr.addEventListener('click', () => { $('event').textContent = JSON.stringify(e, null, 2); });
    body.append(tr);
  }
}

// One refresh at a time: a refresh asked for while one runs (by the timer, or after a change) runs
// once it ends, so two never fill the page together.
let refreshing = null, again = false;
async function refresh() {
  if (refreshing) { again = true; return refreshing; }
  refreshing = (async () => {
    do {
      again = false;
      try { await overview(); await projections(); } catch (e) { $('message').textContent = 'error: ' + e.message; }
    } while (again);
    refreshing = null;
  })();
  return refreshing;
}

refresh(); streams();
setInterval(refresh, 1000);
)JS";

const char* const kAdminStyle = R"CSS(body { font: 14px system-ui, sans-serif; margin: 0; color: #222; }
header { display: flex; gap: 1em; align-items: baseline; padding: .5em 1em; background: #223; color: #eee; }
header h1 { font-size: 1.2em; margin: 0; }
header label { margin-left: auto; }
main { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; padding: 1em; }
section { border: 1px solid #ccd; border-radius: 4px; padding: .5em 1em; overflow: auto; }
table { border-collapse: collapse; }
td, th { padding: 2px 8px; text-align: left; border-bottom: 1px solid #eee; vertical-align: top; }
tr.event { cursor: pointer; }
svg { width: 100%; height: 120px; background: #fafafc; border: 1px solid #eee; }
.legend { margin-right: 1em; }
pre { background: #f6f6f8; padding: .5em; white-space: pre-wrap; word-break: break-all; }
button { margin-right: .3em; }
)CSS";

}  // namespace strata::tools
