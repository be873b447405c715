// floodgate workbench: one ES module, no build step. It talks only to /v1 (same origin) with
// the session cookie and the CSRF token from POST /v1/session. Everything that came from a
// user or from data is inserted as text (el() makes text nodes; nothing here assigns HTML).

const $ = (sel, root = document) => root.querySelector(sel);

/** Builds an element; string children become text nodes, never markup. */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const state = { me: null, csrf: sessionStorage.getItem('fg_csrf') || '' };

class ApiFailure extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(`${e.message || 'request failed'}${e.field ? ` (field ${e.field})` : ''} [${e.code || status}${e.request_id ? `, request ${e.request_id}` : ''}]`);
    this.status = status;
    this.code = e.code;
  }
}

async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && state.csrf) headers['x-csrf-token'] = state.csrf;
  const r = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!r.ok) {
    if (r.status === 401 && path !== '/v1/session') showLogin('Your session has ended; sign in again.');
    throw new ApiFailure(r.status, json);
  }
  return json;
}

function flash(msg, kind = 'ok') {
  const f = $('#flash');
  f.className = msg ? kind : '';
  f.textContent = msg || '';
}

const fmtTime = (t) => (t === null || t === undefined ? '—' : new Date(t * 1000).toISOString().replace('.000Z', 'Z'));

/** Base units → display units for the assets the engine knows; others stay as given. */
const DECIMALS = { BTC: 8, ETH: 18, TRX: 6, 'USDT-TRC20': 6, 'USDT-ERC20': 6, USDT: 6, USDC: 6 };
function fmtAmount(raw, asset) {
  const d = DECIMALS[asset];
  if (d === undefined || !/^\d+$/.test(String(raw))) return `${raw} ${asset || ''}`.trim();
  const s = String(raw).padStart(d + 1, '0');
  const whole = s.slice(0, s.length - d);
  const frac = s.slice(s.length - d).replace(/0+$/, '');
  return `${whole}${frac ? `.${frac}` : ''} ${asset}`;
}

function sev(s) { return el('span', { class: `sev sev-${s}` }, s); }

/** A JSON value shown as indented text. */
function jsonBlock(v) { return el('pre', { class: 'json' }, JSON.stringify(v, null, 2)); }

function kv(pairs) {
  return el('dl', { class: 'kv' }, pairs.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v ?? '—')]));
}

// ---------------------------------------------------------------- login and routing

function showLogin(msg) {
  state.me = null;
  $('#login-view').hidden = false;
  $('#view').hidden = true;
  $('#nav').hidden = true;
  $('#logout').hidden = true;
  $('#who').textContent = '';
  if (msg) flash(msg, 'error');
  $('#login-user').focus();
}

function signedIn(me) {
  state.me = me;
  $('#login-view').hidden = true;
  $('#view').hidden = false;
  $('#nav').hidden = false;
  $('#logout').hidden = false;
  $('#who').textContent = `${me.user} · ${me.role} · ${me.tenant}`;
  for (const a of document.querySelectorAll('#nav a')) {
    const sup = a.dataset.view === 'supervisor';
    a.hidden = me.role === 'supervisor' ? !sup : sup;
  }
  if (!location.hash || location.hash === '#/') location.hash = me.role === 'supervisor' ? '#/supervisor' : '#/alerts';
  else route();
}

$('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    const key = $('#api-key').value.trim();
    const body = key ? { api_key: key } : { tenant: $('#login-tenant').value.trim(), user: $('#login-user').value.trim(), password: $('#login-password').value };
    const r = await api('POST', '/v1/session', body);
    state.csrf = r.csrf_token;
    sessionStorage.setItem('fg_csrf', r.csrf_token);
    $('#api-key').value = '';
    $('#login-password').value = '';
    flash('');
    signedIn(r);
  } catch (e) { flash(e.message, 'error'); }
});

