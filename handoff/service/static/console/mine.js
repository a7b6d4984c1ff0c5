/* "My conversations": those assigned or transferred to this agent (GET /api/conversations),
 * kept up to date by the conversation.state, message and note frames.
 *
 * Counts the customer replies the agent has not seen (a conversation not on screen), shows a
 * transfer's note on the conversation transferred to me, and the agent's limit.
 * Publishes C.mine = {upsert(conv), remove(id), reload(), has(id), setLanguage(id, language)}.
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var t = window.HandoffI18n.t;
  var $ = C.$;
  var el = C.el;

  // conversations: light records (no transcript); unread: id -> customer turns not seen;
  // lastNote: id -> its latest note; notesAsked: ids whose notes were asked for.
  var view = { conversations: [], selected: null, unread: {}, lastNote: {}, notesAsked: {} };

  function indexOf(id) {
    for (var i = 0; i < view.conversations.length; i++) if (view.conversations[i].id === id) return i;
    return -1;
  }

  function unreadTotal() {
    var n = 0;
    view.conversations.forEach(function (c) { n += view.unread[c.id] || 0; });
    return n;
  }

  function render() {
    var list = $('mine-list');
    C.clear(list);
    view.conversations.forEach(function (conv) { list.appendChild(renderItem(conv)); });
    var count = view.conversations.length;
    $('mine-count').textContent = String(count);
    $('mine-empty').hidden = count > 0;
    var me = C.me();
    var max = me && me.max_conversations;
    var limit = $('mine-limit');
    limit.textContent = max ? t('mine.limit', { n: count, max: max }) : '';
    limit.hidden = !(max && count >= max);
    C.emit('unread', { count: unreadTotal() });
    C.emit('load', { count: count, max: max || null });
  }

  function renderItem(conv) {
    var unread = view.unread[conv.id] || 0;
    var ticket = conv.ticket || {};
    var language = C.languageOf(conv);
    var summary = C.summaryOf(ticket);
    var li = el('li', {
      class: 'item mine-item' + (conv.id === view.selected ? ' selected' : ''),
      'data-testid': 'my-conversation', 'data-conversation-id': conv.id, tabindex: '0'
    }, [
      el('div', { class: 'item-head' }, [
        el('span', { class: 'item-title', text: C.customerTitle(conv) }),
        unread ? el('span', { class: 'unread', 'data-testid': 'unread', text: t('mine.unread', { n: unread }) }) : null
      ]),
      el('div', { class: 'item-tags' }, [
        el('span', { class: 'tag tag-state tag-state-' + conv.state, text: C.label('state', conv.state) }),
        ticket.reason ? el('span', { class: 'tag', text: C.label('reason', ticket.reason) }) : null,
        language ? el('span', { class: 'tag', 'data-testid': 'mine-language', text: String(language).toUpperCase() }) : null,
        ticket.channel ? el('span', { class: 'tag', text: C.label('channel', ticket.channel) }) : null
      ]),
      summary ? el('p', { class: 'item-summary', text: C.firstLine(summary) }) : null
    ]);
    if (conv.state === 'transferred') addTransferred(li, conv);
    C.onActivate(li, function (fromKeyboard) { C.open(conv.id, { focus: fromKeyboard }); });
    return li;
  }

  /* Transferred to me: the flag, the colleague's note and the Accept button. */
  function addTransferred(li, conv) {
    li.classList.add('transferred');
    li.setAttribute('data-transferred', 'true');
    var note = view.lastNote[conv.id];
    var accept = el('button', { type: 'button', class: 'btn btn-primary btn-small', 'data-testid': 'accept-button',
      'data-conversation-id': conv.id, text: t('transfer.accept') });
    accept.addEventListener('click', function (ev) { ev.stopPropagation(); C.accept(conv.id, accept); });
    li.insertBefore(el('div', { class: 'transfer-flag', 'data-testid': 'transferred-to-you', text: t('transfer.toYou') }),
      li.firstChild);
    if (note && note.text) li.appendChild(el('p', { class: 'item-note', 'data-testid': 'transfer-note-text', text: note.text }));
    li.appendChild(el('div', { class: 'item-actions' }, [accept]));
  }

  var conversations = C.snapshots(function () { return C.call('GET', '/api/conversations'); },
    function (d) { view.conversations = Array.isArray(d.conversations) ? d.conversations : []; });

  function upsert(conv) {
    var light = {};
    Object.keys(conv).forEach(function (k) { if (k !== 'transcript') light[k] = conv[k]; });
    conversations.change(function () {
      var i = indexOf(conv.id);
      if (i >= 0) view.conversations[i] = light; else view.conversations.push(light);
    });
    render();
  }

  function remove(id) {
    var removed = conversations.change(function () {
      var i = indexOf(id);
      if (i >= 0) view.conversations.splice(i, 1);
      return i >= 0;
    });
    if (removed) render();
  }

  function reload() {
    return conversations.load().then(function (answered) {
      if (!answered) return;
      render();
      loadTransferNotes();
    }).catch(function (err) { if (err.status !== 401) C.notify(err.message); });
  }

  function rememberNote(convId, note) {
    var prev = view.lastNote[convId];
    if (!prev || (C.tsOf(note) || 0) >= (C.tsOf(prev) || 0)) view.lastNote[convId] = note;
  }

  /* A conversation transferred to me shows its transfer note in my list, even after a reload. */
  function loadTransferNotes() {
    view.conversations.forEach(function (conv) {
      if (conv.state !== 'transferred' || view.lastNote[conv.id] || view.notesAsked[conv.id]) return;
      view.notesAsked[conv.id] = true;
      C.call('GET', '/api/conversations/' + C.enc(conv.id) + '/notes').then(function (d) {
        var list = Array.isArray(d.notes) ? d.notes : [];
        if (list.length) { rememberNote(conv.id, list[list.length - 1]); render(); }
      }).catch(function () { delete view.notesAsked[conv.id]; });
    });
  }

  function setLanguage(id, language) {
    var i = indexOf(id);
    if (i >= 0 && view.conversations[i].language !== language) {
      view.conversations[i].language = language;
      render();
    }
  }

  function onState(f) {
    var id = f.conversation_id;
    var me = C.me();
    var mineNow = C.OWNED_STATES[f.state] && me && C.agentUsername(f.agent) === me.username;
    if (!mineNow) { remove(id); return; }
    var i = indexOf(id);
    var incoming = f.state === 'transferred' && (i < 0 || view.conversations[i].state !== 'transferred');
    if (i < 0) reload();
    else {
      conversations.change(function () {
        var j = indexOf(id);
        if (j >= 0) view.conversations[j].state = f.state; else reload();  // not in an older answer
      });
      render();
    }
    if (incoming) {
      C.notify(t('transfer.incoming'), 'info');
      C.announce(t('transfer.incoming'));
    }
  }

  C.on('conversation.state', onState);
  C.on('message', function (f) {
    if (f.language) setLanguage(f.conversation_id, f.language);
    var i = indexOf(f.conversation_id);
    if (i < 0 || !f.turn || f.turn.kind !== 'customer' || f.conversation_id === view.selected) return;
    view.unread[f.conversation_id] = (view.unread[f.conversation_id] || 0) + 1;
    render();
    C.emit('reply', { conversation: view.conversations[i], turn: f.turn });
  });
  C.on('note', function (f) {
    if (!f.conversation_id || !f.note) return;
    rememberNote(f.conversation_id, f.note);
    if (indexOf(f.conversation_id) >= 0) render();
  });
  C.on('console:opened', function (f) {
    view.selected = f.conversation_id;
    if (f.conversation_id) view.unread[f.conversation_id] = 0;
    render();
  });
  C.on('console:connected', reload);
  C.onStart(reload);
  C.onStop(function () {
    view = { conversations: [], selected: null, unread: {}, lastNote: {}, notesAsked: {} };
    render();
  });

  C.mine = { upsert: upsert, remove: remove, reload: reload, setLanguage: setLanguage,
    has: function (id) { return indexOf(id) >= 0; }, rememberNote: rememberNote };
})();
