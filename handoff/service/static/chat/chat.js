/* Customer chat page: speaks Rasa's socket.io protocol.
 *
 *   connect          -> emit('session_request', {session_id: <saved token> | null, last_seen})
 *   session_confirm  <- the session token the server issued and signed; saved in localStorage
 *   emit('user_uttered', {message, session_id, message_id, metadata: {language}}, ack)
 *                       kept and resent (same message_id) until the server acknowledges it
 *   bot_uttered      <- {text?, quick_replies?|buttons?, attachment?|image?, metadata}: Rasa's
 *                       own fields only (other Rasa web clients read them too); the project's
 *                       extras are in metadata: {id, agent?, agent_message_id?, notice?, replayed?}
 *   user_echo        <- {id, message_id, text}: the customer's own messages, on replay
 *                       (after a reconnect the server replays everything after last_seen;
 *                       ids already shown are dropped, so nothing appears twice)
 *   emit('user_typing', {session_id, typing})   while the customer types (at most every 3 s)
 *   agent_typing     <- {typing, agent}: "Marie is typing…"
 *   queue_status     <- {position, wait_minutes | null}: place in line while waiting for a person
 *   /chat?link=HF-…  the first session_request carries {link}: a one-time code an agent sent on
 *                       another channel; the server answers with that conversation's session
 *                       and replays its history (or `link_error` if the code is used or expired)
 *
 * Every text from the bot, an agent or the customer is shown with textContent, never innerHTML.
 */