$('#logout').addEventListener('click', async () => {
  try { await api('DELETE', '/v1/session'); } catch { /* already ended */ }
  sessionStorage.removeItem('fg_csrf');
  state.csrf = '';
  location.hash = '';
  showLogin();
  flash('Signed out.');
});

const views = {};
let cleanup = null;

async function route() {
  if (!state.me) return;
  const [, name = 'alerts', arg] = location.hash.split('/');
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === name);
  if (cleanup) { cleanup(); cleanup = null; }
  const view = $('#view');
  view.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
  try {
    await (views[name] || views.alerts)(view, arg);
  } catch (e) {
    view.replaceChildren(el('p', { class: 'muted' }, 'Could not load this page.'));
    flash(e.message, 'error');
  }
}
window.addEventListener('hashchange', () => { flash(''); route(); });

// ---------------------------------------------------------------- alert queue

const filters = { severity: '', rule: '', source: '', state: '' };

views.alerts = async (view) => {
  const q = new URLSearchParams({ limit: '1000' });
  if (filters.state) q.set('state', filters.state);
  const { alerts } = await api('GET', `/v1/alerts?${q}`);
  const select = (name, options) => el('select', {
    name, onchange: (e) => { filters[name] = e.target.value; route(); },
  }, options.map(([v, label]) => { const o = el('option', { value: v }, label); o.selected = filters[name] === v; return o; }));
  const rules = [...new Set(alerts.flatMap((a) => a.rule.split(',')))].sort();
  const shown = alerts.filter((a) => (!filters.severity || a.severity === filters.severity)
    && (!filters.source || a.source === filters.source)
    && (!filters.rule || a.rule.split(',').includes(filters.rule)));
  const detail = el('div', { class: 'panel', id: 'alert-detail' }, el('p', { class: 'muted' }, 'Select an alert (j/k, click), Enter opens its case.'));
  const rows = shown.map((a) => el('tr', { dataset: { id: a.id, case: a.case } },
    el('td', {}, String(a.id)), el('td', { class: 'nowrap' }, fmtTime(a.created).replace('T', ' ').slice(0, 16)), el('td', {}, a.source),
    el('td', {}, a.rule.replaceAll(',', ', ')), el('td', {}, sev(a.severity)), el('td', {}, a.subject),
    el('td', {}, a.case === null ? '—' : `#${a.case}`)));
  let sel = -1;
  const pick = (i) => {
    if (!rows.length) return;
    sel = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((r, j) => r.classList.toggle('selected', j === sel));
    rows[sel].scrollIntoView({ block: 'nearest' });
    detail.replaceChildren(alertDetail(shown[sel]));
  };
  const open = () => { if (sel >= 0 && shown[sel].case !== null) location.hash = `#/case/${shown[sel].case}`; };
  rows.forEach((r, i) => { r.addEventListener('click', () => pick(i)); r.addEventListener('dblclick', () => { pick(i); open(); }); });
  const onKey = (e) => {
    if (e.target.closest('input, select, textarea')) return;
    if (e.key === 'j') pick(sel + 1);
    else if (e.key === 'k') pick(sel - 1);
    else if (e.key === 'Enter') open();
  };
  document.addEventListener('keydown', onKey);
  cleanup = () => document.removeEventListener('keydown', onKey);
  view.replaceChildren(
    el('h1', {}, `Alert queue (${shown.length} of ${alerts.length})`),
    el('div', { class: 'filters' },
      el('label', {}, 'Severity', select('severity', [['', 'any'], ['critical', 'critical'], ['high', 'high'], ['medium', 'medium'], ['low', 'low']])),
      el('label', {}, 'Rule', select('rule', [['', 'any'], ...rules.map((r) => [r, r])])),
      el('label', {}, 'Source', select('source', [['', 'any'], ['monitor', 'monitor'], ['screening', 'screening']])),
      el('label', {}, 'Case status', select('state', [['', 'any'], ['open', 'open'], ['escalated', 'escalated'], ['pending_approval', 'pending approval'], ['snoozed', 'snoozed'], ['closed', 'closed']])),
      el('span', { class: 'hint' }, el('kbd', {}, 'j'), ' ', el('kbd', {}, 'k'), ' move · ', el('kbd', {}, 'Enter'), ' open case')),
    el('div', { class: 'split' },
      el('div', { class: 'table-wrap' }, el('table', { id: 'alerts' },
        el('thead', {}, el('tr', {}, ['Alert', 'Created', 'Source', 'Rule', 'Severity', 'Subject', 'Case'].map((h) => el('th', {}, h)))),
        el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: 7, class: 'muted' }, 'No alerts match.'))))),
      detail));
  if (rows.length) pick(0);
};

