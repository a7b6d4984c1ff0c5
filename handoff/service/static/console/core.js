/* The agent console's core: what every view shares, and the dispatcher views subscribe to.
 *
 * Plain JS, no build step; it talks only to the routes of docs/agent-api.md. The console is split
 * by view, each in its own file and owning its own state (queue.js, mine.js, conversation.js with
 * transcript.js, reply.js, canned.js, transfer.js and context.js, presence.js, alerts.js;
 * connection.js holds the WebSocket, app.js the sign-in and the start). Views never reach into
 * each other's state: they subscribe to frames, and call the few functions a view publishes on
 * window.HandoffConsole (C.open, C.queue.remove, C.mine.upsert...).
 *
 *   C.on(type, fn)        fn(frame) for each frame of that type: the server's WebSocket frames
 *                         (ticket.queued, conversation.state, message, note, typing...) and the
 *                         console's own events, whose type starts with "console:":
 *     console:connected   the WebSocket is (again) open: reload what may have changed meanwhile
 *     console:disconnected the WebSocket went down (what was sent on it may be unanswered)
 *     console:opened      {conversation_id}: the conversation now shown in the middle (or null)
 *     console:loaded      {conversation_id}: its record and transcript are loaded (and again
 *                         after each reload: a claim, a reconnection)
 *     console:waiting     {count}: customers in my queue
 *     console:unread      {count}: customer replies in my conversations I have not seen
 *     console:load        {count, max}: conversations I hold, and how many I may hold
 *     console:reply       {conversation, turn}: a customer replied in one of mine, not on screen
 *     console:queued      {ticket}: a new conversation waits in my queue
 *   C.onFrame(fn)         fn(frame) for every server frame (supervisor.js, miner.js)
 *   C.onStart(fn) / C.onStop(fn)   an agent signed in (fn(me)) / out
 *
 * Safety rule: every text that comes from a customer, the bot, a ticket or the server is put in
 * the page with textContent (the el() helper), never with innerHTML.
 */
