/* The reply box under the open conversation: a reply to the customer or an internal note,
 * drafts kept per conversation, the agent's typing signals and "Customer is typing…".
 * Enter sends, Shift+Enter makes a new line; canned.js takes the keys while its list is open.
 * Publishes C.reply = {changed(), stopTyping(), customerTyping(on), enable(canWrite),
 * leave(id), enter(id), forget(id)}.
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var t = window.HandoffI18n.t;
  var $ = C.$;

  var TYPING_EVERY_MS = 3000;     // resend "typing" at most this often while the agent types
  var TYPING_IDLE_MS = 5000;      // "stopped typing" after this long without a keystroke
  var TYPING_SHOW_MS = 8000;      // hide "Customer is typing…" after this long without news

  // drafts: conversation id -> {text, note}: what was in the box when the agent left it.
  var view = { noteMode: false, drafts: {}, typingInTimer: null,
    typingOut: { convId: null, active: false, lastSent: 0, idle: null } };

  function input() { return $('reply-input'); }

  function setNoteMode(on) {
    view.noteMode = !!on;
    $('reply-form').setAttribute('data-mode', on ? 'note' : 'reply');
    $('note-toggle').setAttribute('aria-pressed', on ? 'true' : 'false');
    $('mode-reply').setAttribute('aria-pressed', on ? 'false' : 'true');
    input().setAttribute('placeholder', t(on ? 'note.placeholder' : 'reply.placeholder'));
    $('reply-send').textContent = t(on ? 'note.send' : 'reply.send');
    if (on) stopTyping();
  }

  function updateCount() {
    var n = input().value.length;
    $('reply-count').textContent = n > C.MAX_MESSAGE * 0.8 ? n + ' / ' + C.MAX_MESSAGE : '';
  }

  /* The text to send, or null (nothing to send, not mine, too long: told). */
  function takeText(conv) {
    var text = input().value;
    if (!text.trim() || !conv || !C.isMine(conv)) return null;
    if (text.length > C.MAX_MESSAGE) {
      C.notify(t('reply.tooLong', { n: text.length, max: C.MAX_MESSAGE }));
      return null;
    }
    return text;
  }

  function emptyBox(convId) {
    input().value = '';
    delete view.drafts[convId];
    updateCount();
    C.canned.close();
  }

  function send() {
    if (view.noteMode) { sendNote(); return; }
    var conv = C.conversation.current();
    var text = takeText(conv);
    if (text == null) return;
    if (conv.reach && conv.reach.can_reply === false) {
      C.notify(t('reach.closed', { channel: C.label('channel', conv.reach.channel) }));
      return;
    }
    emptyBox(conv.id);
    stopTyping();
    C.transcript.send(conv.id, text);
  }

  function sendNote() {
    var conv = C.conversation.current();
    var text = takeText(conv);
    if (text == null) return;
    var id = conv.id;
    emptyBox(id);
    C.call('POST', '/api/conversations/' + C.enc(id) + '/notes', { text: text }).then(function (d) {
      if (d && d.note) C.conversation.noteAdded(id, d.note);
    }).catch(function (err) {
      if (err.status === 401) return;
      C.notify(err.message, 'error', err.code);
      if (C.conversation.id() === id && !input().value) input().value = text;
    });
  }

  /* ---- the agent's typing, told to the customer ---- */

  function postTyping(convId, typing, keepalive) {
    if (!convId) return;
    try {
      fetch('/api/conversations/' + C.enc(convId) + '/typing', {
        method: 'POST', credentials: 'same-origin', cache: 'no-store', keepalive: !!keepalive,
        headers: { 'Content-Type': 'application/json', 'Accept': 'application/json',
          'Accept-Language': window.HandoffI18n.lang },
        body: JSON.stringify({ typing: !!typing })
      }).catch(function () { /* a lost typing signal does not matter */ });
    } catch (e) { /* idem */ }
  }

  /* On every change of the box: "typing" at most every 3 s, "stopped" when the box is emptied,
   * after 5 s without a keystroke, on send, or when the agent leaves the conversation. */
  function typingInput() {
    var conv = C.conversation.current();
    var o = view.typingOut;
    var v = input().value;
    if (!conv || !C.isMine(conv) || view.noteMode || !v.trim()) { stopTyping(); return; }
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
    var o = view.typingOut;
    clearTimeout(o.idle);
    o.idle = null;
    if (!o.active) return;
    o.active = false;
    postTyping(o.convId, false);
  }

  function customerTyping(on) {
    var box = $('typing-indicator');
    clearTimeout(view.typingInTimer);
    box.hidden = !on;
    if (on) view.typingInTimer = setTimeout(function () { box.hidden = true; }, TYPING_SHOW_MS);
  }

  /* ---- the box follows the open conversation ---- */

  /* Leaving a conversation: keep its draft, stop the typing signals. */
  function leave(id) {
    var box = input();
    if (id) {
      if (box.value || view.noteMode) view.drafts[id] = { text: box.value, note: view.noteMode };
      else delete view.drafts[id];
    }
    stopTyping();
    C.canned.reset();
    customerTyping(false);
    box.value = '';
    setNoteMode(false);
  }

  /* Opening one: its draft comes back. */
  function enter(id) {
    var draft = view.drafts[id] || { text: '', note: false };
    input().value = draft.text;
    setNoteMode(draft.note);
    updateCount();
  }

  /* Only the agent who owns the conversation writes in it. */
  function enable(canWrite) {
    $('reply-form').hidden = !canWrite;
    input().disabled = !canWrite;
    if (!canWrite) { stopTyping(); C.canned.close(); customerTyping(false); }
  }

  function changed() {
    updateCount();
    typingInput();
  }

  function onKeydown(ev) {
    var enterKey = ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229;
    if (C.canned.keydown(ev, enterKey)) return;
    if (enterKey) {
      ev.preventDefault();
      send();
    }
  }

  C.on('typing', function (f) {
    var conv = C.conversation.current();
    if (f.conversation_id === C.conversation.id() && conv && C.isMine(conv)) customerTyping(!!f.typing);
  });
  C.on('message', function (f) {
    if (f.turn && f.turn.kind === 'customer' && f.conversation_id === C.conversation.id()) customerTyping(false);
  });
  C.onStop(function () {
    view.typingOut.active = false;
    clearTimeout(view.typingOut.idle);
    view.drafts = {};
    input().value = '';
    setNoteMode(false);
    C.canned.close();
    customerTyping(false);
  });

  $('reply-form').addEventListener('submit', function (ev) { ev.preventDefault(); send(); });
  input().addEventListener('keydown', onKeydown);
  input().addEventListener('input', function () { updateCount(); C.canned.input(); typingInput(); });
  $('note-toggle').addEventListener('click', function () { setNoteMode(!view.noteMode); input().focus(); });
  $('mode-reply').addEventListener('click', function () { setNoteMode(false); input().focus(); });
  window.addEventListener('pagehide', function () {
    var o = view.typingOut;
    if (o.active) postTyping(o.convId, false, true);
  });

  C.reply = { changed: changed, stopTyping: stopTyping, customerTyping: customerTyping, enable: enable,
    leave: leave, enter: enter, forget: function (id) { delete view.drafts[id]; } };
})();