function alertDetail(a) {
  return el('div', {},
    el('h2', {}, `Alert ${a.id} · `, sev(a.severity)),
    kv([['Subject', a.subject], ['Source', a.source], ['Rule', a.rule], ['Event time', fmtTime(a.event_time)], ...(a.case === null ? [] : [['Case', `#${a.case}`]])]),
    el('h2', {}, 'Reasons'),
    el('ul', { class: 'reasons' }, a.reasons.map((r) => el('li', {}, r))),
    el('h2', {}, 'Evidence'),
    evidenceView(a.evidence),
    a.case !== null ? el('p', {}, el('button', { class: 'primary', id: 'open-case', onclick: () => { location.hash = `#/case/${a.case}`; } }, `Open case #${a.case}`)) : null);
}

function evidenceView(ev) {
  if (!ev || typeof ev !== 'object') return jsonBlock(ev);
  const parts = [];
  if (Array.isArray(ev.hits)) {
    parts.push(el('ul', { class: 'reasons' }, ev.hits.map((h) => el('li', {},
      el('strong', {}, h.rule_id || h.kind || 'hit'), ` (${h.severity || ''}, score ${h.score ?? '—'}): ${h.reason || ''}`,
      h.source ? el('div', { class: 'muted' }, h.source) : null))));
  }
  if (Array.isArray(ev.notes) && ev.notes.length) {
    parts.push(el('p', { class: 'muted' }, 'Limits of this decision:'), el('ul', { class: 'reasons muted' }, ev.notes.map((n) => el('li', {}, n))));
  }
  parts.push(el('details', {}, el('summary', {}, 'Full evidence (JSON)'), jsonBlock(ev)));
  return el('div', {}, parts);
}

// ---------------------------------------------------------------- case view