(function () {
  'use strict';

  var I18N = window.HandoffI18n;
  var t = I18N.t;
  var lang = I18N.lang;
  var cfg = window.HANDOFF_CONFIG || {};
  var SESSION_KEY = 'handoff.chat.session_id';
  var HISTORY_KEY = 'handoff.chat.history.';
  var HISTORY_MAX = 200;
  var LAST_SEEN_KEY = 'handoff.chat.last_seen.';
  var PENDING_KEY = 'handoff.chat.pending.';
  var ACK_TIMEOUT_MS = 20000;     // no ack by then: resent at the next (re)connection
  var TYPING_EVERY_MS = 3000;     // resend "typing" at most this often while the customer types
  var TYPING_IDLE_MS = 5000;      // "stopped typing" after this long without a keystroke
  var TYPING_SHOW_MS = 8000;      // hide "Marie is typing…" after this long without news

  var socket = null;
  var history_ = window.history;
  var sessionId = load(localStorage_(), SESSION_KEY);
  var confirmed = false;          // session_confirm received on the current connection
  var outbox = [];                // {message, messageId, row}: sent but not acknowledged yet
  var history = [];
  var seen = {};                  // journal ids and message ids already on screen
  var lastSeen = null;            // journal id of the latest message received
  var linkCode = (location.search.match(/[?&]link=([A-Za-z0-9-]{1,40})/) || [])[1] || null;

  var messagesBox = document.getElementById('chat-messages');
  var input = document.getElementById('chat-input');
  var form = document.getElementById('chat-form');
  var typingBox = document.getElementById('chat-typing');
  var typingOut = { active: false, lastSent: 0, idle: null };
  var typingInTimer = null;

  /* ------------------------------------------------------------------ storage */

  function localStorage_() { try { return window.localStorage; } catch (e) { return null; } }
  function sessionStorage_() { try { return window.sessionStorage; } catch (e) { return null; } }
  function load(store, key) { try { return store ? store.getItem(key) : null; } catch (e) { return null; } }
  function save(store, key, value) {
    try { if (store) { if (value == null) store.removeItem(key); else store.setItem(key, value); } } catch (e) { /* full or denied */ }
  }

  /* What the customer saw stays on screen when the page is reloaded in the same tab. */
  function loadHistory() {
    if (!sessionId) return [];
    try {
      var list = JSON.parse(load(sessionStorage_(), HISTORY_KEY + sessionId) || '[]');
      return Array.isArray(list) ? list : [];
    } catch (e) { return []; }
  }

  function remember(entry) {
    history.push(entry);
    if (history.length > HISTORY_MAX) history = history.slice(-HISTORY_MAX);
    if (sessionId) save(sessionStorage_(), HISTORY_KEY + sessionId, JSON.stringify(history));
  }

  /* ------------------------------------------------------------------ rendering */

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v == null || v === false) return;
      if (k === 'text') node.textContent = String(v);
      else if (k === 'class') node.className = v;
      else node.setAttribute(k, String(v));
    });
    (children || []).forEach(function (c) {
      if (c == null || c === false) return;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }

  function safeUrl(url) {
    if (typeof url !== 'string' || !url) return null;
    try {
      var u = new URL(url, location.href);
      return (u.protocol === 'http:' || u.protocol === 'https:') ? u.href : null;
    } catch (e) { return null; }
  }

  /* Text with its http(s) links clickable: text nodes and <a> elements, never parsed HTML. */
  function linkified(text) {
    var parts = [];
    var re = /https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)]/g;
    var last = 0;
    var m;
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) parts.push(text.slice(last, m.index));
      var url = safeUrl(m[0]);
      parts.push(url ? el('a', { href: url, target: '_blank', rel: 'noopener noreferrer', text: m[0] }) : m[0]);
      last = m.index + m[0].length;
    }
    if (last < text.length) parts.push(text.slice(last));
    return parts;
  }

  function nearBottom() {
    return messagesBox.scrollHeight - messagesBox.scrollTop - messagesBox.clientHeight < 120;
  }

  function scrollDown() { messagesBox.scrollTop = messagesBox.scrollHeight; }

  var lastFrom = null;   // sender key of the last bubble, to show the name only when it changes

  /* msg: {from: 'customer'|'bot'|'agent', text, agent?, image?, buttons?, elements?} */
  function addMessage(msg, opts) {
    opts = opts || {};
    var stick = nearBottom() || msg.from === 'customer';
    var senderKey = msg.from + ':' + (msg.agent || '');
    var showName = msg.from !== 'customer' && senderKey !== lastFrom;
    lastFrom = senderKey;

    var name = null;
    if (showName) {
      name = el('div', { class: 'sender', 'data-testid': 'chat-sender',
        text: msg.from === 'agent' ? t('chat.agent', { name: msg.agent }) : t('chat.bot') });
    }
    var bubble = el('div', { class: 'bubble' });
    if (msg.text) bubble.appendChild(el('div', { class: 'text', 'data-testid': 'chat-text' }, linkified(msg.text)));
    var img = safeUrl(msg.image);
    if (img) {
      bubble.appendChild(el('img', { class: 'image', src: img, alt: msg.text ? '' : t('chat.image'), loading: 'lazy',
        referrerpolicy: 'no-referrer' }));
    }
    (msg.elements || []).forEach(function (e) {
      var card = el('div', { class: 'card' }, [
        safeUrl(e.image_url) ? el('img', { class: 'image', src: safeUrl(e.image_url), alt: '', referrerpolicy: 'no-referrer' }) : null,
        e.title ? el('div', { class: 'card-title', text: String(e.title) }) : null,
        e.subtitle ? el('div', { class: 'card-subtitle', text: String(e.subtitle) }) : null
      ]);
      if (Array.isArray(e.buttons) && e.buttons.length) card.appendChild(renderButtons(e.buttons, opts.restored));
      bubble.appendChild(card);
    });

    var row = el('div', {
      class: 'message from-' + msg.from, 'data-testid': 'chat-message', 'data-from': msg.from,
      'data-agent': msg.from === 'agent' ? msg.agent : null,
      'data-message-id': msg.messageId || null, 'data-id': msg.id || null
    }, [name, bubble]);
    if (Array.isArray(msg.buttons) && msg.buttons.length) row.appendChild(renderButtons(msg.buttons, opts.restored));
    messagesBox.appendChild(row);
    if (msg.id) seen[msg.id] = true;
    if (msg.messageId) seen[msg.messageId] = true;
    if (!opts.restored) {
      remember({ from: msg.from, text: msg.text || '', agent: msg.agent || null, image: img || null,
        id: msg.id || null, messageId: msg.messageId || null });
    }
    if (stick) scrollDown();
    return row;
  }

  function renderButtons(buttons, disabled) {
    var group = el('div', { class: 'buttons', role: 'group' });
    buttons.forEach(function (b) {
      if (!b) return;
      var title = b.title != null ? String(b.title) : String(b.payload || '');
      if (!title) return;
      var url = b.type === 'web_url' ? safeUrl(b.url) : null;
      if (url) {
        group.appendChild(el('a', { class: 'chat-button link', 'data-testid': 'chat-button', href: url,
          target: '_blank', rel: 'noopener noreferrer', text: title }));
        return;
      }
      var btn = el('button', { type: 'button', class: 'chat-button', 'data-testid': 'chat-button', text: title });
      if (disabled) btn.disabled = true;
      btn.addEventListener('click', function () {
        var payload = b.payload != null && b.payload !== '' ? String(b.payload) : title;
        var all = group.querySelectorAll('button');
        for (var i = 0; i < all.length; i++) all[i].disabled = true;
        btn.classList.add('chosen');
        send(payload, title);
      });
      group.appendChild(btn);
    });
    return group;
  }

  /* ------------------------------------------------------------------ status */

  function setStatus(kind) {
    var node = document.getElementById('chat-status');
    node.setAttribute('data-state', kind);
    node.querySelector('.status-text').textContent = t('chat.status.' + kind);
  }

  /* ------------------------------------------------------------------ sending */

  function newId() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    return String(Date.now()) + Math.random().toString(16).slice(2);
  }

  function send(message, shownText) {
    if (!message || !String(message).trim()) return;
    var messageId = newId();
    var row = addMessage({ from: 'customer', text: shownText != null ? shownText : message, messageId: messageId });
    var item = { message: String(message), messageId: messageId, shown: shownText, row: row };
    outbox.push(item);
    savePending();
    markQueued(item, true);
    if (socket && socket.connected && confirmed) emit(item);
  }

  function markQueued(item, on, why) {
    if (!item.row) return;
    var note = item.row.querySelector('.queued-note');
    item.row.classList.toggle('queued', on);
    if (on) {
      item.row.setAttribute('data-queued', 'true');
      if (note) note.textContent = why || t('chat.queued');
      else item.row.appendChild(el('div', { class: 'queued-note', 'data-testid': 'chat-queued-note', text: why || t('chat.queued') }));
    } else {
      item.row.removeAttribute('data-queued');
      if (note) note.parentNode.removeChild(note);
    }
  }

  /* The server's refusals that no resend can change, and what the customer is told. */
  var REFUSED = { message_too_long: 'chat.tooLong', bad_text: 'chat.badText',
    empty_message: 'chat.empty', bad_message: 'chat.notSent' };

  /* Sends one message; it stays in the outbox until the server acknowledges it. */
  function emit(item) {
    if (item.inFlight) return;
    item.inFlight = true;
    markQueued(item, false);
    socket.timeout(ACK_TIMEOUT_MS).emit('user_uttered', {
      message: item.message,
      message_id: item.messageId,
      session_id: sessionId,
      metadata: { language: lang }
    }, function (err, ack) {
      item.inFlight = false;
      if (!err && ack && ack.ok) {
        var i = outbox.indexOf(item);
        if (i >= 0) outbox.splice(i, 1);
        savePending();
        if (item.row) item.row.setAttribute('data-delivered', 'true');
      } else if (ack && ack.error === 'rate_limited') {
        // Too many messages at once: this one waits its turn, nothing is lost.
        markQueued(item, true, t('chat.tooFast'));
        setTimeout(function () { if (socket && socket.connected && confirmed) emit(item); },
          Math.max(1, Number(ack.retry_after) || 5) * 1000);
      } else if (ack && REFUSED.hasOwnProperty(ack.error)) {
        // Sending it again cannot help: say so, and keep nothing to resend.
        var j = outbox.indexOf(item);
        if (j >= 0) outbox.splice(j, 1);
        savePending();
        markQueued(item, true, t(REFUSED[ack.error]));
      } else {
        markQueued(item, true);  // resent at the next session_confirm
      }
    });
  }

  function flushOutbox() {
    outbox.forEach(function (item) { if (socket && socket.connected && confirmed) emit(item); });
  }

  /* Unacknowledged messages survive a reload of the page (same tab). */
  function savePending() {
    if (!sessionId) return;
    save(sessionStorage_(), PENDING_KEY + sessionId, JSON.stringify(outbox.map(function (item) {
      return { message: item.message, messageId: item.messageId, shown: item.shown };
    })));
  }

  function loadPending() {
    if (!sessionId) return;
    try {
      var list = JSON.parse(load(sessionStorage_(), PENDING_KEY + sessionId) || '[]');
      (Array.isArray(list) ? list : []).forEach(function (p) {
        if (!p || !p.messageId || !p.message) return;
        var rows = messagesBox.querySelectorAll('[data-from="customer"]');
        var row = null;
        for (var i = 0; i < rows.length; i++) if (rows[i].getAttribute('data-message-id') === p.messageId) row = rows[i];
        var item = { message: p.message, messageId: p.messageId, shown: p.shown, row: row };
        outbox.push(item);
        markQueued(item, true);
      });
    } catch (e) { /* nothing to resend */ }
  }

  function setLastSeen(id) {
    if (!id) return;
    lastSeen = id;
    if (sessionId) save(sessionStorage_(), LAST_SEEN_KEY + sessionId, id);
  }

  function onSubmit(ev) {
    if (ev) ev.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    input.value = '';
    autoGrow();
    stopTyping();
    send(text);
    input.focus();
  }

  /* ------------------------------------------------------------------ typing */

  function emitTyping(typing) {
    if (!socket || !socket.connected || !confirmed || !sessionId) return false;
    socket.emit('user_typing', { session_id: sessionId, typing: !!typing });
    return true;
  }

  /* On every change of the box: "typing" at most every 3 s; "stopped" when the box is emptied,
   * after 5 s without a keystroke, or when the message is sent. */
  function onTypingInput() {
    if (!input.value.trim()) { stopTyping(); return; }
    var now = Date.now();
    if (!typingOut.active || now - typingOut.lastSent >= TYPING_EVERY_MS) {
      if (emitTyping(true)) {
        typingOut.active = true;
        typingOut.lastSent = now;
      }
    }
    clearTimeout(typingOut.idle);
    typingOut.idle = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(typingOut.idle);
    typingOut.idle = null;
    if (!typingOut.active) return;
    typingOut.active = false;
    emitTyping(false);
  }

  function showAgentTyping(on, name) {
    clearTimeout(typingInTimer);
    if (on) {
      typingBox.querySelector('.typing-text').textContent = name ? t('chat.typing', { name: name }) : t('chat.typingAnon');
      var stick = nearBottom();
      typingBox.hidden = false;
      if (stick) scrollDown();
      typingInTimer = setTimeout(function () { typingBox.hidden = true; }, TYPING_SHOW_MS);
    } else {
      typingBox.hidden = true;
    }
  }

  function onQueueStatus(data) {
    if (!data || typeof data !== 'object' || !(data.position > 0)) return;
    var box = document.getElementById('chat-queue');
    var place = data.position === 1 ? t('chat.queueNext') : t('chat.queuePlace', { position: data.position });
    var wait = data.wait_minutes > 0 ? t('chat.queueWait', { minutes: data.wait_minutes }) : t('chat.queueNoEstimate');
    clearNode(box);
    box.appendChild(el('span', { class: 'queue-text', text: place + ' ' + wait }));
    var cancel = el('button', { type: 'button', class: 'queue-cancel', 'data-testid': 'chat-cancel-wait',
      text: t('chat.cancelWait') });
    cancel.addEventListener('click', function () {
      if (!socket || !socket.connected) return;
      cancel.disabled = true;
      socket.timeout(ACK_TIMEOUT_MS).emit('cancel_wait', {}, function (err, ack) {
        if (err || !ack || !ack.ok) cancel.disabled = false;
      });
    });
    box.appendChild(cancel);
    box.setAttribute('data-position', String(data.position));
    box.hidden = false;
  }

  function clearNode(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function hideQueueStatus() { document.getElementById('chat-queue').hidden = true; }

  function onAgentTyping(data) {
    if (!data || typeof data !== 'object') return;
    var name = typeof data.agent === 'string' ? data.agent
      : (data.agent && typeof data.agent === 'object' && data.agent.name ? String(data.agent.name) : '');
    showAgentTyping(!!data.typing, name);
  }

  function autoGrow() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight, 160) + 'px';
  }

  /* ------------------------------------------------------------------ bot messages */

  function asButtons(list) {
    if (!Array.isArray(list)) return [];
    return list.filter(function (b) { return b && (b.title != null || b.payload != null); });
  }

  function imageOf(data) {
    if (typeof data.image === 'string') return data.image;
    var a = data.attachment;
    if (!a) return null;
    if (typeof a === 'string') return a;
    if (a.type === 'image' || a.type == null) {
      var p = a.payload || {};
      return (typeof p === 'string' ? p : (p.src || p.url)) || a.url || a.src || null;
    }
    return null;
  }

  function elementsOf(data) {
    var a = data.attachment;
    if (a && typeof a === 'object' && a.type === 'template' && a.payload && Array.isArray(a.payload.elements)) {
      return a.payload.elements;
    }
    return null;
  }

  function onBotUttered(data) {
    if (data == null) return;
    if (typeof data === 'string') data = { text: data };
    var meta = data.metadata && typeof data.metadata === 'object' ? data.metadata : {};
    if (meta.id && seen[meta.id]) { setLastSeen(String(meta.id)); return; }
    if (meta.id) setLastSeen(String(meta.id));
    var agent = typeof meta.agent === 'string' && meta.agent ? meta.agent
      : (meta.agent && typeof meta.agent === 'object' && meta.agent.name ? String(meta.agent.name) : null);
    var msg = {
      id: meta.id ? String(meta.id) : null,
      from: agent ? 'agent' : 'bot',
      agent: agent,
      text: data.text != null ? String(data.text) : '',
      image: imageOf(data),
      buttons: asButtons(data.quick_replies).concat(asButtons(data.buttons)),
      elements: elementsOf(data)
    };
    if ((agent || meta.notice) && !meta.replayed) showAgentTyping(false);
    if (agent || (meta.notice && meta.notice !== 'transferred_to_team')) hideQueueStatus();
    if (!msg.text && !msg.image && !msg.buttons.length && !(msg.elements && msg.elements.length)) return;
    addMessage(msg);
  }

  function clearConversation() {
    var rows = messagesBox.querySelectorAll('[data-testid="chat-message"]');
    for (var i = 0; i < rows.length; i++) rows[i].parentNode.removeChild(rows[i]);
    history = [];
    seen = {};
    lastFrom = null;
  }

  /* A customer message on replay: shown unless this page already shows it. */
  function onUserEcho(data) {
    if (!data || typeof data !== 'object') return;
    if (data.id) setLastSeen(String(data.id));
    if ((data.id && seen[data.id]) || (data.message_id && seen[data.message_id])) return;
    addMessage({ from: 'customer', text: data.text != null ? String(data.text) : '', id: data.id ? String(data.id) : null,
      messageId: data.message_id ? String(data.message_id) : null });
  }

  /* ------------------------------------------------------------------ socket */

  function connect() {
    if (typeof window.io !== 'function') {
      setStatus('offline');
      return;
    }
    var opts = { path: cfg.socketPath || '/socket.io', transports: ['websocket', 'polling'] };
    socket = cfg.rasaUrl ? window.io(cfg.rasaUrl, opts) : window.io(opts);
    setStatus('connecting');

    socket.on('connect', function () {
      confirmed = false;
      setStatus('connecting');
      var request = { session_id: sessionId || null, last_seen: lastSeen };
      if (linkCode) request.link = linkCode;
      socket.emit('session_request', request);
    });

    socket.on('session_confirm', function (data) {
      var id = typeof data === 'string' ? data : (data && data.session_id);
      if (id) {
        id = String(id);
        if (linkCode) {
          linkCode = null;  // used once; the address bar forgets it too
          try { history_.replaceState(null, '', location.pathname + location.search.replace(/([?&])link=[^&]*&?/, '$1').replace(/[?&]$/, '')); } catch (e) { /* old browser */ }
        }
        if (id !== sessionId) {
          // Another conversation (a link from another channel, or the saved token was refused):
          // what was on screen belongs to the old one; the new one's history is replayed.
          if (sessionId) clearConversation();
          sessionId = id;
          lastSeen = null;
          save(localStorage_(), SESSION_KEY, id);
          if (history.length) save(sessionStorage_(), HISTORY_KEY + id, JSON.stringify(history));
          savePending();
        }
      }
      confirmed = !!sessionId;
      setStatus('connected');
      flushOutbox();
    });

    socket.on('bot_uttered', onBotUttered);
    socket.on('user_echo', onUserEcho);
    socket.on('link_error', function () {
      messagesBox.appendChild(el('p', { class: 'system-note', 'data-testid': 'chat-link-error', text: t('chat.linkExpired') }));
    });
    socket.on('agent_typing', onAgentTyping);
    socket.on('queue_status', onQueueStatus);

    socket.on('disconnect', function () {
      confirmed = false;
      typingOut.active = false;
      showAgentTyping(false);
      setStatus(navigator.onLine === false ? 'offline' : 'reconnecting');
    });
    socket.on('connect_error', function () {
      confirmed = false;
      setStatus(navigator.onLine === false ? 'offline' : 'reconnecting');
    });
  }

  /* ------------------------------------------------------------------ start */

  function init() {
    I18N.apply(document);
    // In the widget's frame (/chat?embed=1): fill the frame, no page margins.
    if (/[?&]embed=1\b/.test(location.search)) document.documentElement.classList.add('embedded');
    history = loadHistory();
    history.forEach(function (m) { addMessage(m, { restored: true }); });
    if (sessionId) lastSeen = load(sessionStorage_(), LAST_SEEN_KEY + sessionId);
    loadPending();
    scrollDown();

    form.addEventListener('submit', onSubmit);
    input.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        onSubmit();
      }
    });
    input.addEventListener('input', function () { autoGrow(); onTypingInput(); });
    window.addEventListener('pagehide', stopTyping);
    window.addEventListener('offline', function () { setStatus('offline'); });
    connect();
    input.focus();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
