/* Customer chat page: speaks Rasa's socket.io protocol.
 *
 *   connect          -> emit('session_request', {session_id: <saved id> | null})
 *   session_confirm  <- session id (string) or {session_id}; saved in localStorage
 *   emit('user_uttered', {message, session_id, metadata: {language}})
 *   bot_uttered      <- {text?, quick_replies?|buttons?, attachment?|image?, agent?}
 *   emit('user_typing', {session_id, typing})   while the customer types (at most every 3 s)
 *   agent_typing     <- {typing, agent}: "Marie is typing…"
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
  var TYPING_EVERY_MS = 3000;     // resend "typing" at most this often while the customer types
  var TYPING_IDLE_MS = 5000;      // "stopped typing" after this long without a keystroke
  var TYPING_SHOW_MS = 8000;      // hide "Marie is typing…" after this long without news

  var socket = null;
  var sessionId = load(localStorage_(), SESSION_KEY);
  var confirmed = false;          // session_confirm received on the current connection
  var outbox = [];                // messages typed while not connected / not confirmed
  var history = [];

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
    if (msg.text) bubble.appendChild(el('div', { class: 'text', 'data-testid': 'chat-text', text: msg.text }));
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
      'data-agent': msg.from === 'agent' ? msg.agent : null
    }, [name, bubble]);
    if (Array.isArray(msg.buttons) && msg.buttons.length) row.appendChild(renderButtons(msg.buttons, opts.restored));
    messagesBox.appendChild(row);
    if (!opts.restored) {
      remember({ from: msg.from, text: msg.text || '', agent: msg.agent || null, image: img || null });
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

  function send(message, shownText) {
    if (!message || !String(message).trim()) return;
    var row = addMessage({ from: 'customer', text: shownText != null ? shownText : message });
    var item = { message: String(message), row: row };
    if (socket && socket.connected && confirmed) {
      emit(item);
    } else {
      row.classList.add('queued');
      row.setAttribute('data-queued', 'true');
      row.appendChild(el('div', { class: 'queued-note', text: t('chat.queued') }));
      outbox.push(item);
    }
  }

  function emit(item) {
    socket.emit('user_uttered', {
      message: item.message,
      session_id: sessionId,
      metadata: { language: lang }
    });
    if (item.row) {
      item.row.classList.remove('queued');
      item.row.removeAttribute('data-queued');
      var note = item.row.querySelector('.queued-note');
      if (note) note.parentNode.removeChild(note);
    }
  }

  function flushOutbox() {
    while (outbox.length && socket && socket.connected && confirmed) emit(outbox.shift());
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
    var agent = typeof data.agent === 'string' && data.agent ? data.agent
      : (data.agent && typeof data.agent === 'object' && data.agent.name ? String(data.agent.name) : null);
    var msg = {
      from: agent ? 'agent' : 'bot',
      agent: agent,
      text: data.text != null ? String(data.text) : '',
      image: imageOf(data),
      buttons: asButtons(data.quick_replies).concat(asButtons(data.buttons)),
      elements: elementsOf(data)
    };
    if (agent || data.notice) showAgentTyping(false);
    if (!msg.text && !msg.image && !msg.buttons.length && !(msg.elements && msg.elements.length)) return;
    addMessage(msg);
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
      socket.emit('session_request', { session_id: sessionId || null });
    });

    socket.on('session_confirm', function (data) {
      var id = typeof data === 'string' ? data : (data && data.session_id);
      if (id) {
        id = String(id);
        if (id !== sessionId) {
          sessionId = id;
          save(localStorage_(), SESSION_KEY, id);
          if (history.length) save(sessionStorage_(), HISTORY_KEY + id, JSON.stringify(history));
        }
      }
      confirmed = !!sessionId;
      setStatus('connected');
      flushOutbox();
    });

    socket.on('bot_uttered', onBotUttered);
    socket.on('agent_typing', onAgentTyping);

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
    history = loadHistory();
    history.forEach(function (m) { addMessage(m, { restored: true }); });
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