views.case = async (view, id) => {
  const c = await api('GET', `/v1/cases/${encodeURIComponent(id)}`);
  const k = c.case;
  const act = (path, body, done) => async (ev) => {
    ev.preventDefault();
    try {
      await api('POST', `/v1/cases/${k.id}/${path}`, body(ev.target));
      flash(done);
      await route();
    } catch (e) { flash(e.message, 'error'); }
  };
  const input = (name, ph) => el('input', { type: 'text', name, placeholder: ph, required: true });
  const can = (role) => state.me.role === role || state.me.role === 'admin';
  view.replaceChildren(
    el('h1', {}, `Case #${k.id} · ${k.subject} · `, el('span', { id: 'case-state' }, k.state)),
    el('div', { class: 'split' },
      el('div', {},
        el('div', { class: 'panel' }, kv([
          ['Severity', sev(k.severity)], ['Assignee', k.assignee], ['Decision', k.decision],
          ['Decision reason', k.decision_reason], ['Decided by', k.decided_by], ['Approved by', k.approved_by],
          ['Alerts', String(k.alert_count)], ['Opened', fmtTime(k.created)], ['Updated', fmtTime(k.updated)]])),
        el('h2', {}, 'Notes and evidence'),
        el('ul', { id: 'notes', class: 'trail' }, c.items.length ? c.items.map((it) => el('li', {},
          el('strong', {}, `${it.user}`), ` · ${fmtTime(it.time)} · ${it.kind}${it.label ? ` (${it.label})` : ''}: `,
          typeof it.body === 'string' ? el('span', { class: 'note-text' }, it.body) : jsonBlock(it.body))) : el('li', { class: 'muted' }, 'None yet.')),
        el('h2', {}, `Alerts (${c.alerts.length})`),
        c.alerts.map((a) => el('div', { class: 'panel' }, alertDetail({ ...a, case: null })))),
      el('div', {},
        el('div', { class: 'panel actions' },
          el('h2', {}, 'Actions'),
          el('form', { id: 'assign-form', onsubmit: act('assign', (f) => ({ user: f.user.value }), 'Assigned.') },
            input('user', 'assign to user'), el('button', { type: 'submit' }, 'Assign')),
          el('form', { id: 'note-form', onsubmit: act('notes', (f) => ({ text: f.text.value }), 'Note added.') },
            input('text', 'note'), el('button', { type: 'submit' }, 'Add note')),
          el('form', { id: 'decide-form', onsubmit: act('decide', (f) => ({ decision: f.decision.value, reason: f.reason.value }), 'Decision recorded.') },
            el('select', { name: 'decision' }, ['no_action', 'report', 'exit_relationship', 'freeze'].map((d) => el('option', { value: d }, d))),
            input('reason', 'reason'), el('button', { type: 'submit' }, 'Decide')),
          can('approver') ? el('form', { id: 'approve-form', onsubmit: act('approve', () => ({}), 'Approved.') },
            el('button', { type: 'submit', class: 'primary' }, 'Approve decision')) : null,
          can('approver') ? el('form', { id: 'reject-form', onsubmit: act('reject', (f) => ({ reason: f.reason.value }), 'Rejected.') },
            input('reason', 'why not'), el('button', { type: 'submit' }, 'Reject')) : null,
          el('p', { class: 'hint' }, 'Decisions that need four eyes wait for a different user with the approver role.'),
          el('p', {}, el('a', { href: `#/graph` }, 'Trace funds…'))),
        el('div', { class: 'panel' },
          el('h2', {}, `Audit trail (${c.trail.length})`),
          el('ol', { class: 'trail', id: 'trail' }, c.trail.map((t) => el('li', {},
            el('strong', {}, t.action), ` ${t.object} · ${t.actor} · ${fmtTime(t.time)}`,
            el('div', { class: 'muted' }, `#${t.seq} ${t.hash.slice(0, 16)}…`))))))));
};

// ---------------------------------------------------------------- fund-flow graph

const CAT_COLOURS = { sanctioned: '#c62828', scam: '#8e24aa', ransomware: '#8e24aa', darknet_market: '#8e24aa', stolen_funds: '#8e24aa', mixer: '#ef6c00', exchange: '#1565c0' };
const catColour = (c) => (c ? CAT_COLOURS[c] || '#607d8b' : '#b0bec5');

