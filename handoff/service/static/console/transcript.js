/* The open conversation's transcript: customer, bot and agent turns and internal notes in one
 * timeline, and the agent's messages on their way (on the console's socket, or POST …/messages
 * while it is down or silent, with a client_id: shown at once, confirmed, resent or reported
 * undelivered).
 *
 * Every turn or note is shown once (by id): a reconnection's reload and the pushed frame may
 * bring the same one twice. Pending messages of the open conversation survive a re-render.
 * Publishes C.transcript = {render(conv, keepScroll), append(turn, clientId), addNote(note),
 * send(convId, text)} and C.onTurn(fn(node, turn, conversationId)) for extensions
 * (good-answers.js).
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var I18N = window.HandoffI18n;
  var t = I18N.t;
  var $ = C.$;
  var el = C.el;

  // shownIds / shownNotes: ids on screen for the open conversation; pending: client_id ->
  // {clientId, convId, text, el, status, messageId}, for every conversation.
  var view = { shownIds: {}, shownNotes: {}, pending: {} };
  // A message sent on the socket and not answered by then is posted (same client_id).
  var SOCKET_ANSWER_MS = 10000;
  var turnHooks = [];

  function box() { return $('transcript'); }

  function nearBottom(node) { return node.scrollHeight - node.scrollTop - node.clientHeight < 80; }

  function scrollToBottom(node) { node.scrollTop = node.scrollHeight; }

  /* Turns and notes in one timeline, by timestamp (an item without one stays after the previous). */
  function timeline(turns, notes) {
    var items = [];
    var last = -Infinity;
    turns.forEach(function (turn, i) {
      var ts = C.tsOf(turn);
      if (ts == null) ts = last; else last = ts;
      items.push({ ts: ts, order: i, turn: turn });
    });
    notes.forEach(function (note, i) {
      var ts = C.tsOf(note);
      items.push({ ts: ts == null ? Infinity : ts, order: turns.length + i, note: note });
    });
    items.sort(function (a, b) { return a.ts === b.ts ? a.order - b.order : (a.ts < b.ts ? -1 : 1); });
    return items;
  }

  function render(conv, keepScroll) {
    var node = box();
    var oldTop = node.scrollTop;
    var wasBottom = nearBottom(node);
    C.clear(node);
    view.shownIds = {};
    view.shownNotes = {};
    timeline(conv.transcript || [], conv.notes || []).forEach(function (item) {
      if (item.note) addNote(item.note, true);
      else append(item.turn, item.turn.client_id);
    });
    // Messages typed here and not yet confirmed by the server stay on screen, after the transcript.
    Object.keys(view.pending).forEach(function (cid) {
      var p = view.pending[cid];
      if (p.convId !== conv.id) return;
      if (p.messageId && view.shownIds[p.messageId]) { settle(p); return; }
      node.appendChild(p.el);
    });
    if (keepScroll && !wasBottom) node.scrollTop = oldTop; else scrollToBottom(node);
  }

  /* The server's turn of a pending message is on screen: nothing more to wait for or to send
   * (the delivered turn can come back before the socket's answer). */
  function settle(p) {
    clearTimeout(p.onSocket);
    p.onSocket = null;
    delete view.pending[p.clientId];
  }

  function pendingByMessageId(messageId) {
    if (!messageId) return null;
    var keys = Object.keys(view.pending);
    for (var i = 0; i < keys.length; i++) {
      if (view.pending[keys[i]].messageId === messageId) return view.pending[keys[i]];
    }
    return null;
  }

  /* Shows one turn of the open conversation; drops it when its id is already shown; replaces
   * the optimistic copy of an agent message when the server's turn comes back. */
  function append(turn, clientId) {
    if (!turn) return;
    if (turn.id && view.shownIds[turn.id]) return;
    var node = box();
    var stick = nearBottom(node);
    var p = (clientId && view.pending[clientId]) || pendingByMessageId(turn.id);
    var shown = renderTurn(turn);
    var ts = C.tsOf(turn);
    if (ts != null) shown.setAttribute('data-ts', String(ts));
    if (p && p.el.parentNode === node) node.replaceChild(shown, p.el);
    else node.appendChild(shown);
    if (p) settle(p);
    if (turn.id) view.shownIds[turn.id] = true;
    if (stick) scrollToBottom(node);
  }

  function timeNode(ts) {
    var d = C.toDate(ts);
    return el('time', { class: 'turn-time', datetime: d ? d.toISOString() : null, text: C.fmtTime(ts) });
  }

  function renderTurn(turn) {
    var kind = turn.kind || 'bot';
    var time = C.fmtTime(turn.timestamp);

    if (kind === 'marker') {
      var mkey = 'marker.' + (turn.marker || '');
      return el('div', {
        class: 'turn turn-marker', 'data-testid': 'turn', 'data-kind': 'marker',
        'data-marker': turn.marker || '', 'data-turn-id': turn.id || null, role: 'separator'
      }, [
        el('span', { class: 'marker-text', text: I18N.has(mkey) ? t(mkey) : (turn.text || turn.marker || '') }),
        time ? timeNode(turn.timestamp) : null
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
      var url = C.safeUrl(att.url || (att.payload && (att.payload.src || att.payload.url)));
      var attText = t('turn.attachment', { type: att.type || '?' });
      bubble.appendChild(url
        ? el('a', { class: 'turn-extra turn-link', href: url, target: '_blank', rel: 'noopener noreferrer', text: attText })
        : el('div', { class: 'turn-extra', text: attText }));
    }
    var node = el('div', {
      class: 'turn turn-' + kind, 'data-testid': 'turn', 'data-kind': kind,
      'data-turn-id': turn.id || null, 'data-client-id': turn.client_id || null
    }, [
      el('div', { class: 'turn-meta' }, [el('span', { class: 'turn-who', text: who }), ' ', timeNode(turn.timestamp)]),
      bubble
    ]);
    var convId = C.conversation.id();
    turnHooks.forEach(function (fn) { fn(node, turn, convId); });  // e.g. good-answers.js
    return node;
  }

  /* ---- internal notes ---- */

  function renderNote(note) {
    var ts = C.tsOf(note);
    return el('div', {
      class: 'turn turn-note', 'data-testid': 'note', 'data-kind': 'note', 'data-note-id': note.id || null,
      'data-ts': ts != null ? String(ts) : null
    }, [
      el('div', { class: 'turn-meta' }, [
        el('span', { class: 'note-label', text: t('note.label') }), ' · ',
        el('span', { class: 'turn-who', text: note.agent_name || note.agent || '?' }), ' ',
        timeNode(note.timestamp)
      ]),
      el('div', { class: 'bubble note-bubble' }, [
        el('div', { class: 'turn-text', 'data-testid': 'note-text', text: note.text || '' })
      ])
    ]);
  }

  /* Shows a note of the open conversation once, at its place in time. */
  function addNote(note, inOrder) {
    if (!note) return;
    if (note.id && view.shownNotes[note.id]) return;
    var node = box();
    var stick = nearBottom(node);
    var ts = C.tsOf(note);
    var before = null;
    if (!inOrder && ts != null) {
      for (var i = 0; i < node.children.length; i++) {
        var other = Number(node.children[i].getAttribute('data-ts'));
        if (node.children[i].hasAttribute('data-ts') && other > ts) { before = node.children[i]; break; }
      }
    }
    node.insertBefore(renderNote(note), before);
    if (note.id) view.shownNotes[note.id] = true;
    if (stick) scrollToBottom(node);
  }

  /* ---- the agent's messages on their way ---- */

  function send(convId, text) {
    var clientId = C.newClientId();
    var turn = { kind: 'agent', text: text, timestamp: Date.now() / 1000, client_id: clientId, agent: C.myName() };
    var node = renderTurn(turn);
    node.setAttribute('data-ts', String(turn.timestamp));
    node.classList.add('pending');
    node.setAttribute('data-pending', 'true');
    var status = el('div', { class: 'turn-status', 'data-testid': 'turn-status' });
    node.appendChild(status);
    var p = { clientId: clientId, convId: convId, text: text, el: node, status: status, messageId: null };
    view.pending[clientId] = p;
    box().appendChild(node);
    scrollToBottom(box());
    post(p);
  }

  function setStatus(p, kind, reason) {
    var s = p.status;
    C.clear(s);
    p.el.classList.toggle('failed', kind === 'failed' || kind === 'undelivered');
    p.el.setAttribute('data-status', kind);
    if (kind === 'sending') { s.textContent = t('turn.sending'); return; }
    if (kind === 'accepted') { s.textContent = t('turn.accepted'); return; }
    s.appendChild(document.createTextNode(t(kind === 'failed' ? 'turn.failed' : 'turn.undelivered',
      { reason: reason || '' }) + ' '));
    var retry = el('button', { type: 'button', class: 'link-button', 'data-testid': 'retry-button', text: t('turn.retry') });
    retry.addEventListener('click', function () {
      if (kind === 'undelivered') {
        // The server knows this client_id already: a new one makes a new message.
        delete view.pending[p.clientId];
        p.clientId = C.newClientId();
        p.messageId = null;
        p.el.setAttribute('data-client-id', p.clientId);
        view.pending[p.clientId] = p;
      }
      post(p);
    });
    s.appendChild(retry);
  }

  /* Over the socket (answered by message.accepted / message.refused), else by POST: the same
   * client_id either way, so a message sent both ways is accepted once. */
  function post(p) {
    setStatus(p, 'sending');
    var frame = { type: 'message.send', conversation_id: p.convId, text: p.text, client_id: p.clientId,
                  language: window.HandoffI18n.lang };
    if (C.connection.send(frame)) {
      p.onSocket = setTimeout(function () { viaHttp(p); }, SOCKET_ANSWER_MS);
      return;
    }
    viaHttp(p);
  }

  function viaHttp(p) {
    clearTimeout(p.onSocket);
    p.onSocket = null;
    C.call('POST', '/api/conversations/' + C.enc(p.convId) + '/messages', { text: p.text, client_id: p.clientId })
      .then(function (d) { accepted(p, (d && d.message) || {}); })
      .catch(function (err) { refused(p, err); });
  }

  function accepted(p, m) {
    if (!view.pending[p.clientId]) return;           // the delivered turn came back first
    p.messageId = m.id || null;
    if (p.messageId && C.conversation.id() === p.convId && view.shownIds[p.messageId]) {
      if (p.el.parentNode) p.el.parentNode.removeChild(p.el);
      settle(p);
      return;
    }
    setStatus(p, 'accepted');
  }

  function refused(p, err) {
    if (!view.pending[p.clientId]) return;
    setStatus(p, 'failed', err.message);
    if (err.code === 'not_yours' && C.conversation.id() === p.convId) C.open(p.convId, { keepScroll: true });
  }

  /* The socket's answer to a message sent on it. */
  function answered(f) {
    var p = view.pending[f.client_id];
    if (!p || !p.onSocket) return;
    clearTimeout(p.onSocket);
    p.onSocket = null;
    if (f.type === 'message.accepted') { accepted(p, f.message || {}); return; }
    var e = f.error || {};
    if (e.code === 'unauthenticated') { viaHttp(p); return; }  // the HTTP answer signs out
    var err = new Error(e.message || t('error.network'));
    err.code = e.code;
    refused(p, err);
  }

  /* The socket went down: what it had not answered yet is posted. */
  function resendUnanswered() {
    Object.keys(view.pending).forEach(function (id) {
      var p = view.pending[id];
      if (p.onSocket) viaHttp(p);
    });
  }

  /* The delivery worker could not deliver an agent message (e.g. Messenger refused it). */
  function onFailed(f) {
    var reason = t('turn.undelivered', { reason: f.reason || '' });
    var p = pendingByMessageId(f.message_id);
    if (p) { setStatus(p, 'undelivered', f.reason || ''); return; }
    var node = f.conversation_id === C.conversation.id()
      ? document.querySelector('#transcript [data-turn-id="' + C.cssEscape(f.message_id || '') + '"]') : null;
    if (!node) { C.notify(reason); return; }
    node.classList.add('failed');
    node.appendChild(el('div', { class: 'turn-status', text: reason }));
  }

  C.on('message.failed', onFailed);
  C.on('message.accepted', answered);
  C.on('message.refused', answered);
  C.on('console:disconnected', resendUnanswered);
  C.onStop(function () {
    Object.keys(view.pending).forEach(function (id) { clearTimeout(view.pending[id].onSocket); });
    view = { shownIds: {}, shownNotes: {}, pending: {} };
  });

  C.onTurn = function (fn) { turnHooks.push(fn); };
  C.transcript = { render: render, append: append, addNote: addNote, send: send };
})();
