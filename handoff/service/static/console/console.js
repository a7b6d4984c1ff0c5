/* Agent console: plain JS, no build step, talks only to the routes of docs/agent-api.md.
 *
 * Safety rule: every text that comes from a customer, the bot, a ticket or the server is put in
 * the page with textContent (the el() helper below), never with innerHTML.
 */
(function () {
  'use strict';

  var I18N = window.HandoffI18n;
  var t = I18N.t;
  var lang = I18N.lang;

  var MAX_MESSAGE = 4000;
  var PING_EVERY_MS = 20000;
  var DEAD_AFTER_MS = 50000;
  var WAIT_REFRESH_MS = 5000;
  var OWNED_STATES = { assigned: true, transferred: true };
  var TYPING_EVERY_MS = 3000;     // resend "typing" at most this often while the agent types
  var TYPING_IDLE_MS = 5000;      // "stopped typing" after this long without a keystroke
  var TYPING_SHOW_MS = 8000;      // hide "Customer is typing…" after this long without news
  var CANNED_DELAY_MS = 120;
  var RESOLUTIONS = ['resolved', 'not_resolved', 'no_answer', 'duplicate'];

  var state = {
    me: null,               // {username, name, role}
    queue: [],              // tickets, first in line first
    mine: [],               // conversations assigned to me (no transcript)
    flows: [],              // hand-back flows
    openId: null,           // id of the conversation in the middle pane
    openConv: null,         // its Conversation object
    openGen: 0,             // guards against late answers for a conversation no longer open
    shownIds: {},           // turn id -> true, for the open conversation
    pending: {},            // client_id -> {clientId, convId, text, el, messageId, status}
    unread: {},             // conversation id -> count of turns received while not open
    ws: null,
    wsWanted: false,
    wsAttempt: 0,
    wsTimer: null,
    pingTimer: null,
    lastFrameAt: 0,
    busy: false,            // an action on the open conversation is running
    shownNotes: {},         // note id -> true, for the open conversation
    lastNote: {},           // conversation id -> its latest note (shown on transferred items)
    drafts: {},             // conversation id -> {text, note}: what was in the reply box
    noteMode: false,        // the reply box writes an internal note
    moveTargets: { web: true },  // GET /api/moves: channels a conversation can move to
    presence: null,         // 'online' | 'away', mine
    agents: [],             // GET /api/agents, for transfers
    teams: [],              // GET /api/teams: [{id, label: {en, fr}, members, online}]
    typingOut: { convId: null, active: false, lastSent: 0, idle: null },
    typingInTimer: null,
    canned: { open: false, dismissed: false, items: [], active: 0, seq: 0, timer: null,
      loading: false, enterPending: false }
  };

  /* ------------------------------------------------------------------ helpers */

  function $(id) { return document.getElementById(id); }

  /* el('div', {class: 'x', 'data-testid': 'y'}, [children or strings]) — strings become text nodes. */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v == null || v === false) return;
        if (k === 'text') node.textContent = String(v);
        else if (k === 'class') node.className = v;
        else if (k === 'hidden') node.hidden = true;
        else node.setAttribute(k, v === true ? '' : String(v));
      });
    }
    (children || []).forEach(function (c) {
      if (c == null || c === false) return;
      node.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    });
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function enc(s) { return encodeURIComponent(s); }

  function newClientId() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    var a = new Uint8Array(16);
    window.crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }

  function label(prefix, value) {
    if (value == null || value === '') return '—';
    return I18N.has(prefix + '.' + value) ? t(prefix + '.' + value) : String(value);
  }

  function toDate(ts) {
    if (ts == null || ts === '') return null;
    var n = typeof ts === 'number' ? ts : Number(ts);
    var d = isNaN(n) ? new Date(ts) : new Date(n < 1e12 ? n * 1000 : n);
    return isNaN(d.getTime()) ? null : d;
  }

  var timeFmt = new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit' });
  var dateTimeFmt = new Intl.DateTimeFormat(lang, {
    day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit'
  });

  function fmtTime(ts) {
    var d = toDate(ts);
    if (!d) return '';
    var now = new Date();
    return d.toDateString() === now.toDateString() ? timeFmt.format(d) : dateTimeFmt.format(d);
  }

  function fmtDuration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return seconds + ' s';
    var m = Math.floor(seconds / 60);
    if (m < 60) return m + ' min';
    var h = Math.floor(m / 60);
    var mm = m % 60;
    return h + ' h ' + (mm < 10 ? '0' : '') + mm;
  }

  function waitingText(createdAt) {
    var d = toDate(createdAt);
    if (!d) return '';
    return t('queue.waiting', { time: fmtDuration((Date.now() - d.getTime()) / 1000) });
  }

  function summaryOf(ticket) {
    if (!ticket) return '';
    if (lang === 'fr' && ticket.summary_fr) return ticket.summary_fr;
    return ticket.summary || '';
  }

  function firstLine(s) {
    s = String(s || '').trim();
    var i = s.indexOf('\n');
    return i >= 0 ? s.slice(0, i) : s;
  }

  function shortId(id) {
    id = String(id || '');
    return id.length > 8 ? '…' + id.slice(-6) : id;
  }

  function customerTitle(conv) {
    var ticket = conv && conv.ticket;
    var c = ticket && ticket.customer;
    if (c && c.name) return c.name;
    return t('conv.customer') + ' ' + shortId(conv && (conv.id || conv.conversation_id));
  }

  function teamLabel(id) {
    for (var i = 0; i < state.teams.length; i++) {
      var team = state.teams[i];
      if (team.id === id) return (team.label && (team.label[lang] || team.label.en)) || id;
    }
    return id;
  }

  function loadTeams() {
    return call('GET', '/api/teams').then(function (d) {
      state.teams = Array.isArray(d.teams) ? d.teams : [];
    }).catch(function () { /* team labels fall back to their ids */ });
  }

  function agentUsername(a) {
    if (a == null) return null;
    if (typeof a === 'object') return a.username || null;
    return String(a);
  }

  function isMine(conv) {
    return !!(conv && state.me && OWNED_STATES[conv.state] &&
      agentUsername(conv.agent) === state.me.username);
  }

  function safeUrl(url) {
    try {
      var u = new URL(String(url), location.href);
      return (u.protocol === 'http:' || u.protocol === 'https:') ? u.href : null;
    } catch (e) { return null; }
  }

  /* ------------------------------------------------------------------ notices */

  var MAX_NOTICES = 3;

  function notify(message, kind, code) {
    var box = $('notices');
    var n = el('div', { class: 'notice notice-' + (kind || 'error'), role: kind === 'info' ? 'status' : 'alert',
      'data-testid': 'notice', 'data-kind': kind || 'error', 'data-code': code || null }, [
      el('span', { class: 'notice-text', text: message }),
      el('button', { type: 'button', class: 'notice-close', 'aria-label': t('dismiss'), text: '×' })
    ]);
    n.querySelector('button').addEventListener('click', function () { n.remove(); });
    box.appendChild(n);
    var life = code === 'ticket_queued' ? 10000 : (kind === 'info' ? 4000 : (code === 'limit_reached' ? 15000 : 9000));
    setTimeout(function () { n.remove(); }, life);
    while (box.children.length > MAX_NOTICES) box.removeChild(box.firstChild);
    return n;
  }

  /* New conversations at volume: one notice that counts them, not one per conversation. */
  var queuedNotice = { node: null, count: 0, timer: null };
  function notifyQueued() {
    var q = queuedNotice;
    if (!q.node || !q.node.isConnected) {
      q.count = 0;
      q.node = notify(t('queue.new'), 'info', 'ticket_queued');
    }
    q.count += 1;
    if (q.count > 1) q.node.querySelector('.notice-text').textContent = t('queue.newMany', { count: q.count });
  }

  /* ------------------------------------------------------------------ HTTP */

  function api(method, path, body) {
    var opts = {
      method: method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { 'Accept': 'application/json', 'Accept-Language': lang }
    };
    if (method !== 'GET') {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body || {});
    }
    return fetch(path, opts).then(function (res) {
      return res.text().then(function (txt) {
        var data = null;
        try { data = txt ? JSON.parse(txt) : {}; } catch (e) { data = null; }
        if (res.ok) return data || {};
        var e2 = data && data.error;
        var err = new Error((e2 && e2.message) || t('error.http', { status: res.status }));
        err.status = res.status;
        err.code = (e2 && e2.code) || ('http_' + res.status);
        throw err;
      });
    }, function () {
      var err = new Error(t('error.network'));
      err.status = 0;
      err.code = 'network';
      throw err;
    });
  }

  /* api() for a signed-in agent: a 401 sends the agent back to the sign-in form. */
  function call(method, path, body) {
    return api(method, path, body).catch(function (err) {
      if (err.status === 401 && state.me) {
        signedOut(t('login.expired'));
      }
      throw err;
    });
  }

  /* ------------------------------------------------------------------ sign-in / out */

  function showLogin(message) {
    $('app-view').hidden = true;
    $('login-view').hidden = false;
    $('logout').hidden = true;
    $('me-name').hidden = true;
    document.querySelector('[data-testid="connection-status"]').hidden = true;
    var errBox = $('login-error');
    if (message) { errBox.textContent = message; errBox.hidden = false; } else { errBox.hidden = true; }
    var submit = $('login-submit');
    submit.disabled = false;
    submit.textContent = t('login.submit');
    $('login-password').value = '';
    ($('login-username').value ? $('login-password') : $('login-username')).focus();
    document.title = t('console.title');
  }

  function resetState() {
    stopWs();
    state.me = null;
    state.queue = [];
    state.mine = [];
    state.openId = null;
    state.openConv = null;
    state.openGen++;
    state.shownIds = {};
    state.pending = {};
    state.unread = {};
    state.shownNotes = {};
    state.lastNote = {};
    state.drafts = {};
    state.agents = [];
    state.teams = [];
    state.presence = null;
    state.typingOut.active = false;
    clearTimeout(state.typingOut.idle);
    $('reply-input').value = '';
    setNoteMode(false);
    closeCanned();
    hideTransferPanel();
    showCustomerTyping(false);
    $('presence-toggle').hidden = true;
    renderQueue();
    renderMine();
    renderConversation();
  }

  function signedOut(message) {
    stopHooks.forEach(function (fn) { fn(); });
    resetState();
    showLogin(message);
  }

  function onLoginSubmit(ev) {
    ev.preventDefault();
    var username = $('login-username').value.trim();
    var password = $('login-password').value;
    var errBox = $('login-error');
    var submit = $('login-submit');
    errBox.hidden = true;
    submit.disabled = true;
    submit.textContent = t('login.submitting');
    api('POST', '/api/login', { username: username, password: password }).then(function (data) {
      startApp(data.agent);
    }).catch(function (err) {
      errBox.textContent = err.message;
      errBox.hidden = false;
      submit.disabled = false;
      submit.textContent = t('login.submit');
      $('login-password').select();
    });
  }

  function onLogout() {
    var btn = $('logout');
    btn.disabled = true;
    state.wsWanted = false;
    api('POST', '/api/logout', {}).catch(function () { /* signed out locally anyway */ }).then(function () {
      btn.disabled = false;
      signedOut(null);
    });
  }

  function startApp(agent) {
    state.me = agent || null;
    $('login-view').hidden = true;
    $('app-view').hidden = false;
    $('logout').hidden = false;
    var me = $('me-name');
    me.textContent = agent ? (agent.name || agent.username) : '';
    me.hidden = !agent;
    document.querySelector('[data-testid="connection-status"]').hidden = false;
    loadFlows();
    loadMoveTargets();
    loadTeams().then(renderQueue);
    loadLists();
    loadPresence();
    connectWs();
    startHooks.forEach(function (fn) { fn(state.me); });
  }

  /* ------------------------------------------------------------------ loading */

  function loadLists() {
    var p1 = call('GET', '/api/queue').then(function (d) {
      state.queue = Array.isArray(d.tickets) ? d.tickets : [];
      renderQueue();
    });
    var p2 = call('GET', '/api/conversations').then(function (d) {
      state.mine = Array.isArray(d.conversations) ? d.conversations : [];
      renderMine();
      loadTransferNotes();
    });
    return Promise.all([p1, p2]).catch(function (err) {
      if (err.status !== 401) notify(err.message);
    });
  }

  function refreshMine() {
    return call('GET', '/api/conversations').then(function (d) {
      state.mine = Array.isArray(d.conversations) ? d.conversations : [];
      renderMine();
      loadTransferNotes();
    }).catch(function (err) { if (err.status !== 401) notify(err.message); });
  }

  var FALLBACK_FLOWS = [
    { id: 'anything_else', label: { en: 'Ask whether there is anything else', fr: 'Demander s’il y a autre chose' } },
    { id: 'satisfaction', label: { en: 'Satisfaction survey', fr: 'Enquête de satisfaction' } }
  ];

  function loadMoveTargets() {
    call('GET', '/api/moves').then(function (d) {
      state.moveTargets = (d && d.targets) || { web: true };
      renderConvHeader();
    }).catch(function () { /* kept as they were: the server refuses a move it cannot make */ });
  }

  function loadFlows() {
    call('GET', '/api/flows').then(function (d) {
      state.flows = Array.isArray(d.flows) ? d.flows : FALLBACK_FLOWS;
      renderFlows();
    }).catch(function () {
      state.flows = FALLBACK_FLOWS;
      renderFlows();
    });
  }

  function renderFlows() {
    var sel = $('handback-flow');
    var previous = sel.value;
    clear(sel);
    sel.appendChild(el('option', { value: '', text: t('handback.none') }));
    state.flows.forEach(function (f) {
      if (!f || f.id == null || f.id === '' || f.id === 'none') return;
      var l = f.label;
      var text = typeof l === 'string' ? l : (l && (l[lang] || l.en || l.fr)) || f.id;
      sel.appendChild(el('option', { value: f.id, text: text }));
    });
    sel.value = previous;
    if (sel.selectedIndex < 0) sel.selectedIndex = 0;
  }

  /* ------------------------------------------------------------------ queue */

  function ticketConvId(ticket) { return ticket && ticket.conversation_id; }

  // Search, filters, sorting and paging (lists.js): a queue of hundreds stays workable.
  var queueControls = null;

  function queueView(ticket) {
    return { ticket: ticket, team: ticket.team, sla: ticket.sla, created_at: ticket.created_at };
  }

  function renderQueue() {
    if (!queueControls) {
      queueControls = window.HandoffLists.controls({ id: 'queue', t: t, label: label, team: teamLabel,
        view: queueView, onChange: renderQueue });
      $('queue-controls').appendChild(queueControls.node);
      $('queue-pager-slot').appendChild(queueControls.pager);
    }
    var list = $('queue-list');
    clear(list);
    var page = queueControls.apply(state.queue);
    page.items.forEach(function (ticket) { list.appendChild(renderQueueItem(ticket)); });
    $('queue-count').textContent = String(state.queue.length);
    $('queue-empty').hidden = state.queue.length > 0;
    $('queue-nomatch').hidden = !(state.queue.length > 0 && page.matched === 0);
    queueControls.node.hidden = state.queue.length < 2;
    updateTitle();
  }

  function renderQueueItem(ticket) {
    var id = ticketConvId(ticket);
    var claim = el('button', { type: 'button', class: 'btn btn-primary btn-small', 'data-testid': 'claim-button',
      'data-conversation-id': id, text: t('queue.claim') });
    claim.addEventListener('click', function (ev) { ev.stopPropagation(); claimConversation(id, claim); });

    var tags = el('div', { class: 'item-tags' }, [
      el('span', { class: 'tag tag-reason tag-reason-' + (ticket.reason || 'unknown'), 'data-testid': 'queue-reason',
        text: label('reason', ticket.reason) }),
      ticket.priority > 0 ? el('span', { class: 'tag tag-priority', title: (ticket.priority_reasons || [])
        .map(function (r) { return label('why', r); }).join(', '), text: t('queue.priority') }) : null,
      ticket.follow_up ? el('span', { class: 'tag tag-followup', 'data-testid': 'queue-followup',
        text: label('followup', ticket.follow_up) }) : null,
      el('span', { class: 'tag', title: label('lang', ticket.language),
        text: String(ticket.language || '?').toUpperCase() }),
      el('span', { class: 'tag', text: label('channel', ticket.channel) }),
      ticket.team ? el('span', { class: 'tag tag-team', 'data-testid': 'queue-team',
        title: t('queue.team', { team: teamLabel(ticket.team) }), text: teamLabel(ticket.team) }) : null,
      // Supervisors see at a glance which tickets are about to miss their first-reply target.
      isSupervisor() && ticket.sla && (ticket.sla.state === 'near' || ticket.sla.state === 'breached')
        ? el('span', { class: 'tag sla sla-' + ticket.sla.state, 'data-testid': 'queue-sla',
          text: t('sla.' + ticket.sla.state, { time: fmtDuration(Math.abs(ticket.sla.seconds_left)) }) }) : null
    ]);
    var li = el('li', {
      class: 'item queue-item' + (id === state.openId ? ' selected' : ''),
      'data-testid': 'queue-item', 'data-conversation-id': id, tabindex: '0'
    }, [
      el('div', { class: 'item-head' }, [
        el('span', { class: 'item-title', text: customerTitle({ id: id, ticket: ticket }) }),
        el('span', { class: 'wait', 'data-testid': 'queue-wait', 'data-created-at': ticket.created_at,
          text: waitingText(ticket.created_at) })
      ]),
      tags,
      el('p', { class: 'item-summary', 'data-testid': 'queue-summary', text: firstLine(summaryOf(ticket)) }),
      el('div', { class: 'item-actions' }, [claim])
    ]);
    li.addEventListener('click', function () { openConversation(id); });
    li.addEventListener('keydown', function (ev) {
      if (ev.target === li && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); openConversation(id, { focus: true }); }
    });
    return li;
  }

  function upsertTicket(ticket) {
    var id = ticketConvId(ticket);
    if (!id) return;
    var i = indexOfTicket(id);
    if (i >= 0) state.queue[i] = ticket; else state.queue.push(ticket);
    renderQueue();
    if (i < 0) {
      var li = document.querySelector('#queue-list [data-conversation-id="' + cssEscape(id) + '"]');
      if (li) li.classList.add('flash');
    }
  }

  function indexOfTicket(id) {
    for (var i = 0; i < state.queue.length; i++) if (ticketConvId(state.queue[i]) === id) return i;
    return -1;
  }

  function removeTicket(id) {
    var i = indexOfTicket(id);
    if (i >= 0) { state.queue.splice(i, 1); renderQueue(); }
  }

  function cssEscape(s) {
    return window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, '\\$&');
  }

  function refreshWaits() {
    var nodes = document.querySelectorAll('.wait[data-created-at]');
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = waitingText(nodes[i].getAttribute('data-created-at'));
  }

  /* "(2) Agent console · 14 waiting": (2) counts customer replies in my conversations that I
   * have not opened yet, so a reply elsewhere shows from another tab. */
  function updateTitle() {
    var unread = 0;
    state.mine.forEach(function (c) { unread += state.unread[c.id] || 0; });
    var n = state.queue.length;
    document.title = (unread ? '(' + unread + ') ' : '') + t('console.title') +
      (n ? ' · ' + t('console.titleWaiting', { count: n }) : '');
  }

  /* ---- alerts: sound and the browser's notifications, unless muted (kept per browser) ---- */

  var MUTE_KEY = 'handoff.console.muted';

  function alertsOn() {
    try { return window.localStorage.getItem(MUTE_KEY) !== '1'; } catch (e) { return true; }
  }

  function renderAlertsToggle() {
    var b = $('alerts-toggle');
    var on = alertsOn();
    b.setAttribute('aria-pressed', on ? 'false' : 'true');
    b.setAttribute('data-muted', on ? 'false' : 'true');
    b.textContent = t(on ? 'notify.on' : 'notify.off');
    b.setAttribute('aria-label', t('notify.mute'));
    b.title = t(on ? 'notify.toggleOn' : 'notify.toggleOff');
  }

  function onAlertsToggle() {
    var on = !alertsOn();
    try { window.localStorage.setItem(MUTE_KEY, on ? '0' : '1'); } catch (e) { /* private mode */ }
    // Asked on the agent's own click, as browsers require.
    if (on && window.Notification && Notification.permission === 'default') Notification.requestPermission();
    renderAlertsToggle();
  }

  /* A customer replied in one of my conversations that is not the one on screen. */
  function alertReply(conv, turn) {
    if (!alertsOn()) return;
    chime();
    if (!document.hidden || !window.Notification || Notification.permission !== 'granted') return;
    try {
      var n = new Notification(t('notify.reply', { name: customerTitle(conv), text: firstLine(turn.text || '').slice(0, 120) }),
        { tag: 'handoff-' + conv.id });
      n.onclick = function () { window.focus(); openConversation(conv.id); n.close(); };
    } catch (e) { /* notifications not allowed here */ }
  }

  /* ------------------------------------------------------------------ my conversations */

  function renderMine() {
    var list = $('mine-list');
    clear(list);
    state.mine.forEach(function (conv) {
      var unread = state.unread[conv.id] || 0;
      var ticket = conv.ticket || {};
      var li = el('li', {
        class: 'item mine-item' + (conv.id === state.openId ? ' selected' : ''),
        'data-testid': 'my-conversation', 'data-conversation-id': conv.id, tabindex: '0'
      }, [
        el('div', { class: 'item-head' }, [
          el('span', { class: 'item-title', text: customerTitle(conv) }),
          unread ? el('span', { class: 'unread', 'data-testid': 'unread', text: t('mine.unread', { n: unread }) }) : null
        ]),
        el('div', { class: 'item-tags' }, [
          el('span', { class: 'tag tag-state tag-state-' + conv.state, text: label('state', conv.state) }),
          ticket.reason ? el('span', { class: 'tag', text: label('reason', ticket.reason) }) : null,
          languageOf(conv) ? el('span', { class: 'tag', 'data-testid': 'mine-language',
            text: String(languageOf(conv)).toUpperCase() }) : null,
          ticket.channel ? el('span', { class: 'tag', text: label('channel', ticket.channel) }) : null
        ]),
        summaryOf(ticket) ? el('p', { class: 'item-summary', text: firstLine(summaryOf(ticket)) }) : null
      ]);
      if (conv.state === 'transferred') {
        li.classList.add('transferred');
        li.setAttribute('data-transferred', 'true');
        var note = state.lastNote[conv.id];
        var accept = el('button', { type: 'button', class: 'btn btn-primary btn-small', 'data-testid': 'accept-button',
          'data-conversation-id': conv.id, text: t('transfer.accept') });
        accept.addEventListener('click', function (ev) { ev.stopPropagation(); acceptConversation(conv.id, accept); });
        li.insertBefore(el('div', { class: 'transfer-flag', 'data-testid': 'transferred-to-you', text: t('transfer.toYou') }),
          li.firstChild);
        if (note && note.text) {
          li.appendChild(el('p', { class: 'item-note', 'data-testid': 'transfer-note-text', text: note.text }));
        }
        li.appendChild(el('div', { class: 'item-actions' }, [accept]));
      }
      li.addEventListener('click', function () { openConversation(conv.id); });
      li.addEventListener('keydown', function (ev) {
        if (ev.target === li && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); openConversation(conv.id, { focus: true }); }
      });
      list.appendChild(li);
    });
    $('mine-count').textContent = String(state.mine.length);
    $('mine-empty').hidden = state.mine.length > 0;
    var max = state.me && state.me.max_conversations;
    var limit = $('mine-limit');
    limit.textContent = max ? t('mine.limit', { n: state.mine.length, max: max }) : '';
    limit.hidden = !(max && state.mine.length >= max);
    updateTitle();
  }

  function indexOfMine(id) {
    for (var i = 0; i < state.mine.length; i++) if (state.mine[i].id === id) return i;
    return -1;
  }

  function upsertMine(conv) {
    var light = {};
    Object.keys(conv).forEach(function (k) { if (k !== 'transcript') light[k] = conv[k]; });
    var i = indexOfMine(conv.id);
    if (i >= 0) state.mine[i] = light; else state.mine.push(light);
    renderMine();
  }

  function removeMine(id) {
    var i = indexOfMine(id);
    if (i >= 0) { state.mine.splice(i, 1); renderMine(); }
  }

  function markSelected() {
    var nodes = document.querySelectorAll('.item[data-conversation-id]');
    for (var i = 0; i < nodes.length; i++) {
      nodes[i].classList.toggle('selected', nodes[i].getAttribute('data-conversation-id') === state.openId);
    }
  }

  /* ------------------------------------------------------------------ conversation view */

  function openConversation(id, opts) {
    opts = opts || {};
    var switching = state.openId !== id;
    if (switching) leaveOpenConversation();
    state.openId = id;
    state.unread[id] = 0;
    var gen = ++state.openGen;
    markSelected();
    renderMine();
    if (switching) {
      state.openConv = null;
      var draft = state.drafts[id] || { text: '', note: false };
      $('reply-input').value = draft.text;
      setNoteMode(draft.note);
      updateCount();
      renderConversation(true);
    }
    return call('GET', '/api/conversations/' + enc(id)).then(function (d) {
      if (gen !== state.openGen) return;
      state.openConv = d.conversation;
      if (isMine(d.conversation)) upsertMine(d.conversation);
      renderConversation(false, opts.keepScroll);
      // Opened from the keyboard: focus goes where the agent continues (the reply box when they
      // can answer, else the transcript), not back to the top of the page.
      if (opts.focus) {
        var reply = $('reply-input');
        if (reply.offsetParent !== null && !reply.disabled) reply.focus(); else $('transcript').focus();
      }
    }).catch(function (err) {
      if (gen !== state.openGen) return;
      if (err.status === 401) return;
      if (err.status === 404) {
        removeTicket(id);
        removeMine(id);
        state.openId = null;
        state.openConv = null;
        renderConversation();
      }
      notify(err.message);
    });
  }

  function renderConversation(loading, keepScroll) {
    var conv = state.openConv;
    var body = $('conv-body');
    var placeholder = $('conv-placeholder');
    if (!state.openId) {
      body.hidden = true;
      placeholder.hidden = false;
      placeholder.textContent = t('conv.empty');
      renderContext(null);
      return;
    }
    if (loading || !conv) {
      body.hidden = true;
      placeholder.hidden = false;
      placeholder.textContent = t('conv.loading');
      renderContext(null);
      return;
    }
    placeholder.hidden = true;
    body.hidden = false;
    renderConvHeader();
    renderTranscript(conv.transcript || [], conv.notes || [], keepScroll);
    renderContext(conv);
  }

  function renderConvHeader() {
    var conv = state.openConv;
    if (!conv) return;
    var ticket = conv.ticket || {};
    $('conv-title').textContent = customerTitle(conv);
    var badge = $('conv-state');
    badge.textContent = label('state', conv.state);
    badge.className = 'badge badge-state-' + conv.state;
    badge.setAttribute('data-state', conv.state || '');
    var meta = [];
    if (ticket.reason) meta.push(label('reason', ticket.reason));
    if (languageOf(conv)) meta.push(label('lang', languageOf(conv)));
    var channel = (conv.reach && conv.reach.channel) || ticket.channel;
    if (channel) meta.push(label('channel', channel));
    if (conv.agent_name || conv.agent) meta.push(t('conv.agentOf', { name: conv.agent_name || agentUsername(conv.agent) }));
    $('conv-meta').textContent = meta.join(' · ');

    var mine = isMine(conv);
    $('conv-claim').hidden = conv.state !== 'queued';
    $('conv-accept').hidden = !(mine && conv.state === 'transferred');
    $('transfer-button').hidden = !(mine && conv.state === 'assigned');
    var onMessenger = (conv.reach && conv.reach.channel) === 'messenger';
    // Only to a channel set up here: "Continue on Messenger" is not offered without Messenger.
    $('move-button').hidden = !(mine && conv.state === 'assigned') || unreachable(conv) ||
      !state.moveTargets[onMessenger ? 'web' : 'messenger'];
    $('move-button').textContent = t(onMessenger ? 'move.toWeb' : 'move.toMessenger');
    $('move-button').setAttribute('data-to', onMessenger ? 'web' : 'messenger');
    if ($('transfer-button').hidden) hideTransferPanel();
    $('handback-group').hidden = !mine;
    $('close-group').hidden = !mine || !$('close-confirm').hidden;
    if (!mine) askClose(false);
    setBusy(state.busy);

    var banner = $('conv-banner');
    var text = '';
    var reach = conv.reach || {};
    banner.setAttribute('data-reach', unreachable(conv) ? 'closed' : (reach.tag ? 'tagged' : 'open'));
    if (conv.state === 'queued') text = t('conv.preview');
    else if (mine && unreachable(conv)) text = t('reach.closed', { channel: label('channel', reach.channel) });
    else if (mine && reach.tag === 'HUMAN_AGENT') {
      text = t('reach.humanAgent', { until: reach.until ? dateTimeFmt.format(toDate(reach.until)) : '?' });
    } else if (mine && conv.state === 'transferred') text = t('transfer.banner');
    else if (!mine && OWNED_STATES[conv.state]) text = t('conv.readonly');
    else if (!mine) text = t('conv.ended', { state: label('state', conv.state) });
    banner.textContent = text;
    banner.hidden = !text;

    var input = $('reply-input');
    $('reply-form').hidden = !mine;
    input.disabled = !mine;
    if (!mine) { stopTyping(); closeCanned(); showCustomerTyping(false); }
  }

  /* Messenger lets agents write for 7 days after the customer's last message, then no more. */
  function unreachable(conv) { return !!(conv && conv.reach && conv.reach.can_reply === false); }

  function setBusy(busy) {
    state.busy = busy;
    ['conv-claim', 'conv-accept', 'transfer-button', 'move-button', 'transfer-submit', 'handback-button', 'close-button',
      'close-confirm-yes',
      'close-resolution', 'handback-flow'].forEach(function (id) {
      $(id).disabled = busy;
    });
  }

  /* --- transcript --- */

  function nearBottom(box) {
    return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  }

  function scrollToBottom(box) { box.scrollTop = box.scrollHeight; }

  function tsOf(x) {
    var n = x && x.timestamp != null ? Number(x.timestamp) : NaN;
    if (isNaN(n)) { var d = toDate(x && x.timestamp); n = d ? d.getTime() / 1000 : NaN; }
    return isNaN(n) ? null : (n > 1e12 ? n / 1000 : n);
  }

  /* Turns and notes in one timeline, by timestamp (an item without one stays after the previous). */
  function timeline(turns, notes) {
    var items = [];
    var last = -Infinity;
    turns.forEach(function (turn, i) {
      var ts = tsOf(turn);
      if (ts == null) ts = last; else last = ts;
      items.push({ ts: ts, order: i, turn: turn });
    });
    notes.forEach(function (note, i) {
      var ts = tsOf(note);
      items.push({ ts: ts == null ? Infinity : ts, order: turns.length + i, note: note });
    });
    items.sort(function (a, b) { return a.ts === b.ts ? a.order - b.order : (a.ts < b.ts ? -1 : 1); });
    return items;
  }

  function renderTranscript(turns, notes, keepScroll) {
    var box = $('transcript');
    var oldTop = box.scrollTop;
    var wasBottom = nearBottom(box);
    clear(box);
    state.shownIds = {};
    state.shownNotes = {};
    timeline(turns, notes || []).forEach(function (item) {
      if (item.note) addNote(item.note, true);
      else appendTurn(item.turn, item.turn.client_id);
    });
    // Messages typed here and not yet confirmed by the server stay on screen, after the transcript.
    Object.keys(state.pending).forEach(function (cid) {
      var p = state.pending[cid];
      if (p.convId !== state.openId) return;
      if (p.messageId && state.shownIds[p.messageId]) { delete state.pending[cid]; return; }
      box.appendChild(p.el);
    });
    if (keepScroll && !wasBottom) box.scrollTop = oldTop; else scrollToBottom(box);
  }

  function findPendingByMessageId(messageId) {
    if (!messageId) return null;
    var keys = Object.keys(state.pending);
    for (var i = 0; i < keys.length; i++) {
      if (state.pending[keys[i]].messageId === messageId) return state.pending[keys[i]];
    }
    return null;
  }

  /* Show one turn of the open conversation; drop it when its id is already shown; replace the
   * optimistic copy of an agent message when the server's turn comes back. */
  function appendTurn(turn, clientId) {
    if (!turn) return;
    if (turn.id && state.shownIds[turn.id]) return;
    var box = $('transcript');
    var stick = nearBottom(box);
    var p = (clientId && state.pending[clientId]) || findPendingByMessageId(turn.id);
    var node = renderTurn(turn);
    var ts = tsOf(turn);
    if (ts != null) node.setAttribute('data-ts', String(ts));
    if (p && p.el.parentNode === box) {
      box.replaceChild(node, p.el);
    } else {
      box.appendChild(node);
    }
    if (p) delete state.pending[p.clientId];
    if (turn.id) state.shownIds[turn.id] = true;
    if (stick) scrollToBottom(box);
  }

  function renderTurn(turn) {
    var kind = turn.kind || 'bot';
    var time = fmtTime(turn.timestamp);
    var d = toDate(turn.timestamp);
    var timeNode = el('time', { class: 'turn-time', datetime: d ? d.toISOString() : null, text: time });

    if (kind === 'marker') {
      var mkey = 'marker.' + (turn.marker || '');
      return el('div', {
        class: 'turn turn-marker', 'data-testid': 'turn', 'data-kind': 'marker',
        'data-marker': turn.marker || '', 'data-turn-id': turn.id || null, role: 'separator'
      }, [
        el('span', { class: 'marker-text', text: I18N.has(mkey) ? t(mkey) : (turn.text || turn.marker || '') }),
        time ? timeNode : null
      ]);
    }

    var who;
    if (kind === 'customer') who = t('turn.customer');
    else if (kind === 'agent') who = t('turn.agent', { name: turn.agent || turn.agent_username || '?' });
    else who = t('turn.bot');

    var bubble = el('div', { class: 'bubble' }, [
      turn.text ? el('div', { class: 'turn-text', 'data-testid': 'turn-text', text: turn.text }) : null
    ]);
    if (turn.payload && turn.payload !== turn.text) {
      bubble.appendChild(el('div', { class: 'turn-extra', text: t('turn.button', { payload: turn.payload }) }));
    }
    if (turn.attachment) {
      var att = turn.attachment;
      var url = safeUrl(att.url || (att.payload && (att.payload.src || att.payload.url)));
      var attText = t('turn.attachment', { type: att.type || '?' });
      bubble.appendChild(url
        ? el('a', { class: 'turn-extra turn-link', href: url, target: '_blank', rel: 'noopener noreferrer', text: attText })
        : el('div', { class: 'turn-extra', text: attText }));
    }
    var node = el('div', {
      class: 'turn turn-' + kind, 'data-testid': 'turn', 'data-kind': kind,
      'data-turn-id': turn.id || null, 'data-client-id': turn.client_id || null
    }, [
      el('div', { class: 'turn-meta' }, [el('span', { class: 'turn-who', text: who }), ' ', timeNode]),
      bubble
    ]);
    turnHooks.forEach(function (fn) { fn(node, turn, state.openId); });  // e.g. good-answers.js
    return node;
  }

  /* --- sending --- */

  function updateCount() {
    var n = $('reply-input').value.length;
    var c = $('reply-count');
    c.textContent = n > MAX_MESSAGE * 0.8 ? n + ' / ' + MAX_MESSAGE : '';
  }

  function sendReply() {
    if (state.noteMode) { sendNote(); return; }
    var input = $('reply-input');
    var text = input.value;
    var conv = state.openConv;
    if (!text.trim() || !conv || !isMine(conv)) return;
    if (text.length > MAX_MESSAGE) {
      notify(t('reply.tooLong', { n: text.length, max: MAX_MESSAGE }));
      return;
    }
    if (unreachable(conv)) { notify(t('reach.closed', { channel: label('channel', conv.reach.channel) })); return; }
    var clientId = newClientId();
    var turn = {
      kind: 'agent', text: text, timestamp: Date.now() / 1000, client_id: clientId,
      agent: state.me ? (state.me.name || state.me.username) : ''
    };
    var node = renderTurn(turn);
    node.setAttribute('data-ts', String(turn.timestamp));
    node.classList.add('pending');
    node.setAttribute('data-pending', 'true');
    var status = el('div', { class: 'turn-status', 'data-testid': 'turn-status' });
    node.appendChild(status);
    var p = { clientId: clientId, convId: conv.id, text: text, el: node, status: status, messageId: null };
    state.pending[clientId] = p;
    var box = $('transcript');
    box.appendChild(node);
    scrollToBottom(box);
    input.value = '';
    delete state.drafts[conv.id];
    updateCount();
    closeCanned();
    stopTyping();
    postPending(p);
  }

  function setPendingStatus(p, kind, reason) {
    var s = p.status;
    clear(s);
    p.el.classList.toggle('failed', kind === 'failed' || kind === 'undelivered');
    p.el.setAttribute('data-status', kind);
    if (kind === 'sending') s.textContent = t('turn.sending');
    else if (kind === 'accepted') s.textContent = t('turn.accepted');
    else {
      s.appendChild(document.createTextNode(t(kind === 'failed' ? 'turn.failed' : 'turn.undelivered', { reason: reason || '' }) + ' '));
      var retry = el('button', { type: 'button', class: 'link-button', 'data-testid': 'retry-button', text: t('turn.retry') });
      retry.addEventListener('click', function () {
        if (kind === 'undelivered') {
          // The server knows this client_id already: a new one makes a new message.
          delete state.pending[p.clientId];
          p.clientId = newClientId();
          p.messageId = null;
          p.el.setAttribute('data-client-id', p.clientId);
          state.pending[p.clientId] = p;
        }
        postPending(p);
      });
      s.appendChild(retry);
    }
  }

  function postPending(p) {
    setPendingStatus(p, 'sending');
    call('POST', '/api/conversations/' + enc(p.convId) + '/messages', { text: p.text, client_id: p.clientId })
      .then(function (d) {
        var m = (d && d.message) || {};
        if (!state.pending[p.clientId]) return;           // the delivered turn came back first
        p.messageId = m.id || null;
        if (p.messageId && state.openId === p.convId && state.shownIds[p.messageId]) {
          if (p.el.parentNode) p.el.parentNode.removeChild(p.el);
          delete state.pending[p.clientId];
          return;
        }
        setPendingStatus(p, 'accepted');
      })
      .catch(function (err) {
        if (!state.pending[p.clientId]) return;
        setPendingStatus(p, 'failed', err.message);
        if (err.code === 'not_yours' && state.openId === p.convId) openConversation(p.convId, { keepScroll: true });
      });
  }

  function onMessageFailed(f) {
    var p = findPendingByMessageId(f.message_id);
    if (p) { setPendingStatus(p, 'undelivered', f.reason || ''); return; }
    if (f.conversation_id !== state.openId) {
      notify(t('turn.undelivered', { reason: f.reason || '' }));
      return;
    }
    var node = document.querySelector('#transcript [data-turn-id="' + cssEscape(f.message_id || '') + '"]');
    if (node) {
      node.classList.add('failed');
      node.appendChild(el('div', { class: 'turn-status', text: t('turn.undelivered', { reason: f.reason || '' }) }));
    } else {
      notify(t('turn.undelivered', { reason: f.reason || '' }));
    }
  }

  /* --- actions --- */

  function claimConversation(id, button) {
    if (button) button.disabled = true;
    setBusy(true);
    call('POST', '/api/conversations/' + enc(id) + '/claim', {}).then(function (d) {
      removeTicket(id);
      var conv = d.conversation || { id: id };
      upsertMine(conv);
      notify(t('claim.done'), 'info');
      setBusy(false);
      openConversation(conv.id || id).then(function () {
        var input = $('reply-input');
        if (!input.disabled) input.focus();
      });
    }).catch(function (err) {
      if (button) button.disabled = false;
      setBusy(false);
      if (err.status === 401) return;
      if (err.code === 'limit_reached') {
        notify(t('claim.limit', { max: (state.me && state.me.max_conversations) || '?' }), 'error', err.code);
        return;
      }
      notify(err.message, 'error', err.code);
      if (err.code === 'already_claimed' || err.code === 'bad_state' || err.code === 'not_found') {
        removeTicket(id);
        if (state.openId === id) openConversation(id, { keepScroll: true });
      }
    });
  }

  function finishConversation(action, body, doneKey) {
    var conv = state.openConv;
    if (!conv) return;
    var id = conv.id;
    setBusy(true);
    stopTyping();
    call('POST', '/api/conversations/' + enc(id) + '/' + action, body).then(function (d) {
      setBusy(false);
      removeMine(id);
      delete state.drafts[id];
      notify(t(doneKey), 'info');
      if (state.openId === id && d.conversation) {
        var next = d.conversation;
        if (!next.transcript) next.transcript = conv.transcript;
        state.openConv = next;
        renderConvHeader();
        renderContext(next);
      }
    }).catch(function (err) {
      setBusy(false);
      if (err.status === 401) return;
      notify(err.message);
      if (err.status === 409 || err.status === 404) openConversation(id, { keepScroll: true });
    });
  }

  /* Sends the customer a one-time link to continue on the other channel. */
  function onMove() {
    var conv = state.openConv;
    if (!conv || !isMine(conv) || state.busy) return;
    var to = $('move-button').getAttribute('data-to');
    setBusy(true);
    call('POST', '/api/conversations/' + enc(conv.id) + '/move', { to: to }).then(function () {
      setBusy(false);
      notify(t('move.sent', { channel: label('channel', to === 'web' ? 'socketio' : 'messenger') }), 'info');
    }).catch(function (err) {
      setBusy(false);
      if (err.status !== 401) notify(err.message, 'error', err.code);
    });
  }

  function onHandback() {
    var v = $('handback-flow').value;
    finishConversation('handback', { flow: v ? v : null }, 'handback.done');
  }

  /* Closing ends the customer's conversation: the agent confirms first (inline, not a pop-up). */
  function askClose(show) {
    $('close-confirm').hidden = !show;
    $('close-group').hidden = show || !(state.openConv && isMine(state.openConv));
    $('close-button').setAttribute('aria-expanded', show ? 'true' : 'false');
    if (show) $('close-confirm-yes').focus();
  }

  function onClose() {
    askClose(false);
    var r = $('close-resolution').value || 'resolved';
    finishConversation('close', { resolution: r }, 'close.done');
  }

  /* ------------------------------------------------------------------ leaving a conversation */

  function isSupervisor() { return !!(state.me && state.me.role === 'supervisor'); }

  /* Before another conversation is shown: keep the draft, stop typing signals and pop-ups. */
  function leaveOpenConversation() {
    var id = state.openId;
    var input = $('reply-input');
    if (id) {
      if (input.value || state.noteMode) state.drafts[id] = { text: input.value, note: state.noteMode };
      else delete state.drafts[id];
    }
    stopTyping();
    closeCanned();
    state.canned.dismissed = false;
    showCustomerTyping(false);
    hideTransferPanel();
    $('close-confirm').hidden = true;
    input.value = '';
    setNoteMode(false);
  }

  /* Nothing in the middle pane (e.g. the conversation went to a colleague). */
  function closeView() {
    leaveOpenConversation();
    state.openId = null;
    state.openConv = null;
    state.openGen++;
    markSelected();
    renderMine();
    renderConversation();
  }

  /* ------------------------------------------------------------------ internal notes */

  function setNoteMode(on) {
    state.noteMode = !!on;
    $('reply-form').setAttribute('data-mode', on ? 'note' : 'reply');
    $('note-toggle').setAttribute('aria-pressed', on ? 'true' : 'false');
    $('mode-reply').setAttribute('aria-pressed', on ? 'false' : 'true');
    $('reply-input').setAttribute('placeholder', t(on ? 'note.placeholder' : 'reply.placeholder'));
    $('reply-send').textContent = t(on ? 'note.send' : 'reply.send');
    if (on) stopTyping();
  }

  function renderNote(note) {
    var d = toDate(note.timestamp);
    return el('div', {
      class: 'turn turn-note', 'data-testid': 'note', 'data-kind': 'note', 'data-note-id': note.id || null,
      'data-ts': tsOf(note) != null ? String(tsOf(note)) : null
    }, [
      el('div', { class: 'turn-meta' }, [
        el('span', { class: 'note-label', text: t('note.label') }), ' · ',
        el('span', { class: 'turn-who', text: note.agent_name || note.agent || '?' }), ' ',
        el('time', { class: 'turn-time', datetime: d ? d.toISOString() : null, text: fmtTime(note.timestamp) })
      ]),
      el('div', { class: 'bubble note-bubble' }, [
        el('div', { class: 'turn-text', 'data-testid': 'note-text', text: note.text || '' })
      ])
    ]);
  }

  /* Shows a note of the open conversation once, at its place in time. */
  function addNote(note, inOrder) {
    if (!note) return;
    if (note.id && state.shownNotes[note.id]) return;
    var box = $('transcript');
    var stick = nearBottom(box);
    var node = renderNote(note);
    var ts = tsOf(note);
    var before = null;
    if (!inOrder && ts != null) {
      for (var i = 0; i < box.children.length; i++) {
        var other = Number(box.children[i].getAttribute('data-ts'));
        if (box.children[i].hasAttribute('data-ts') && other > ts) { before = box.children[i]; break; }
      }
    }
    box.insertBefore(node, before);
    if (note.id) state.shownNotes[note.id] = true;
    if (stick) scrollToBottom(box);
  }

  function rememberNote(convId, note) {
    if (!note) return;
    var prev = state.lastNote[convId];
    if (!prev || (tsOf(note) || 0) >= (tsOf(prev) || 0)) state.lastNote[convId] = note;
    var conv = state.openConv;
    if (conv && conv.id === convId && state.openId === convId) {
      conv.notes = conv.notes || [];
      if (!(note.id && conv.notes.some(function (n) { return n.id === note.id; }))) conv.notes.push(note);
      addNote(note, false);
    }
  }

  function onNoteFrame(f) {
    if (!f.conversation_id || !f.note) return;
    rememberNote(f.conversation_id, f.note);
    if (indexOfMine(f.conversation_id) >= 0) renderMine();
  }

  var notesAsked = {};

  /* A conversation transferred to me shows its transfer note in my list, even after a reload. */
  function loadTransferNotes() {
    state.mine.forEach(function (conv) {
      if (conv.state !== 'transferred' || state.lastNote[conv.id] || notesAsked[conv.id]) return;
      notesAsked[conv.id] = true;
      call('GET', '/api/conversations/' + enc(conv.id) + '/notes').then(function (d) {
        var list = Array.isArray(d.notes) ? d.notes : [];
        if (list.length) { rememberNote(conv.id, list[list.length - 1]); renderMine(); }
      }).catch(function () { delete notesAsked[conv.id]; });
    });
  }

  function sendNote() {
    var input = $('reply-input');
    var text = input.value;
    var conv = state.openConv;
    if (!text.trim() || !conv || !isMine(conv)) return;
    if (text.length > MAX_MESSAGE) {
      notify(t('reply.tooLong', { n: text.length, max: MAX_MESSAGE }));
      return;
    }
    var id = conv.id;
    input.value = '';
    delete state.drafts[id];
    updateCount();
    closeCanned();
    call('POST', '/api/conversations/' + enc(id) + '/notes', { text: text }).then(function (d) {
      rememberNote(id, d && d.note);
    }).catch(function (err) {
      if (err.status === 401) return;
      notify(err.message, 'error', err.code);
      if (state.openId === id && !input.value) input.value = text;
    });
  }

  /* ------------------------------------------------------------------ typing signals */

  function postTyping(convId, typing, keepalive) {
    if (!convId) return;
    try {
      fetch('/api/conversations/' + enc(convId) + '/typing', {
        method: 'POST', credentials: 'same-origin', cache: 'no-store', keepalive: !!keepalive,
        headers: { 'Content-Type': 'application/json', 'Accept': 'application/json', 'Accept-Language': lang },
        body: JSON.stringify({ typing: !!typing })
      }).catch(function () { /* a lost typing signal does not matter */ });
    } catch (e) { /* idem */ }
  }

  /* Called on every change of the reply box: "typing" at most every 3 s, "stopped" when the box
   * is emptied, after 5 s without a keystroke, on send, or when the agent leaves the conversation. */
  function typingInput() {
    var conv = state.openConv;
    var o = state.typingOut;
    var v = $('reply-input').value;
    if (!conv || !isMine(conv) || state.noteMode || !v.trim()) { stopTyping(); return; }
    if (o.active && o.convId !== conv.id) stopTyping();
    var now = Date.now();
    if (!o.active || now - o.lastSent >= TYPING_EVERY_MS) {
      o.active = true;
      o.convId = conv.id;
      o.lastSent = now;
      postTyping(conv.id, true);
    }
    clearTimeout(o.idle);
    o.idle = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    var o = state.typingOut;
    clearTimeout(o.idle);
    o.idle = null;
    if (!o.active) return;
    o.active = false;
    postTyping(o.convId, false);
  }

  function showCustomerTyping(on) {
    var box = $('typing-indicator');
    clearTimeout(state.typingInTimer);
    box.hidden = !on;
    if (on) state.typingInTimer = setTimeout(function () { box.hidden = true; }, TYPING_SHOW_MS);
  }

  /* ------------------------------------------------------------------ canned responses */

  /* "/words" alone on the first line of the reply box searches the canned responses. */
  function cannedQuery() {
    var v = $('reply-input').value;
    if (v.charAt(0) !== '/' || v.indexOf('\n') >= 0) return null;
    return v.slice(1);
  }

  function onReplyInput() {
    updateCount();
    var c = state.canned;
    c.enterPending = false;
    var q = cannedQuery();
    if (q == null) { c.dismissed = false; closeCanned(); } else if (!c.dismissed) scheduleCannedSearch(q);
    typingInput();
  }

  function scheduleCannedSearch(q) {
    var c = state.canned;
    clearTimeout(c.timer);
    c.loading = true;
    if (!c.open) { c.open = true; c.items = []; c.active = 0; renderCanned(); }
    c.timer = setTimeout(function () { searchCanned(q); }, CANNED_DELAY_MS);
  }

  function searchCanned(q) {
    var c = state.canned;
    var seq = ++c.seq;
    call('GET', '/api/canned?q=' + enc(q.trim())).then(function (d) {
      if (seq !== c.seq || !c.open) return;
      c.loading = false;
      c.items = Array.isArray(d.canned) ? d.canned : [];
      c.active = 0;
      renderCanned();
      if (c.enterPending) { c.enterPending = false; if (c.items.length) insertCanned(0); }
    }).catch(function (err) {
      if (seq !== c.seq) return;
      closeCanned();
      if (err.status !== 401) notify(err.message, 'error', err.code);
    });
  }

  function closeCanned() {
    var c = state.canned;
    clearTimeout(c.timer);
    c.seq++;
    c.open = false;
    c.loading = false;
    c.enterPending = false;
    c.items = [];
    var list = $('canned-list');
    clear(list);
    list.hidden = true;
    var input = $('reply-input');
    input.removeAttribute('aria-activedescendant');
  }

  /* The customer's language now: the conversation record's (it follows what the customer
     writes during the handoff, and message frames carry it), else the ticket's. */
  function languageOf(conv) {
    return (conv && (conv.language || (conv.ticket && conv.ticket.language))) || null;
  }

  function customerLanguage() {
    return languageOf(state.openConv) || 'en';
  }

  /* A message frame's language: the open conversation and the list show the new one. */
  function followLanguage(id, language) {
    if (state.openConv && state.openConv.id === id && state.openConv.language !== language) {
      state.openConv.language = language;
      renderConvHeader();
      renderContext(state.openConv);
    }
    var i = indexOfMine(id);
    if (i >= 0 && state.mine[i].language !== language) {
      state.mine[i].language = language;
      renderMine();
    }
  }

  function cannedText(item) {
    var texts = item.text || {};
    var l = customerLanguage();
    var text = typeof texts === 'string' ? texts : (texts[l] || texts.en || texts.fr || '');
    var name = state.me ? (state.me.name || state.me.username) : '';
    return String(text).replace(/\{agent\}/g, name);
  }

  function cannedTitle(item) {
    var ti = item.title || {};
    return typeof ti === 'string' ? ti : (ti[lang] || ti.en || ti.fr || item.id || '');
  }

  function renderCanned() {
    var c = state.canned;
    var list = $('canned-list');
    var input = $('reply-input');
    clear(list);
    list.hidden = !c.open;  // (aria-expanded is not allowed on a text box: the list shows itself)
    if (!c.open) return;
    if (!c.items.length) {
      input.removeAttribute('aria-activedescendant');
      list.appendChild(el('li', { class: 'canned-empty', role: 'presentation', 'data-testid': 'canned-empty',
        text: t(c.loading ? 'canned.loading' : 'canned.empty') }));
      return;
    }
    c.items.forEach(function (item, i) {
      var li = el('li', {
        id: 'canned-opt-' + i, class: 'canned-item' + (i === c.active ? ' active' : ''), role: 'option',
        'aria-selected': i === c.active ? 'true' : 'false', 'data-testid': 'canned-item',
        'data-canned-id': item.id || null
      }, [
        el('span', { class: 'canned-title', text: cannedTitle(item) }),
        el('span', { class: 'canned-text', text: cannedText(item) })
      ]);
      li.addEventListener('mousedown', function (ev) { ev.preventDefault(); });   // keep the focus
      li.addEventListener('click', function () { insertCanned(i); });
      list.appendChild(li);
    });
    input.setAttribute('aria-activedescendant', 'canned-opt-' + c.active);
  }

  function moveCanned(delta) {
    var c = state.canned;
    var n = c.items.length;
    if (!n) return;
    c.active = (c.active + delta + n) % n;
    renderCanned();
    var node = $('canned-opt-' + c.active);
    if (node && node.scrollIntoView) node.scrollIntoView({ block: 'nearest' });
  }

  function insertCanned(i) {
    var c = state.canned;
    var item = c.items[i];
    if (!item) return;
    var text = cannedText(item);
    var input = $('reply-input');
    input.value = text;
    closeCanned();
    c.dismissed = false;
    input.focus();
    input.setSelectionRange(text.length, text.length);
    updateCount();
    typingInput();
  }

  function onReplyKeydown(ev) {
    var c = state.canned;
    var enter = ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229;
    if (c.open) {
      if (ev.key === 'ArrowDown') { ev.preventDefault(); moveCanned(1); return; }
      if (ev.key === 'ArrowUp') { ev.preventDefault(); moveCanned(-1); return; }
      if (ev.key === 'Escape') { ev.preventDefault(); c.dismissed = true; closeCanned(); return; }
      if (enter || ev.key === 'Tab') {
        if (c.loading) { ev.preventDefault(); c.enterPending = true; return; }
        if (c.items.length) { ev.preventDefault(); insertCanned(c.active); return; }
        if (enter) { ev.preventDefault(); return; }   // no match: never send "/words" by mistake
      }
    }
    if (enter) {
      ev.preventDefault();
      sendReply();
    }
  }

  /* ------------------------------------------------------------------ presence */

  function findAgent(username) {
    for (var i = 0; i < state.agents.length; i++) if (state.agents[i].username === username) return state.agents[i];
    return null;
  }

  function loadPresence() {
    call('GET', '/api/agents').then(function (d) {
      state.agents = Array.isArray(d.agents) ? d.agents : [];
      var me = state.me && findAgent(state.me.username);
      var p = me && me.presence;
      // Signed in with the console open: online, unless the agent chose "away" earlier.
      if (p === 'online' || p === 'away') renderPresence(p); else setPresence('online', true);
    }).catch(function (err) {
      if (err.status !== 401) renderPresence('offline');
    });
  }

  function renderPresence(p) {
    state.presence = p;
    var b = $('presence-toggle');
    b.hidden = false;
    b.setAttribute('data-presence', p);
    b.setAttribute('aria-pressed', p === 'away' ? 'true' : 'false');
    b.setAttribute('title', t('presence.title'));
    b.querySelector('.presence-text').textContent = t('presence.' + p);
  }

  function setPresence(status, quiet) {
    var b = $('presence-toggle');
    b.disabled = true;
    call('POST', '/api/me/presence', { status: status }).then(function (d) {
      b.disabled = false;
      var p = (d.agent && d.agent.presence) || status;
      renderPresence(p);
      var me = state.me && findAgent(state.me.username);
      if (me) me.presence = p;
      if (!quiet) notify(t(p === 'away' ? 'presence.nowAway' : 'presence.nowOnline'), 'info');
    }).catch(function (err) {
      b.disabled = false;
      if (err.status !== 401) notify(err.message, 'error', err.code);
    });
  }

  function onPresenceToggle() {
    setPresence(state.presence === 'online' ? 'away' : 'online');
  }

  function onPresenceFrame(f) {
    var a = findAgent(f.agent);
    if (a) a.presence = f.status;
    if (state.me && f.agent === state.me.username && (f.status === 'online' || f.status === 'away')) {
      renderPresence(f.status);
    }
    if (!$('transfer-panel').hidden) renderTransferAgents();
  }

  /* ------------------------------------------------------------------ transfer */

  function onTransferButton() {
    if (!$('transfer-panel').hidden) { hideTransferPanel(); return; }
    var sel = $('transfer-agent');
    $('transfer-panel').hidden = false;
    $('transfer-button').setAttribute('aria-expanded', 'true');
    clear(sel);
    sel.appendChild(el('option', { value: '', text: t('transfer.loading') }));
    sel.disabled = true;
    Promise.all([call('GET', '/api/agents'), loadTeams()]).then(function (r) {
      var d = r[0];
      state.agents = Array.isArray(d.agents) ? d.agents : [];
      sel.disabled = false;
      renderTransferAgents();
      if (!$('transfer-panel').hidden) sel.focus();
    }).catch(function (err) {
      sel.disabled = false;
      hideTransferPanel();
      if (err.status !== 401) notify(err.message, 'error', err.code);
    });
  }

  function hideTransferPanel() {
    $('transfer-panel').hidden = true;
    $('transfer-button').setAttribute('aria-expanded', 'false');
  }

  var PRESENCE_ORDER = { online: 0, away: 1, offline: 2 };

  /* Colleagues I can transfer to (not me), online first, with their presence and load. */
  function renderTransferAgents() {
    var sel = $('transfer-agent');
    var previous = sel.value;
    clear(sel);
    var others = state.agents.filter(function (a) {
      return a && a.username && !(state.me && a.username === state.me.username);
    }).sort(function (a, b) {
      var pa = PRESENCE_ORDER[a.presence] != null ? PRESENCE_ORDER[a.presence] : 3;
      var pb = PRESENCE_ORDER[b.presence] != null ? PRESENCE_ORDER[b.presence] : 3;
      return pa - pb || String(a.name || a.username).localeCompare(String(b.name || b.username));
    });
    if (!others.length && !state.teams.length) {
      sel.appendChild(el('option', { value: '', text: t('transfer.noAgent') }));
      return;
    }
    var people = el('optgroup', { label: t('transfer.agents') });
    others.forEach(function (a) {
      var p = a.presence || 'offline';
      people.appendChild(el('option', {
        value: a.username, 'data-presence': p,
        text: t('transfer.option', { name: a.name || a.username, presence: label('presence', p),
          load: a.load != null ? a.load : 0, max: a.max_conversations != null ? a.max_conversations : '?' })
      }));
    });
    if (others.length) sel.appendChild(people);
    var teams = el('optgroup', { label: t('transfer.teams') });
    state.teams.forEach(function (team) {
      teams.appendChild(el('option', { value: 'team:' + team.id, 'data-team': team.id,
        text: t('transfer.teamOption', { team: teamLabel(team.id), online: team.online || 0 }) }));
    });
    if (state.teams.length) sel.appendChild(teams);
    sel.value = previous;
    if (sel.selectedIndex < 0 || !sel.value) sel.selectedIndex = 0;
  }

  function submitTransfer() {
    var conv = state.openConv;
    if (!conv || !isMine(conv) || state.busy) return;
    var to = $('transfer-agent').value;
    if (!to) return;
    var team = to.indexOf('team:') === 0 ? to.slice(5) : null;
    var a = findAgent(to);
    var name = a ? (a.name || a.username) : to;
    var note = $('transfer-note').value.trim();
    var id = conv.id;
    var body = team ? { team: team, note: note } : { to: to, note: note };
    setBusy(true);
    stopTyping();
    call('POST', '/api/conversations/' + enc(id) + '/transfer', body).then(function () {
      setBusy(false);
      hideTransferPanel();
      $('transfer-note').value = '';
      removeMine(id);
      notify(team ? t('transfer.teamDone', { team: teamLabel(team) }) : t('transfer.done', { name: name }), 'info');
      if (state.openId === id) {
        if (isSupervisor()) openConversation(id, { keepScroll: true });
        else closeView();
      }
      delete state.drafts[id];
    }).catch(function (err) {
      setBusy(false);
      if (err.status === 401) return;
      notify(err.message, 'error', err.code);
      if (err.status === 409 || err.status === 404) openConversation(id, { keepScroll: true });
    });
  }

  /* Takes over a conversation a colleague transferred to me (transferred → assigned). */
  function acceptConversation(id, button) {
    if (button) button.disabled = true;
    setBusy(true);
    call('POST', '/api/conversations/' + enc(id) + '/claim', {}).then(function (d) {
      setBusy(false);
      var conv = d.conversation || { id: id, state: 'assigned', agent: state.me && state.me.username };
      upsertMine(conv);
      notify(t('transfer.accepted'), 'info');
      openConversation(conv.id || id, { keepScroll: state.openId === id }).then(function () {
        var input = $('reply-input');
        if (!input.disabled) input.focus();
      });
    }).catch(function (err) {
      if (button) button.disabled = false;
      setBusy(false);
      if (err.status === 401) return;
      notify(err.code === 'limit_reached'
        ? t('claim.limit', { max: (state.me && state.me.max_conversations) || '?' }) : err.message, 'error', err.code);
      refreshMine();
      if (state.openId === id) openConversation(id, { keepScroll: true });
    });
  }

  /* ------------------------------------------------------------------ closing */

  function renderResolutions() {
    var sel = $('close-resolution');
    clear(sel);
    RESOLUTIONS.forEach(function (r) { sel.appendChild(el('option', { value: r, text: t('resolution.' + r) })); });
    sel.value = 'resolved';
  }

  /* ------------------------------------------------------------------ context panel */

  function section(titleKey, content, testid) {
    return el('section', { class: 'ctx-section', 'data-testid': testid || null }, [
      el('h3', { text: t(titleKey) }), content
    ]);
  }

  function dl(rows) {
    var list = el('dl', { class: 'kv' });
    rows.forEach(function (r) {
      if (r[1] == null || r[1] === '') return;
      list.appendChild(el('dt', { text: r[0] }));
      list.appendChild(el('dd', { text: r[1], 'data-key': r[2] || null }));
    });
    return list;
  }

  function valueText(v) {
    if (v == null) return '';
    if (typeof v === 'boolean') return v ? t('yes') : t('no');
    if (typeof v === 'object') { try { return JSON.stringify(v); } catch (e) { return String(v); } }
    return String(v);
  }

  function renderContext(conv) {
    var body = $('context-body');
    clear(body);
    if (!conv) {
      body.appendChild(el('p', { class: 'empty', text: t('ctx.empty') }));
      return;
    }
    var ticket = conv.ticket;
    if (!ticket) {
      body.appendChild(dl([[t('ctx.state'), label('state', conv.state)]]));
      body.appendChild(el('p', { class: 'empty', text: t('ctx.noTicket') }));
      return;
    }

    function frustrationText(found) {
      var signals = (found && found.signals) || [];
      if (!signals.length) return t('signal.none');
      return signals.map(function (s) { return t('signal.' + s); }).join(', ');
    }

    var summary = summaryOf(ticket);
    if (summary) {
      body.appendChild(section('ctx.summary', el('p', { class: 'summary', 'data-testid': 'context-summary', text: summary })));
    }

    body.appendChild(dl([
      [t('ctx.reason'), label('reason', ticket.reason), 'reason'],
      [t('ctx.priority'), t('prio.' + Math.max(0, Math.min(2, ticket.priority || 0))), 'priority'],
      [t('ctx.frustration'), frustrationText(ticket.frustration), 'frustration'],
      [t('ctx.language'), label('lang', languageOf(conv)), 'language'],
      [t('ctx.channel'), label('channel', ticket.channel), 'channel'],
      [t('ctx.state'), label('state', conv.state), 'state'],
      [t('ctx.position'), conv.state === 'queued' && conv.position != null ? String(conv.position) : null, 'position'],
      [t('ctx.created'), fmtTime(ticket.created_at), 'created_at']
    ]));

    var c = ticket.customer || {};
    body.appendChild(section('ctx.customer', dl([
      [t('ctx.name'), c.name, 'name'],
      [t('ctx.email'), c.email, 'email'],
      [t('ctx.channel'), c.channel ? label('channel', c.channel) : null, 'customer_channel'],
      [t('ctx.customerId'), c.id, 'customer_id']
    ]), 'context-customer'));

    var slots = ticket.slots || {};
    var slotRows = Object.keys(slots).filter(function (k) {
      var v = slots[k];
      return v != null && v !== '' && !(Array.isArray(v) && v.length === 0);
    }).map(function (k) { return [label('slot', k), valueText(slots[k]), k]; });
    body.appendChild(section('ctx.slots', slotRows.length ? dl(slotRows)
      : el('p', { class: 'empty', text: t('ctx.noSlots') }), 'context-slots'));

    var ents = Array.isArray(ticket.entities) ? ticket.entities : [];
    body.appendChild(section('ctx.entities', ents.length
      ? el('ul', { class: 'chips' }, ents.map(function (e) {
        return el('li', { class: 'chip' }, [
          el('span', { class: 'chip-key', title: String(e.entity || ''), text: label('slot', e.entity || '?') }), ' ',
          el('span', { class: 'chip-val', text: valueText(e.value) })
        ]);
      }))
      : el('p', { class: 'empty', text: t('ctx.noEntities') }), 'context-entities'));

    var intents = Array.isArray(ticket.intent_ranking) ? ticket.intent_ranking.slice(0, 5) : [];
    body.appendChild(section('ctx.intents', intents.length
      ? el('ul', { class: 'intents' }, intents.map(function (it) {
        var pct = Math.round(Math.max(0, Math.min(1, Number(it.confidence) || 0)) * 100);
        var bar = el('span', { class: 'bar-fill' });
        bar.style.width = pct + '%';
        return el('li', { class: 'intent' }, [
          el('span', { class: 'intent-name', title: String(it.name || ''), text: label('intent', it.name || '?') }),
          el('span', { class: 'bar', 'aria-hidden': 'true' }, [bar]),
          el('span', { class: 'intent-pct', text: pct + ' %' })
        ]);
      }))
      : el('p', { class: 'empty', text: t('ctx.noIntents') }), 'context-intents'));

    // Earlier conversations of this customer on every channel linked to this one.
    var earlier = Array.isArray(conv.earlier) ? conv.earlier
      : (Array.isArray(ticket.earlier_conversations) ? ticket.earlier_conversations : []);
    var contact = conv.contact || {};
    if (contact.email || contact.phone) {
      // Left by a customer who was told nobody could answer at once: answer them there.
      body.appendChild(section('ctx.contact', dl([[t('ctx.email'), contact.email, 'contact-email'],
        [t('ctx.phone'), contact.phone, 'contact-phone']]), 'context-contact'));
    }
    body.appendChild(section('ctx.earlier', earlier.length
      ? el('ul', { class: 'earlier' }, earlier.map(function (e) {
        var b = el('button', { type: 'button', class: 'earlier-item', 'data-conversation-id': e.conversation_id }, [
          el('span', { class: 'earlier-head', 'data-testid': 'earlier-item',
            text: [fmtTime(e.created_at), e.channel ? label('channel', e.channel) : '',
              e.reason ? label('reason', e.reason) : ''].filter(Boolean).join(' · ') }),
          e.summary ? el('span', { class: 'earlier-summary', text: String(e.summary) }) : null
        ]);
        b.addEventListener('click', function () { if (e.conversation_id) openConversation(e.conversation_id); });
        return el('li', null, [b]);
      }))
      : el('p', { class: 'empty', text: t('ctx.noEarlier') }), 'context-earlier'));
  }

  /* ------------------------------------------------------------------ WebSocket */

  function setConn(kind) {
    var node = document.querySelector('[data-testid="connection-status"]');
    node.setAttribute('data-state', kind);
    node.querySelector('.conn-text').textContent = t('conn.' + kind);
  }

  function connectWs() {
    state.wsWanted = true;
    clearTimeout(state.wsTimer);
    if (state.ws) return;
    setConn(state.wsAttempt ? 'reconnecting' : 'connecting');
    var proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    var ws;
    try {
      ws = new WebSocket(proto + '//' + location.host + '/api/ws');
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    ws.onopen = function () {
      if (state.ws !== ws) return;
      state.wsAttempt = 0;
      state.lastFrameAt = Date.now();
      setConn('connected');
      startPing();
      // Anything may have happened while we were away: reload what is on screen.
      loadLists();
      if (state.openId) openConversation(state.openId, { keepScroll: true });
    };
    ws.onmessage = function (ev) {
      if (state.ws !== ws) return;
      state.lastFrameAt = Date.now();
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      if (frame && typeof frame === 'object') handleFrame(frame);
    };
    ws.onclose = function () {
      if (state.ws !== ws) return;
      lostWs();
    };
    ws.onerror = function () { /* a close event follows */ };
  }

  function lostWs() {
    var ws = state.ws;
    state.ws = null;
    stopPing();
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(); } catch (e) { /* already closed */ }
    }
    if (!state.wsWanted) { setConn('offline'); return; }
    setConn('reconnecting');
    scheduleReconnect();
  }

  function scheduleReconnect() {
    clearTimeout(state.wsTimer);
    var attempt = state.wsAttempt++;
    var base = Math.min(30000, 1000 * Math.pow(2, attempt));
    var delay = Math.round(base / 2 + Math.random() * base / 2);
    state.wsTimer = setTimeout(function () {
      if (!state.wsWanted) return;
      // A WebSocket refused for an expired session looks like any other failure: ask first.
      api('GET', '/api/me').then(function () {
        connectWs();
      }).catch(function (err) {
        if (err.status === 401) signedOut(t('login.expired'));
        else if (state.wsWanted) scheduleReconnect();
      });
    }, delay);
  }

  function stopWs() {
    state.wsWanted = false;
    clearTimeout(state.wsTimer);
    if (state.ws) lostWs();
    state.wsAttempt = 0;
    setConn('offline');
  }

  function startPing() {
    stopPing();
    state.pingTimer = setInterval(function () {
      var ws = state.ws;
      if (!ws) return;
      if (Date.now() - state.lastFrameAt > DEAD_AFTER_MS) { lostWs(); return; }
      try { ws.send(JSON.stringify({ type: 'ping' })); } catch (e) { lostWs(); }
    }, PING_EVERY_MS);
  }

  function stopPing() {
    clearInterval(state.pingTimer);
    state.pingTimer = null;
  }

  function handleFrame(f) {
    switch (f.type) {
      case 'hello':
        if (f.agent && typeof f.agent === 'object') {
          state.me = f.agent;
          $('me-name').textContent = f.agent.name || f.agent.username || '';
        }
        break;
      case 'ticket.queued':
        if (f.ticket) {
          var isNew = indexOfTicket(ticketConvId(f.ticket)) < 0;
          upsertTicket(f.ticket);
          if (isNew) {
            announce(t('queue.new'));
            notifyQueued();
            if (alertsOn()) chime();
          }
        }
        break;
      case 'ticket.removed':
        removeTicket(f.conversation_id);
        if (state.openConv && state.openConv.id === f.conversation_id && f.state && f.state !== state.openConv.state) {
          onStateFrame({ conversation_id: f.conversation_id, state: f.state, agent: state.openConv.agent });
        }
        break;
      case 'conversation.state':
        onStateFrame(f);
        break;
      case 'message':
        onMessageFrame(f);
        break;
      case 'message.failed':
        onMessageFailed(f);
        break;
      case 'note':
        onNoteFrame(f);
        break;
      case 'typing':
        if (f.conversation_id === state.openId && state.openConv && isMine(state.openConv)) {
          showCustomerTyping(!!f.typing);
        }
        break;
      case 'agent.presence':
        onPresenceFrame(f);
        break;
      case 'pong':
        break;
      default:
        break;
    }
    frameHooks.forEach(function (fn) { fn(f); });
  }

  function onStateFrame(f) {
    var id = f.conversation_id;
    var agent = agentUsername(f.agent);
    var mineNow = OWNED_STATES[f.state] && state.me && agent === state.me.username;
    if (f.state !== 'queued') removeTicket(id);
    if (mineNow) {
      var i = indexOfMine(id);
      var incoming = f.state === 'transferred' && (i < 0 || state.mine[i].state !== 'transferred');
      if (i >= 0) { state.mine[i].state = f.state; renderMine(); } else refreshMine();
      if (incoming) {
        notify(t('transfer.incoming'), 'info');
        announce(t('transfer.incoming'));
      }
    } else {
      removeMine(id);
    }
    if (state.openConv && state.openConv.id === id) {
      var changedHands = agentUsername(state.openConv.agent) !== agent;
      state.openConv.state = f.state;
      state.openConv.agent = f.agent != null ? f.agent : null;
      state.openConv.agent_name = f.agent_name || (changedHands ? null : state.openConv.agent_name);
      renderConvHeader();
      renderContext(state.openConv);
      // Fetch the names and ticket as the server now sees them (an agent who no longer owns
      // the conversation may not read it any more: only a supervisor reloads it then).
      var queuedForMe = f.state === 'queued' && (!f.team || isSupervisor() ||
        (state.me && (state.me.teams || []).indexOf(f.team) >= 0));
      if (f.state === 'queued' && !queuedForMe) closeView();
      else if (queuedForMe || (changedHands && (mineNow || isSupervisor()))) {
        openConversation(id, { keepScroll: true });
      }
    }
  }

  function onMessageFrame(f) {
    var turn = f.turn;
    if (!turn) return;
    if (f.language) followLanguage(f.conversation_id, f.language);
    var cid = f.client_id || turn.client_id;
    if (f.conversation_id === state.openId && state.openConv) {
      if (turn.kind === 'customer') showCustomerTyping(false);
      appendTurn(turn, cid);
      if (state.openConv.transcript && !(turn.id && state.openConv.transcript.some(function (x) { return x.id === turn.id; }))) {
        state.openConv.transcript.push(turn);
      }
      return;
    }
    var i = indexOfMine(f.conversation_id);
    if (i >= 0 && turn.kind === 'customer') {
      state.unread[f.conversation_id] = (state.unread[f.conversation_id] || 0) + 1;
      renderMine();
      alertReply(state.mine[i], turn);
    }
  }

  /* Screen-reader announcement without stealing focus. */
  // A short two-note chime made with WebAudio (no sound file to load). Browsers allow it once
  // the agent has interacted with the page, which signing in does.
  var audio = null;
  function chime() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      [660, 880].forEach(function (freq, i) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        var start = audio.currentTime + i * 0.15;
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, start);
        gain.gain.exponentialRampToValueAtTime(0.15, start + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.14);
        osc.connect(gain).connect(audio.destination);
        osc.start(start);
        osc.stop(start + 0.15);
      });
      document.body.setAttribute('data-chimes', String(Number(document.body.getAttribute('data-chimes') || 0) + 1));
    } catch (e) { /* no audio device: the visible notice remains */ }
  }

  function announce(text) {
    var live = $('sr-live');
    if (!live) {
      live = el('div', { id: 'sr-live', class: 'visually-hidden', 'aria-live': 'polite' });
      document.body.appendChild(live);
    }
    live.textContent = text;
  }

  /* ------------------------------------------------------------------ extensions */

  // supervisor.js builds on the console through this small surface, not its internals.
  var startHooks = [];
  var stopHooks = [];
  var frameHooks = [];
  var turnHooks = [];
  window.HandoffConsole = {
    el: el, clear: clear, call: call, notify: notify, label: label, enc: enc,
    fmtDuration: fmtDuration, waitingText: waitingText, firstLine: firstLine, summaryOf: summaryOf,
    customerTitle: customerTitle, teamLabel: teamLabel, toDate: toDate,
    me: function () { return state.me; },
    open: function (id) { return openConversation(id); },
    onStart: function (fn) { startHooks.push(fn); },
    onStop: function (fn) { stopHooks.push(fn); },
    onFrame: function (fn) { frameHooks.push(fn); },
    onTurn: function (fn) { turnHooks.push(fn); }  // fn(node, turn, conversationId) decorates a turn
  };

  /* ------------------------------------------------------------------ start */

  function init() {
    I18N.apply(document);
    $('login-form').addEventListener('submit', onLoginSubmit);
    $('logout').addEventListener('click', onLogout);
    $('reply-form').addEventListener('submit', function (ev) { ev.preventDefault(); sendReply(); });
    $('reply-input').addEventListener('keydown', onReplyKeydown);
    $('reply-input').addEventListener('input', onReplyInput);
    $('reply-input').addEventListener('blur', function () {
      setTimeout(function () { if (document.activeElement !== $('reply-input')) closeCanned(); }, 150);
    });
    $('note-toggle').addEventListener('click', function () { setNoteMode(!state.noteMode); $('reply-input').focus(); });
    $('mode-reply').addEventListener('click', function () { setNoteMode(false); $('reply-input').focus(); });
    $('presence-toggle').addEventListener('click', onPresenceToggle);
    $('alerts-toggle').addEventListener('click', onAlertsToggle);
    renderAlertsToggle();
    $('transfer-button').addEventListener('click', onTransferButton);
    $('transfer-cancel').addEventListener('click', function () { hideTransferPanel(); $('transfer-button').focus(); });
    $('transfer-panel').addEventListener('submit', function (ev) { ev.preventDefault(); submitTransfer(); });
    $('transfer-panel').addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape') { ev.preventDefault(); hideTransferPanel(); $('transfer-button').focus(); }
    });
    $('conv-accept').addEventListener('click', function () {
      if (state.openId) acceptConversation(state.openId, null);
    });
    window.addEventListener('pagehide', function () {
      var o = state.typingOut;
      if (o.active) postTyping(o.convId, false, true);
    });
    $('handback-button').addEventListener('click', onHandback);
    $('move-button').addEventListener('click', onMove);
    $('close-button').addEventListener('click', function () { askClose(true); });
    $('close-confirm-yes').addEventListener('click', onClose);
    $('close-confirm-no').addEventListener('click', function () { askClose(false); $('close-button').focus(); });
    $('close-confirm').addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape') { ev.preventDefault(); askClose(false); $('close-button').focus(); }
    });
    $('conv-claim').addEventListener('click', function () {
      if (state.openId) claimConversation(state.openId, null);
    });
    window.addEventListener('online', function () {
      if (state.wsWanted && !state.ws) { state.wsAttempt = 0; scheduleReconnect(); }
    });
    setInterval(refreshWaits, WAIT_REFRESH_MS);
    renderFlows();
    renderResolutions();

    api('GET', '/api/me').then(function (d) {
      startApp(d.agent);
    }).catch(function (err) {
      showLogin(err.status === 401 ? null : err.message);
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