views.graph = async (view) => {
  const form = el('form', { class: 'filters', id: 'trace-form' },
    el('label', {}, 'From address', el('input', { name: 'from', size: 44, required: true, value: sessionStorage.getItem('fg_from') || '' })),
    el('label', {}, 'To address', el('input', { name: 'to', size: 44, required: true, value: sessionStorage.getItem('fg_to') || '' })),
    el('label', {}, 'Max hops', el('input', { name: 'hops', type: 'number', min: 1, max: 8, value: 3 })),
    el('button', { type: 'submit' }, 'Trace'),
    el('button', { type: 'button', id: 'export-svg' }, 'Export SVG'));
  const info = el('div', { class: 'panel', id: 'node-info' }, el('p', { class: 'muted' }, 'Trace paths between two addresses; click a node to expand one hop of its neighbours (amounts, times, risk categories) and see its exposure.'));
  const box = el('div', { id: 'cy' });
  view.replaceChildren(el('h1', {}, 'Fund flow'), form,
    el('div', { class: 'legend' }, ...[['sanctioned', 'c-sanctioned'], ['scam / darknet / stolen', 'c-scam'], ['mixer', 'c-mixer'], ['exchange', 'c-exchange'], ['other category', 'c-other'], ['no category', 'c-none'], ['transaction', 'c-tx']].map(([t, c]) => el('span', { class: c }, t))),
    el('div', { class: 'split' }, box, info));
  if (!window.cytoscape) throw new Error('the graph library did not load');
  const cy = window.cytoscape({
    container: box,
    style: [
      { selector: 'node', style: { label: 'data(label)', 'font-size': 9, 'background-color': 'data(colour)', 'text-valign': 'bottom', 'text-margin-y': 3, width: 22, height: 22, 'border-width': 1, 'border-color': '#37474f' } },
      { selector: 'node.tx', style: { shape: 'round-rectangle', width: 12, height: 12, 'background-color': '#eceff1', 'font-size': 7, color: '#78909c' } },
      { selector: 'node.end', style: { 'border-width': 3, 'border-color': '#1d2430' } },
      { selector: 'node:selected', style: { 'border-width': 3, 'border-color': '#2458c6' } },
      { selector: 'edge', style: { width: 1.5, 'curve-style': 'bezier', 'target-arrow-shape': 'triangle', 'line-color': '#90a4ae', 'target-arrow-color': '#90a4ae', label: 'data(label)', 'font-size': 7, 'text-rotation': 'none', 'text-background-color': '#fff', 'text-background-opacity': 0.8 } },
      { selector: 'edge.exposure', style: { 'line-style': 'dashed', 'line-color': 'data(colour)', 'target-arrow-color': 'data(colour)' } },
    ],
    layout: { name: 'preset' },
    maxZoom: 1.6,
    wheelSensitivity: 0.3,
  });
  window.fgGraph = cy;
  let target = '';
  const addNode = (id, isTx, extra = {}) => {
    if (cy.getElementById(id).nonempty()) return;
    const short = isTx ? `tx ${id.split(':').pop().slice(0, 8)}…` : (id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id);
    cy.add({ group: 'nodes', data: { id, label: short, colour: catColour(null), hops: 0, ...extra }, classes: isTx ? 'tx' : '' });
  };
  const addPaths = (paths) => {
    for (const p of paths) {
      for (const s of p.steps) {
        addNode(s.from, s.from_is_tx);
        addNode(s.to, s.to_is_tx);
        const eid = `${s.from}>${s.to}`;
        if (cy.getElementById(eid).empty()) {
          cy.add({ group: 'edges', data: { id: eid, source: s.from, target: s.to, label: `${fmtAmount(s.amount, s.asset)} · ${fmtTime(s.time).slice(0, 10)}`, step: s } });
        }
      }
    }
  };
  const layout = () => cy.layout({ name: 'breadthfirst', directed: true, spacingFactor: 1.1, padding: 20, animate: false }).run();
  const trace = async (from, to, hops) => api('POST', '/v1/trace/paths', { from, to, max_hops: hops, limit: 20 });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const from = form.from.value.trim();
    target = form.to.value.trim();
    sessionStorage.setItem('fg_from', from);
    sessionStorage.setItem('fg_to', target);
    try {
      cy.elements().remove();
      const { paths } = await trace(from, target, Number(form.hops.value) || 3);
      addPaths(paths);
      addNode(from, false); addNode(target, false);
      cy.getElementById(from).addClass('end'); cy.getElementById(target).addClass('end');
      layout();
      flash(`${paths.length} path(s) found.`);
    } catch (e) { flash(e.message, 'error'); }
  });
  cy.on('tap', 'edge', (ev) => {
    const s = ev.target.data('step');
    if (s) info.replaceChildren(el('h2', {}, 'Transfer'), kv([['From', s.from], ['To', s.to], ['Amount', fmtAmount(s.amount, s.asset)], ['Time', fmtTime(s.time)], ['Chain', s.chain], ['Transaction', s.txid]]));
  });
  /** One hop of real neighbours from the server (`POST /v1/trace/neighbours`). */
  const expand = async (n) => {
    const id = n.id();
    const dir = n.data('expanded') ? 'in' : 'out';
    const r = await api('POST', '/v1/trace/neighbours', { address: id, direction: dir, limit: 25 });
    n.data('expanded', (n.data('expanded') || 0) + 1);
    if (r.category) n.data('colour', catColour(r.category));
    for (const nb of r.neighbours) {
      addNode(nb.node, nb.kind === 'transaction', { colour: catColour(nb.category) });
      const [src, dst] = nb.direction === 'out' ? [id, nb.node] : [nb.node, id];
      const eid = `${src}>${dst}`;
      if (cy.getElementById(eid).empty()) {
        cy.add({ group: 'edges', data: { id: eid, source: src, target: dst, label: `${fmtAmount(nb.amount, nb.asset)} · ${fmtTime(nb.time).slice(0, 10)}`, step: { from: src, to: dst, amount: nb.amount, asset: nb.asset, time: nb.time, chain: nb.chain, txid: nb.txid } } });
      }
    }
    return { r, dir };
  };
  cy.on('tap', 'node', async (ev) => {
    const n = ev.target;
    const id = n.id();
    try {
      const { r, dir } = await expand(n);
      layout();
      const hop = el('p', { class: 'muted', id: 'hop-info' }, `Expanded one hop ${dir === 'out' ? 'out (where funds went)' : 'in (where funds came from)'}: ${r.neighbours.length} of ${r.total_edges} edge(s)${r.truncated ? ', largest first' : ''}. Click again for the ${dir === 'out' ? 'incoming' : 'outgoing'} side.`);
      const list = el('ul', { class: 'reasons' }, r.neighbours.slice(0, 10).map((nb) => el('li', {},
        el('strong', {}, nb.category || (nb.kind === 'transaction' ? 'transaction' : 'untagged')), ` ${fmtAmount(nb.amount, nb.asset)} ${nb.direction === 'out' ? '→' : '←'} ${nb.node}`, nb.labels.length ? ` (${nb.labels.join(', ')})` : '')));
      if (n.hasClass('tx')) { info.replaceChildren(el('h2', {}, 'Transaction'), el('p', {}, id), hop, list); return; }
      let exposure = el('p', { class: 'muted' }, 'No exposure data for this address.');
      try {
        const { reports } = await api('POST', '/v1/trace/exposure', { target: id, hops: 3 });
        if (reports.length) {
          const cats = reports.flatMap((x) => x.categories);
          if (cats.length && !r.category) n.data('colour', catColour(cats[0].category));
          exposure = el('div', {}, reports.map((x) => el('div', {},
            el('h2', {}, `Exposure (${x.asset}, ${x.direction}, ${x.model}, ${x.hops} hops)`),
            kv([['Total', fmtAmount(x.total, x.asset)], ['Untraced', fmtAmount(x.untraced, x.asset)]]),
            x.categories.length ? el('ul', { class: 'reasons' }, x.categories.map((c) => el('li', {},
              el('strong', {}, c.category), ` ${fmtAmount(c.value, x.asset)} (${(c.share * 100).toFixed(1)}%), from hop ${c.min_hops}`))) : el('p', { class: 'muted' }, 'No tagged category reached within the hop limit.'))));
        }
      } catch (e) { exposure = el('p', { class: 'muted' }, `Exposure: ${e.message}`); }
      info.replaceChildren(el('h2', {}, 'Address'), el('p', {}, id), r.category ? el('p', {}, el('strong', {}, r.category)) : '', hop, list, exposure);
    } catch (e) { flash(e.message, 'error'); }
  });
  $('#export-svg').addEventListener('click', () => {
    const svg = graphSvg(cy);
    const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
    const a = el('a', { href: url, download: 'floodgate-trace.svg' });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });
  cleanup = () => { cy.destroy(); delete window.fgGraph; };
  if (form.from.value && form.to.value) form.requestSubmit();
};

