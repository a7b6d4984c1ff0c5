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
    busy: false             // an action on the open conversation is running
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

  function notify(message, kind) {
    var box = $('notices');
    var n = el('div', { class: 'notice notice-' + (kind || 'error'), role: kind === 'info' ? 'status' : 'alert',
      'data-testid': 'notice', 'data-kind': kind || 'error' }, [
      el('span', { class: 'notice-text', text: message }),
      el('button', { type: 'button', class: 'notice-close', 'aria-label': t('dismiss'), text: '×' })
    ]);
    n.querySelector('button').addEventListener('click', function () { n.remove(); });
    box.appendChild(n);
    setTimeout(function () { n.remove(); }, kind === 'info' ? 4000 : 9000);
    while (box.children.length > 4) box.removeChild(box.firstChild);
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
    renderQueue();
    renderMine();
    renderConversation();
  }

  function signedOut(message) {
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
    loadLists();
    connectWs();
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
    });
    return Promise.all([p1, p2]).catch(function (err) {
      if (err.status !== 401) notify(err.message);
    });
  }

  function refreshMine() {
    return call('GET', '/api/conversations').then(function (d) {
      state.mine = Array.isArray(d.conversations) ? d.conversations : [];
      renderMine();
    }).catch(function (err) { if (err.status !== 401) notify(err.message); });
  }

  var FALLBACK_FLOWS = [
    { id: 'anything_else', label: { en: 'Ask whether there is anything else', fr: 'Demander s’il y a autre chose' } },
    { id: 'satisfaction', label: { en: 'Satisfaction survey', fr: 'Enquête de satisfaction' } }
  ];

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

  function renderQueue() {
    var list = $('queue-list');
    clear(list);
    state.queue.forEach(function (ticket) { list.appendChild(renderQueueItem(ticket)); });
    $('queue-count').textContent = String(state.queue.length);
    $('queue-empty').hidden = state.queue.length > 0;
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
      ticket.priority > 0 ? el('span', { class: 'tag tag-priority', text: t('queue.priority') }) : null,
      el('span', { class: 'tag', title: label('lang', ticket.language),
        text: String(ticket.language || '?').toUpperCase() }),
      el('span', { class: 'tag', text: label('channel', ticket.channel) })
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
      if (ev.target === li && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); openConversation(id); }
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

  function updateTitle() {
    var n = state.queue.length;
    document.title = (n ? '(' + n + ') ' : '') + t('console.title');
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
          ticket.language ? el('span', { class: 'tag', text: String(ticket.language).toUpperCase() }) : null,
          ticket.channel ? el('span', { class: 'tag', text: label('channel', ticket.channel) }) : null
        ]),
        summaryOf(ticket) ? el('p', { class: 'item-summary', text: firstLine(summaryOf(ticket)) }) : null
      ]);
      li.addEventListener('click', function () { openConversation(conv.id); });
      li.addEventListener('keydown', function (ev) {
        if (ev.target === li && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); openConversation(conv.id); }
      });
      list.appendChild(li);
    });
    $('mine-count').textContent = String(state.mine.length);
    $('mine-empty').hidden = state.mine.length > 0;
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
    state.openId = id;
    state.unread[id] = 0;
    var gen = ++state.openGen;
    markSelected();
    renderMine();
    if (switching) {
      state.openConv = null;
      renderConversation(true);
    }
    return call('GET', '/api/conversations/' + enc(id)).then(function (d) {
      if (gen !== state.openGen) return;
      state.openConv = d.conversation;
      if (isMine(d.conversation)) upsertMine(d.conversation);
      renderConversation(false, opts.keepScroll);
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
    renderTranscript(conv.transcript || [], keepScroll);
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
    if (ticket.language) meta.push(label('lang', ticket.language));
    if (ticket.channel) meta.push(label('channel', ticket.channel));
    if (conv.agent_name || conv.agent) meta.push(t('conv.agentOf', { name: conv.agent_name || agentUsername(conv.agent) }));
    $('conv-meta').textContent = meta.join(' · ');

    var mine = isMine(conv);
    $('conv-claim').hidden = conv.state !== 'queued';
    $('handback-group').hidden = !mine;
    $('close-button').hidden = !mine;
    setBusy(state.busy);

    var banner = $('conv-banner');
    var text = '';
    if (conv.state === 'queued') text = t('conv.preview');
    else if (!mine && OWNED_STATES[conv.state]) text = t('conv.readonly');
    else if (!mine) text = t('conv.ended', { state: label('state', conv.state) });
    banner.textContent = text;
    banner.hidden = !text;

    var input = $('reply-input');
    $('reply-form').hidden = !mine;
    input.disabled = !mine;
  }

  function setBusy(busy) {
    state.busy = busy;
    ['conv-claim', 'handback-button', 'close-button', 'handback-flow'].forEach(function (id) {
      $(id).disabled = busy;
    });
  }

  /* --- transcript --- */

  function nearBottom(box) {
    return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  }

  function scrollToBottom(box) { box.scrollTop = box.scrollHeight; }

  function renderTranscript(turns, keepScroll) {
    var box = $('transcript');
    var oldTop = box.scrollTop;
    var wasBottom = nearBottom(box);
    clear(box);
    state.shownIds = {};
    turns.forEach(function (turn) { appendTurn(turn, turn.client_id); });
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
    return el('div', {
      class: 'turn turn-' + kind, 'data-testid': 'turn', 'data-kind': kind,
      'data-turn-id': turn.id || null, 'data-client-id': turn.client_id || null
    }, [
      el('div', { class: 'turn-meta' }, [el('span', { class: 'turn-who', text: who }), ' ', timeNode]),
      bubble
    ]);
  }

  /* --- sending --- */

  function onReplyKeydown(ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      sendReply();
    }
  }

  function updateCount() {
    var n = $('reply-input').value.length;
    var c = $('reply-count');
    c.textContent = n > MAX_MESSAGE * 0.8 ? n + ' / ' + MAX_MESSAGE : '';
  }

  function sendReply() {
    var input = $('reply-input');
    var text = input.value;
    var conv = state.openConv;
    if (!text.trim() || !conv || !isMine(conv)) return;
    if (text.length > MAX_MESSAGE) {
      notify(t('reply.tooLong', { n: text.length, max: MAX_MESSAGE }));
      return;
    }
    var clientId = newClientId();
    var turn = {
      kind: 'agent', text: text, timestamp: Date.now() / 1000, client_id: clientId,
      agent: state.me ? (state.me.name || state.me.username) : ''
    };
    var node = renderTurn(turn);
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
    updateCount();
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
      notify(err.message);
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
    call('POST', '/api/conversations/' + enc(id) + '/' + action, body).then(function (d) {
      setBusy(false);
      removeMine(id);
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

  function onHandback() {
    var v = $('handback-flow').value;
    finishConversation('handback', { flow: v ? v : null }, 'handback.done');
  }

  function onClose() {
    finishConversation('close', { resolution: 'resolved' }, 'close.done');
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

    var summary = summaryOf(ticket);
    if (summary) {
      body.appendChild(section('ctx.summary', el('p', { class: 'summary', 'data-testid': 'context-summary', text: summary })));
    }

    body.appendChild(dl([
      [t('ctx.reason'), label('reason', ticket.reason), 'reason'],
      [t('ctx.language'), label('lang', ticket.language), 'language'],
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
    }).map(function (k) { return [k, valueText(slots[k]), k]; });
    body.appendChild(section('ctx.slots', slotRows.length ? dl(slotRows)
      : el('p', { class: 'empty', text: t('ctx.noSlots') }), 'context-slots'));

    var ents = Array.isArray(ticket.entities) ? ticket.entities : [];
    body.appendChild(section('ctx.entities', ents.length
      ? el('ul', { class: 'chips' }, ents.map(function (e) {
        return el('li', { class: 'chip' }, [
          el('span', { class: 'chip-key', text: String(e.entity || '?') }), ' ',
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
          el('span', { class: 'intent-name', text: String(it.name || '?') }),
          el('span', { class: 'bar', 'aria-hidden': 'true' }, [bar]),
          el('span', { class: 'intent-pct', text: pct + ' %' })
        ]);
      }))
      : el('p', { class: 'empty', text: t('ctx.noIntents') }), 'context-intents'));

    var earlier = Array.isArray(ticket.earlier_conversations) ? ticket.earlier_conversations : [];
    body.appendChild(section('ctx.earlier', earlier.length
      ? el('ul', { class: 'earlier' }, earlier.map(function (e) {
        var b = el('button', { type: 'button', class: 'earlier-item', 'data-conversation-id': e.conversation_id }, [
          el('span', { class: 'earlier-head', text: [fmtTime(e.created_at), e.reason ? label('reason', e.reason) : '']
            .filter(Boolean).join(' · ') }),
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
          if (isNew) announce(t('queue.new'));
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
      case 'pong':
        break;
      default:
        break;
    }
  }

  function onStateFrame(f) {
    var id = f.conversation_id;
    var agent = agentUsername(f.agent);
    var mineNow = OWNED_STATES[f.state] && state.me && agent === state.me.username;
    if (f.state !== 'queued') removeTicket(id);
    if (mineNow) {
      var i = indexOfMine(id);
      if (i >= 0) { state.mine[i].state = f.state; renderMine(); } else refreshMine();
    } else {
      removeMine(id);
    }
    if (state.openConv && state.openConv.id === id) {
      var changedHands = agentUsername(state.openConv.agent) !== agent;
      state.openConv.state = f.state;
      state.openConv.agent = f.agent != null ? f.agent : null;
      if (changedHands) state.openConv.agent_name = null;
      renderConvHeader();
      renderContext(state.openConv);
      // Fetch the names and ticket as the server now sees them.
      if (changedHands || f.state === 'queued') openConversation(id, { keepScroll: true });
    }
  }

  function onMessageFrame(f) {
    var turn = f.turn;
    if (!turn) return;
    var cid = f.client_id || turn.client_id;
    if (f.conversation_id === state.openId && state.openConv) {
      appendTurn(turn, cid);
      if (state.openConv.transcript && !(turn.id && state.openConv.transcript.some(function (x) { return x.id === turn.id; }))) {
        state.openConv.transcript.push(turn);
      }
      return;
    }
    if (indexOfMine(f.conversation_id) >= 0 && turn.kind === 'customer') {
      state.unread[f.conversation_id] = (state.unread[f.conversation_id] || 0) + 1;
      renderMine();
    }
  }

  /* Screen-reader announcement without stealing focus. */
  function announce(text) {
    var live = $('sr-live');
    if (!live) {
      live = el('div', { id: 'sr-live', class: 'visually-hidden', 'aria-live': 'polite' });
      document.body.appendChild(live);
    }
    live.textContent = text;
  }

  /* ------------------------------------------------------------------ start */

  function init() {
    I18N.apply(document);
    $('login-form').addEventListener('submit', onLoginSubmit);
    $('logout').addEventListener('click', onLogout);
    $('reply-form').addEventListener('submit', function (ev) { ev.preventDefault(); sendReply(); });
    $('reply-input').addEventListener('keydown', onReplyKeydown);
    $('reply-input').addEventListener('input', updateCount);
    $('handback-button').addEventListener('click', onHandback);
    $('close-button').addEventListener('click', onClose);
    $('conv-claim').addEventListener('click', function () {
      if (state.openId) claimConversation(state.openId, null);
    });
    window.addEventListener('online', function () {
      if (state.wsWanted && !state.ws) { state.wsAttempt = 0; scheduleReconnect(); }
    });
    setInterval(refreshWaits, WAIT_REFRESH_MS);
    renderFlows();

    api('GET', '/api/me').then(function (d) {
      startApp(d.agent);
    }).catch(function (err) {
      showLogin(err.status === 401 ? null : err.message);
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
