/* Supervisor view of the agent console: agents and their load, every conversation waiting or
 * with an agent, and reassigning any of them (routes: GET /api/agents,
 * GET /api/supervisor/conversations, POST /api/conversations/{id}/reassign).
 *
 * Built on window.HandoffConsole (core.js: C.onFrame, C.onStart, C.open); texts go in with textContent only.
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var t = window.HandoffI18n.t;
  var el = C.el;
  var REFRESH_DELAY_MS = 250;   // frames come in bursts (a claim sends two): reload once
  var TICK_MS = 15000;          // SLA timers move even when nothing happens
  var PRESENCE_ORDER = { online: 0, away: 1, offline: 2 };
  // Frames after which the view's figures may have changed.
  var RELOAD_ON = { 'conversation.state': true, 'agent.presence': true, 'ticket.queued': true,
    'ticket.removed': true };

  var view = { shown: false, agents: [], held: [], queue: [], timer: null, seq: 0, busy: {} };

  function $(id) { return document.getElementById(id); }

  function setShown(on) {
    view.shown = on;
    $('app-view').classList.toggle('supervising', on);
    $('supervisor-view').hidden = !on;
    var b = $('supervisor-toggle');
    b.setAttribute('aria-pressed', on ? 'true' : 'false');
    b.textContent = t(on ? 'sup.back' : 'sup.toggle');
    if (on) load();
  }

  function load() {
    var seq = ++view.seq;
    return Promise.all([C.call('GET', '/api/agents'), C.call('GET', '/api/supervisor/conversations'),
      C.call('GET', '/api/queue')])
      .then(function (r) {
        if (seq !== view.seq) return;   // a later reload is on its way
        view.agents = Array.isArray(r[0].agents) ? r[0].agents : [];
        view.held = Array.isArray(r[1].conversations) ? r[1].conversations : [];
        view.queue = Array.isArray(r[2].tickets) ? r[2].tickets : [];
        render();
      }).catch(function (err) {
        if (err.status !== 401) C.notify(err.message, 'error', err.code);
      });
  }

  function reloadSoon() {
    if (!view.shown) return;
    clearTimeout(view.timer);
    view.timer = setTimeout(load, REFRESH_DELAY_MS);
  }

  function byPresence(a, b) {
    var pa = PRESENCE_ORDER[a.presence] != null ? PRESENCE_ORDER[a.presence] : 3;
    var pb = PRESENCE_ORDER[b.presence] != null ? PRESENCE_ORDER[b.presence] : 3;
    return pa - pb || String(a.name || a.username).localeCompare(String(b.name || b.username));
  }

  function render() {
    renderAgents();
    renderQueue();
    renderHeld();
  }

  function cell(content, attrs) { return el('td', attrs || null, [content]); }

  /* Set through the CSSOM: the page's Content-Security-Policy refuses style attributes. */
  function barFill(pct) {
    var fill = el('span', { class: 'bar-fill' });
    fill.style.width = pct + '%';
    return fill;
  }

  /* The first-reply SLA of a conversation (handoff/service/jobs/sla.py), as a tag. */
  function slaCell(sla) {
    if (!sla) return cell(el('span', { text: '—' }));
    var seconds = sla.state === 'met' || sla.state === 'missed' ? sla.first_reply_after : Math.abs(sla.seconds_left);
    return cell(el('span', { class: 'tag sla sla-' + sla.state, 'data-testid': 'sup-sla', 'data-sla': sla.state,
      text: t('sla.' + sla.state, { time: C.fmtDuration(seconds || 0) }) }));
  }

  function heldBy(username) {
    return view.held.filter(function (c) { return c.agent === username; });
  }

  function renderAgents() {
    var body = $('sup-agents');
    C.clear(body);
    view.agents.slice().sort(byPresence).forEach(function (a) {
      var p = a.presence || 'offline';
      var max = a.max_conversations || 1;
      var load = a.load || 0;
      var full = load >= max;
      var teams = (a.teams || []).map(C.teamLabel).join(', ') || t('sup.noTeam');
      var holding = el('div', { class: 'sup-holding' }, heldBy(a.username).map(function (c) {
        var link = el('button', { type: 'button', class: 'linklike', 'data-testid': 'sup-held-link',
          'data-conversation-id': c.id, text: C.customerTitle(c) });
        link.addEventListener('click', function () { openFromView(c.id); });
        return link;
      }));
      body.appendChild(el('tr', { 'data-testid': 'sup-agent', 'data-agent': a.username, 'data-presence': p,
        'data-load': String(load) }, [
        cell(el('span', {}, [
          el('span', { class: 'presence-dot presence-' + p, 'aria-hidden': 'true' }), ' ',
          el('strong', { text: a.name || a.username }),
          a.role === 'supervisor' ? el('span', { class: 'muted small', text: ' · ' + t('sup.supervisor') }) : null
        ])),
        cell(el('span', { text: teams })),
        cell(el('span', { 'data-testid': 'sup-presence', text: C.label('presence', p) })),
        cell(el('div', { class: 'sup-load' + (full ? ' sup-load-full' : '') }, [
          el('span', { class: 'bar' }, [barFill(Math.min(100, Math.round(100 * load / max)))]),
          el('span', { 'data-testid': 'sup-load', text: t('sup.loadOf', { load: load, max: max }) })
        ])),
        cell(holding)
      ]));
    });
  }

  /* A select of agents to give a conversation to, and its button. */
  function giveTo(conv, buttonKey) {
    var sel = el('select', { 'data-testid': 'sup-target', 'aria-label': t('sup.action') }, [
      el('option', { value: '', text: t('sup.pick') })
    ]);
    view.agents.slice().sort(byPresence).forEach(function (a) {
      if (a.username === conv.agent) return;
      sel.appendChild(el('option', { value: a.username, text: t('sup.agentOption', {
        name: a.name || a.username, presence: C.label('presence', a.presence || 'offline'),
        load: a.load || 0, max: a.max_conversations || '?' }) }));
    });
    var button = el('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'sup-give',
      text: t(buttonKey) });
    button.disabled = !!view.busy[conv.id];
    button.addEventListener('click', function () {
      if (sel.value) reassign(conv, sel.value, button);
      else sel.focus();
    });
    return el('div', { class: 'sup-give' }, [sel, button]);
  }

  function reassign(conv, to, button) {
    var target = null;
    view.agents.forEach(function (a) { if (a.username === to) target = a; });
    view.busy[conv.id] = true;
    button.disabled = true;
    C.call('POST', '/api/conversations/' + C.enc(conv.id) + '/reassign', { to: to, note: '' }).then(function () {
      delete view.busy[conv.id];
      C.notify(t('sup.done', { name: target ? (target.name || target.username) : to }), 'info');
      load();
    }).catch(function (err) {
      delete view.busy[conv.id];
      button.disabled = false;
      if (err.status !== 401) C.notify(err.message, 'error', err.code);
      load();
    });
  }

  function openButton(id) {
    var b = el('button', { type: 'button', class: 'btn btn-small', text: t('sup.open') });
    b.addEventListener('click', function () { openFromView(id); });
    return b;
  }

  function openFromView(id) {
    setShown(false);
    C.open(id);
  }

  /* Search, filters, sorting and paging (lists.js), one set per table. */
  var controls = {};
  function listControls(id, view_, tableId) {
    if (!controls[id]) {
      var table = $(tableId).parentNode;
      controls[id] = window.HandoffLists.controls({ id: id, t: t, label: C.label, team: C.teamLabel,
        view: view_, onChange: render, list: table });
      table.parentNode.insertBefore(controls[id].node, table);
      table.parentNode.insertBefore(controls[id].pager, table.nextSibling);
    }
    return controls[id];
  }

  function queuedView(ticket) {
    return { ticket: ticket, team: ticket.team, sla: ticket.sla, created_at: ticket.created_at };
  }

  function heldView(conv) {
    var ticket = conv.ticket || {};
    return { ticket: ticket, id: conv.id, agent: conv.agent_name || conv.agent, team: conv.team,
      sla: conv.sla, created_at: ticket.created_at };
  }

  function renderQueue() {
    var body = $('sup-queue');
    C.clear(body);
    var tools = listControls('sup-queue', queuedView, 'sup-queue');
    var page = tools.apply(view.queue);  // with SLAs
    $('sup-queue-empty').hidden = view.queue.length > 0;
    tools.node.hidden = view.queue.length === 0;   // nothing to search
    page.items.forEach(function (ticket) {
      var conv = { id: ticket.conversation_id, ticket: ticket, agent: null };
      body.appendChild(el('tr', { 'data-testid': 'sup-queued', 'data-conversation-id': conv.id }, [
        cell(el('strong', { text: C.customerTitle(conv) })),
        cell(el('span', { text: C.label('reason', ticket.reason) })),
        cell(el('span', { class: 'wait', 'data-created-at': ticket.created_at, text: C.waitingText(ticket.created_at) })),
        cell(el('span', { text: ticket.team ? C.teamLabel(ticket.team) : t('sup.allTeams') })),
        slaCell(ticket.sla),
        cell(el('span', { class: 'sup-summary', text: C.firstLine(C.summaryOf(ticket)) })),
        cell(el('div', { class: 'sup-actions' }, [giveTo(conv, 'sup.assign'), openButton(conv.id)]))
      ]));
    });
  }

  function renderHeld() {
    var body = $('sup-held');
    C.clear(body);
    var tools = listControls('sup-held', heldView, 'sup-held');
    var page = tools.apply(view.held);
    $('sup-held-empty').hidden = view.held.length > 0;
    tools.node.hidden = view.held.length === 0;
    page.items.forEach(function (conv) {
      body.appendChild(el('tr', { 'data-testid': 'sup-held', 'data-conversation-id': conv.id,
        'data-agent': conv.agent || '' }, [
        cell(el('strong', { text: C.customerTitle(conv) })),
        cell(el('span', { text: C.label('reason', conv.ticket && conv.ticket.reason) })),
        cell(el('span', { text: conv.agent_name || conv.agent || '' })),
        cell(el('span', { class: 'tag tag-state tag-state-' + conv.state, text: C.label('state', conv.state) })),
        slaCell(conv.sla),
        cell(el('span', { class: 'sup-summary', text: C.firstLine(C.summaryOf(conv.ticket)) })),
        cell(el('div', { class: 'sup-actions' }, [giveTo(conv, 'sup.reassign'), openButton(conv.id)]))
      ]));
    });
  }

  function init() {
    var toggle = $('supervisor-toggle');
    toggle.addEventListener('click', function () { setShown(!view.shown); });
    C.onStart(function (me) {
      toggle.hidden = !(me && me.role === 'supervisor');
      $('dashboard-link').hidden = toggle.hidden;  // the dashboard page, for supervisors
      if (toggle.hidden) setShown(false);
    });
    C.onStop(function () {
      toggle.hidden = true;
      $('dashboard-link').hidden = true;
      setShown(false);
      view.agents = [];
      view.held = [];
      view.queue = [];
    });
    setInterval(function () { if (view.shown) load(); }, TICK_MS);
    C.onFrame(function (f) {
      if (!view.shown) return;
      if (RELOAD_ON[f.type]) reloadSoon();
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