/** The graph as SVG text (positions from the layout; labels are text nodes, so escaped). */
function graphSvg(cy) {
  const NS = 'http://www.w3.org/2000/svg';
  const bb = cy.elements().boundingBox();
  const svg = document.createElementNS(NS, 'svg');
  const pad = 20;
  svg.setAttribute('xmlns', NS);
  svg.setAttribute('viewBox', `${bb.x1 - pad} ${bb.y1 - pad} ${bb.w + 2 * pad} ${bb.h + 2 * pad}`);
  svg.setAttribute('font-family', 'sans-serif');
  const mk = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.append(e);
  };
  cy.edges().forEach((e) => {
    const s = e.source().position(); const t = e.target().position();
    mk('line', { x1: s.x, y1: s.y, x2: t.x, y2: t.y, stroke: e.hasClass('exposure') ? e.data('colour') : '#90a4ae', 'stroke-width': 1.5, 'stroke-dasharray': e.hasClass('exposure') ? '4 3' : 'none' });
    mk('text', { x: (s.x + t.x) / 2, y: (s.y + t.y) / 2 - 3, 'font-size': 7, 'text-anchor': 'middle', fill: '#37474f' }, e.data('label'));
  });
  cy.nodes().forEach((n) => {
    const p = n.position();
    if (n.hasClass('tx')) mk('rect', { x: p.x - 6, y: p.y - 6, width: 12, height: 12, rx: 2, fill: '#eceff1', stroke: '#37474f' });
    else mk('circle', { cx: p.x, cy: p.y, r: 11, fill: n.data('colour'), stroke: '#37474f' });
    mk('text', { x: p.x, y: p.y + 22, 'font-size': 9, 'text-anchor': 'middle' }, n.data('label'));
  });
  return new XMLSerializer().serializeToString(svg);
}