(function () {
  'use strict';

  var I18N = window.HandoffI18n;
  var t = I18N.t;
  var lang = I18N.lang;

  var OWNED_STATES = { assigned: true, transferred: true };
  var MAX_NOTICES = 3;

  var session = { me: null, teams: [] };

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

  function cssEscape(s) {
    return window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, '\\$&');
  }

  function newClientId() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    var a = new Uint8Array(16);
    window.crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }

  /* A human label for a raw value (an intent, a reason, a channel...), in the agent's language. */
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

  /* Seconds since the epoch, whatever form a timestamp came in (null when it has none). */
  function tsOf(x) {
    var n = x && x.timestamp != null ? Number(x.timestamp) : NaN;
    if (isNaN(n)) { var d = toDate(x && x.timestamp); n = d ? d.getTime() / 1000 : NaN; }
    return isNaN(n) ? null : (n > 1e12 ? n / 1000 : n);
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

  function fmtDateTime(ts) {
    var d = toDate(ts);
    return d ? dateTimeFmt.format(d) : '?';
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

  /* The customer's language now: the conversation record's (it follows what the customer
     writes during the handoff, and message frames carry it), else the ticket's. */
  function languageOf(conv) {
    return (conv && (conv.language || (conv.ticket && conv.ticket.language))) || null;
  }

  function agentUsername(a) {
    if (a == null) return null;
    if (typeof a === 'object') return a.username || null;
    return String(a);
  }

  function me() { return session.me; }

  function myName() { return session.me ? (session.me.name || session.me.username) : ''; }

  function isMine(conv) {
    return !!(conv && session.me && OWNED_STATES[conv.state] &&
      agentUsername(conv.agent) === session.me.username);
  }

  function isSupervisor() { return !!(session.me && session.me.role === 'supervisor'); }

  function safeUrl(url) {
    try {
      var u = new URL(String(url), location.href);
      return (u.protocol === 'http:' || u.protocol === 'https:') ? u.href : null;
    } catch (e) { return null; }
  }

  /* Enter or Space on a focused list item opens it, as a click does. */
  function onActivate(node, fn) {
    node.addEventListener('click', function () { fn(false); });
    node.addEventListener('keydown', function (ev) {
      if (ev.target === node && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); fn(true); }
    });
  }

  /* ------------------------------------------------------------------ teams */

  function teamLabel(id) {
    for (var i = 0; i < session.teams.length; i++) {
      var team = session.teams[i];
      if (team.id === id) return (team.label && (team.label[lang] || team.label.en)) || id;
    }
    return id;
  }

  function loadTeams() {
    return call('GET', '/api/teams').then(function (d) {
      session.teams = Array.isArray(d.teams) ? d.teams : [];
    }).catch(function () { /* team labels fall back to their ids */ });
  }

  /* ------------------------------------------------------------------ notices */

  // Notices sit in the page's flow above the panes (console.css), so they push the console down
  // and never cover a control.
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

  /* Screen-reader announcement without stealing focus. */
  function announce(text) {
    var live = $('sr-live');
    if (!live) {
      live = el('div', { id: 'sr-live', class: 'visually-hidden', 'aria-live': 'polite' });
      document.body.appendChild(live);
    }
    live.textContent = text;
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
      if (err.status === 401 && session.me) stop(t('login.expired'));
      throw err;
    });
  }

  /* A list read with GET and then kept up to date by frames. A frame that arrives while a GET
   * is on its way may be newer than the GET's answer (a customer queued meanwhile would vanish
   * from the queue until the next reload): each change a frame makes is noted and made again on
   * top of the answer. A late answer of an older GET is dropped: a newer one is coming.
   *   var list = snapshots(fetch, function (answer) { ...replace the list... });
   *   list.load()              -> the GET, then the answer, then the changes made meanwhile
   *   list.change(function)    -> runs it now, and again after an answer still on its way */
  function snapshots(fetch, replace) {
    var generation = 0;
    var pending = null;   // {generation, changes} of the GET on its way, if any
    return {
      load: function () {
        var mine = { generation: ++generation, changes: [] };
        pending = mine;
        return fetch().then(function (answer) {
          if (mine.generation !== generation) return false;
          pending = null;
          replace(answer);
          mine.changes.forEach(function (change) { change(); });
          return true;
        }, function (err) {
          if (mine.generation === generation) pending = null;
          throw err;
        });
      },
      change: function (fn) {
        if (pending) pending.changes.push(fn);
        return fn();
      }
    };
  }

  /* A section of the context panel that shows what `GET /api/conversations/<id>/<part>` says
   * of the open conversation (its orders, its call-backs). `view` holds convId, data, error and
   * seq; `draw()` shows them. An answer for a conversation the agent has left, or an answer
   * older than one asked for since, is dropped.
   *   var part = conversationPart(view, 'orders', draw, function () { ...forget the rest... });
   *   part.load()       -> asks again for the open conversation
   *   part.opened(f)    -> for console:opened: another conversation, so forget and ask */
  function conversationPart(view, part, draw, forget) {
    function load() {
      var id = view.convId;
      if (!id) return;
      var seq = ++view.seq;
      call('GET', '/api/conversations/' + enc(id) + '/' + part).then(function (d) {
        if (seq !== view.seq || id !== view.convId) return;
        view.data = d;
        view.error = null;
        draw();
      }).catch(function (err) {
        if (seq !== view.seq || err.status === 401) return;
        view.data = null;
        view.error = err.message;
        draw();
      });
    }
    function opened(f) {
      var id = f.conversation_id || null;
      if (id === view.convId) return;
      view.convId = id;
      view.data = null;
      view.error = null;
      if (forget) forget();
      if (id) load();
    }
    return { load: load, opened: opened };
  }

  /* ------------------------------------------------------------------ dispatcher */

  var handlers = {};        // frame type -> [fn]
  var frameHooks = [];      // fn(frame) for every server frame
  var startHooks = [];
  var stopHooks = [];

  function on(type, fn) { (handlers[type] = handlers[type] || []).push(fn); }

  function run(fns, arg) {
    fns.slice().forEach(function (fn) {
      // One view's failure must not leave the others without the frame; it is still reported
      // as the uncaught error it is.
      try { fn(arg); } catch (e) { setTimeout(function () { throw e; }, 0); }
    });
  }

  /* A frame from the server: to the views subscribed to its type, then to every-frame hooks. */
  function dispatch(frame) {
    if (frame.type === 'hello' && frame.agent && typeof frame.agent === 'object') session.me = frame.agent;
    run(handlers[frame.type] || [], frame);
    run(frameHooks, frame);
  }

  /* One of the console's own events (see the top of this file). */
  function emit(type, detail) {
    var frame = { type: 'console:' + type };
    Object.keys(detail || {}).forEach(function (k) { frame[k] = detail[k]; });
    run(handlers[frame.type] || [], frame);
  }

  /* ------------------------------------------------------------------ session */

  function start(agent) {
    session.me = agent || null;
    run(startHooks, session.me);
  }

  /* Signed out (or the session expired): every view forgets what it held. */
  function stop(message) {
    session.me = null;
    session.teams = [];
    run(stopHooks, message || null);
  }

  window.HandoffConsole = {
    // helpers
    $: $, el: el, clear: clear, enc: enc, cssEscape: cssEscape, newClientId: newClientId, label: label,
    toDate: toDate, tsOf: tsOf, fmtTime: fmtTime, fmtDateTime: fmtDateTime, fmtDuration: fmtDuration,
    waitingText: waitingText, summaryOf: summaryOf, firstLine: firstLine, customerTitle: customerTitle,
    languageOf: languageOf, agentUsername: agentUsername, isMine: isMine, isSupervisor: isSupervisor,
    safeUrl: safeUrl, onActivate: onActivate, OWNED_STATES: OWNED_STATES, MAX_MESSAGE: 4000,
    // teams, notices, HTTP
    teamLabel: teamLabel, loadTeams: loadTeams, teams: function () { return session.teams; },
    notify: notify, announce: announce, api: api, call: call, snapshots: snapshots,
    conversationPart: conversationPart,
    // session and frames
    me: me, myName: myName, start: start, stop: stop,
    on: on, emit: emit, dispatch: dispatch,
    onFrame: function (fn) { frameHooks.push(fn); },
    onStart: function (fn) { startHooks.push(fn); },
    onStop: function (fn) { stopHooks.push(fn); }
    // and what the views publish: C.open (conversation.js), C.queue, C.mine, C.reply...
  };
})();