// ---------------------------------------------------------------- screening

views.screen = async (view) => {
  const out = el('div', { id: 'screen-results' });
  const form = el('form', { class: 'filters', id: 'screen-form' },
    el('label', {}, 'Name', el('input', { name: 'name', size: 40, required: true, autofocus: true })),
    el('label', {}, 'Type', el('select', { name: 'type' }, ['', 'person', 'organization', 'vessel', 'aircraft'].map((t) => el('option', { value: t }, t || 'any')))),
    el('label', {}, 'Birth / incorporation', el('input', { name: 'dob', placeholder: 'YYYY[-MM[-DD]]', size: 12 })),
    el('label', {}, el('span', {}, 'Record alerts'), el('input', { name: 'record', type: 'checkbox' })),
    el('button', { type: 'submit' }, 'Screen'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { name: form.name.value, record_alerts: form.record.checked };
    if (form.type.value) body.entity_type = form.type.value;
    if (form.dob.value) body.dob = form.dob.value;
    try {
      const r = await api('POST', '/v1/screen/name', body);
      out.replaceChildren(
        el('p', { class: 'muted' }, `Threshold ${r.threshold}; lists: ${r.lists.length ? r.lists.map((l) => (typeof l === 'string' ? l : `${l.list || l.name || ''} ${l.version || ''}`.trim())).join(', ') : 'none loaded'}; alerts recorded: ${r.alerts_recorded}`),
        el('div', {}, r.hits.length ? r.hits.map((h, i) => el('div', { class: 'panel hit' },
          el('h2', {}, `${i + 1}. ${h.name || h.matched_name || h.entity_name || 'hit'}${h.score !== undefined ? ` · score ${h.score}` : ''}`),
          kv(Object.entries(h).filter(([, v]) => v === null || typeof v !== 'object').map(([k, v]) => [k, String(v)])),
          Object.entries(h).filter(([, v]) => v !== null && typeof v === 'object').map(([k, v]) => el('details', {}, el('summary', {}, k), jsonBlock(v))))) : el('p', {}, 'No hits above the threshold.')));
    } catch (e) { flash(e.message, 'error'); }
  });
  view.replaceChildren(el('h1', {}, 'Screening'), form, out);
};

// ---------------------------------------------------------------- reports

views.reports = async (view) => {
  const { reports } = await api('GET', '/v1/reports');
  const now = Date.now() / 1000;
  const left = (due) => {
    const h = Math.round((due - now) / 3600);
    const span = Math.abs(h) >= 48 ? `${Math.round(Math.abs(h) / 24)} days` : `${Math.abs(h)} h`;
    return h >= 0 ? `in ${span}` : `${span} late`;
  };
  view.replaceChildren(el('h1', {}, `Reports (${reports.length})`),
    el('table', { id: 'reports' },
      el('thead', {}, el('tr', {}, ['Report', 'Kind', 'Subjects', 'Status', 'Due', 'Deadline rule'].map((h) => el('th', {}, h)))),
      el('tbody', {}, reports.length ? reports.map(({ status, report: r }) => el('tr', {},
        el('td', {}, `#${r.id}`), el('td', {}, r.kind), el('td', {}, r.subject_ids.join(', ')),
        el('td', { class: status }, status),
        el('td', {}, `${fmtTime(r.due_time)} `, status === 'filed' ? '' : el('span', { class: status }, `(${left(r.due_time)})`)),
        el('td', { class: 'muted' }, (r.reason && r.reason.deadline && r.reason.deadline.rule) || ''))) : el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'No reports due.')))));
};

// ---------------------------------------------------------------- supervisor

views.supervisor = async (view) => {
  const s = await api('GET', '/v1/supervisor/summary');
  const render = (v) => {
    if (Array.isArray(v)) {
      if (v.length && v.every((x) => x && typeof x === 'object' && !Array.isArray(x))) {
        const cols = [...new Set(v.flatMap(Object.keys))];
        return el('table', {}, el('thead', {}, el('tr', {}, cols.map((c) => el('th', {}, c)))),
          el('tbody', {}, v.map((row) => el('tr', {}, cols.map((c) => el('td', {}, row[c] !== null && typeof row[c] === 'object' ? render(row[c]) : String(row[c] ?? '—')))))));
      }
      return el('span', {}, v.map(String).join(', ') || '—');
    }
    if (v && typeof v === 'object') return kv(Object.entries(v).map(([k, x]) => [k, x !== null && typeof x === 'object' ? render(x) : String(x)]));
    return String(v);
  };
  const timeliness = el('table', { id: 'timeliness' },
    el('thead', {}, el('tr', {}, ['VASP', 'Filed on time', 'Filed late', 'Missing (deadline passed)', 'Pending'].map((c) => el('th', {}, c)))),
    el('tbody', {}, s.tenants.map((t) => el('tr', {},
      el('td', {}, t.tenant),
      el('td', {}, String(t.cases.reports_on_time)),
      el('td', { class: t.cases.reports_late ? 'overdue' : '' }, String(t.cases.reports_late)),
      el('td', { class: t.cases.reports_missing ? 'overdue' : '' }, String(t.cases.reports_missing)),
      el('td', {}, String(t.cases.reports_pending))))));
  view.replaceChildren(el('h1', {}, 'Supervisor summary'), el('p', { class: 'muted' }, 'Aggregates only: counts and sums per tenant, no customer data.'),
    el('h2', {}, 'Report timeliness'), el('div', { class: 'panel' }, timeliness),
    el('h2', {}, 'All aggregates'), el('div', { class: 'panel', id: 'summary' }, render(s)));
};

// ---------------------------------------------------------------- start

(async () => {
  try {
    const me = await api('GET', '/v1/session');
    if (me && state.csrf) signedIn(me); else showLogin();
  } catch { showLogin(); }
})();
