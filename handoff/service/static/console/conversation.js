/* The conversation in the middle of the console: which one is open, its compact header, and
 * what the agent does with it (claim, accept a transfer, move to another channel, hand back to
 * the bot, close after a confirmation). The transcript (transcript.js), the reply box (reply.js),
 * the transfer panel (transfer.js) and the context panel (context.js) show its parts.
 *
 * Actions that cannot work are not offered: "Continue on Messenger" only when Messenger is set up
 * here (GET /api/moves), and only while the customer can still be reached.
 * Publishes C.open(id, {focus, keepScroll}), C.claim(id, button), C.accept(id, button) and
 * C.conversation = {id(), current(), busy(), setBusy(b), closeView(), noteAdded(id, note)}.
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var I18N = window.HandoffI18n;
  var t = I18N.t;
  var lang = I18N.lang;
  var $ = C.$;
  var el = C.el;
  var label = C.label;

  var RESOLUTIONS = ['resolved', 'not_resolved', 'no_answer', 'duplicate'];
  var FALLBACK_FLOWS = [
    { id: 'anything_else', label: { en: 'Ask whether there is anything else', fr: 'Demander s’il y a autre chose' } },
    { id: 'satisfaction', label: { en: 'Satisfaction survey', fr: 'Enquête de satisfaction' } }
  ];
  var BUSY_CONTROLS = ['conv-claim', 'conv-accept', 'transfer-button', 'move-button', 'transfer-submit',
    'handback-button', 'close-button', 'close-confirm-yes', 'close-resolution', 'handback-flow'];

  // openGen guards against late answers for a conversation no longer open; busy: an action on
  // it is running; moveTargets (GET /api/moves): channels a conversation can move to.
  var view = { openId: null, conv: null, openGen: 0, busy: false, flows: [], moveTargets: { web: true } };

  /* ------------------------------------------------------------------ opening */

  function open(id, opts) {
    opts = opts || {};
    var switching = view.openId !== id;
    if (switching) leave();
    view.openId = id;
    var gen = ++view.openGen;
    C.emit('opened', { conversation_id: id });
    if (switching) {
      view.conv = null;
      C.reply.enter(id);
      render(true);
    }
    return C.call('GET', '/api/conversations/' + C.enc(id)).then(function (d) {
      if (gen !== view.openGen) return;
      view.conv = d.conversation;
      if (C.isMine(d.conversation)) C.mine.upsert(d.conversation);
      render(false, opts.keepScroll);
      C.emit('loaded', { conversation_id: id });
      // Opened from the keyboard: focus goes where the agent continues (the reply box when they
      // can answer, else the transcript), not back to the top of the page.
      if (opts.focus) {
        var reply = $('reply-input');
        if (reply.offsetParent !== null && !reply.disabled) reply.focus(); else $('transcript').focus();
      }
    }).catch(function (err) {
      if (gen !== view.openGen) return;
      if (err.status === 401) return;
      if (err.status === 404) {
        C.queue.remove(id);
        C.mine.remove(id);
        forget();
      }
      C.notify(err.message);
    });
  }

  /* Before another conversation is shown: keep the draft, stop typing signals and pop-ups. */
  function leave() {
    C.reply.leave(view.openId);
    C.transfer.hide();
    $('close-confirm').hidden = true;
  }

  function forget() {
    view.openId = null;
    view.conv = null;
    view.openGen++;
    C.emit('opened', { conversation_id: null });
    render();
  }

  /* Nothing in the middle pane (e.g. the conversation went to a colleague). */
  function closeView() {
    leave();
    forget();
  }

  /* ------------------------------------------------------------------ showing */

  function render(loading, keepScroll) {
    var conv = view.conv;
    var body = $('conv-body');
    var placeholder = $('conv-placeholder');
    if (!view.openId || loading || !conv) {
      body.hidden = true;
      placeholder.hidden = false;
      placeholder.textContent = t(view.openId ? 'conv.loading' : 'conv.empty');
      C.context.render(null);
      return;
    }
    placeholder.hidden = true;
    body.hidden = false;
    renderHeader();
    C.transcript.render(conv, keepScroll);
    C.context.render(conv);
  }

  /* Messenger lets agents write for 7 days after the customer's last message, then no more. */
  function unreachable(conv) { return !!(conv && conv.reach && conv.reach.can_reply === false); }

  /* One line under the customer's name: state, reason, language, channel, agent. */
  function renderHeader() {
    var conv = view.conv;
    if (!conv) return;
    var ticket = conv.ticket || {};
    $('conv-title').textContent = C.customerTitle(conv);
    var badge = $('conv-state');
    badge.textContent = label('state', conv.state);
    badge.className = 'badge badge-state-' + conv.state;
    badge.setAttribute('data-state', conv.state || '');
    var meta = [];
    if (ticket.reason) meta.push(label('reason', ticket.reason));
    if (C.languageOf(conv)) meta.push(label('lang', C.languageOf(conv)));
    var channel = (conv.reach && conv.reach.channel) || ticket.channel;
    if (channel) meta.push(label('channel', channel));
    if (conv.agent_name || conv.agent) meta.push(t('conv.agentOf', { name: conv.agent_name || C.agentUsername(conv.agent) }));
    $('conv-meta').textContent = meta.join(' · ');
    renderActions(conv);
    renderBanner(conv);
    C.reply.enable(C.isMine(conv));
  }

  function renderActions(conv) {
    var mine = C.isMine(conv);
    $('conv-claim').hidden = conv.state !== 'queued';
    $('conv-accept').hidden = !(mine && conv.state === 'transferred');
    $('transfer-button').hidden = !(mine && conv.state === 'assigned');
    var onMessenger = (conv.reach && conv.reach.channel) === 'messenger';
    var move = $('move-button');
    // Only to a channel set up here: "Continue on Messenger" is not offered without Messenger.
    move.hidden = !(mine && conv.state === 'assigned') || unreachable(conv) ||
      !view.moveTargets[onMessenger ? 'web' : 'messenger'];
    move.textContent = t(onMessenger ? 'move.toWeb' : 'move.toMessenger');
    move.setAttribute('data-to', onMessenger ? 'web' : 'messenger');
    if ($('transfer-button').hidden) C.transfer.hide();
    $('handback-group').hidden = !mine;
    $('close-group').hidden = !mine || !$('close-confirm').hidden;
    if (!mine) askClose(false);
    setBusy(view.busy);
  }

  function renderBanner(conv) {
    var mine = C.isMine(conv);
    var banner = $('conv-banner');
    var text = '';
    var reach = conv.reach || {};
    banner.setAttribute('data-reach', unreachable(conv) ? 'closed' : (reach.tag ? 'tagged' : 'open'));
    if (conv.state === 'queued') text = t('conv.preview');
    else if (mine && unreachable(conv)) text = t('reach.closed', { channel: label('channel', reach.channel) });
    else if (mine && reach.tag === 'HUMAN_AGENT') text = t('reach.humanAgent', { until: C.fmtDateTime(reach.until) });
    else if (mine && conv.state === 'transferred') text = t('transfer.banner');
    else if (!mine && C.OWNED_STATES[conv.state]) text = t('conv.readonly');
    else if (!mine) text = t('conv.ended', { state: label('state', conv.state) });
    banner.textContent = text;
    banner.hidden = !text;
  }

  function setBusy(busy) {
    view.busy = busy;
    BUSY_CONTROLS.forEach(function (id) { $(id).disabled = busy; });
  }

  /* ------------------------------------------------------------------ actions */

  function focusReply() {
    var input = $('reply-input');
    if (!input.disabled) input.focus();
  }

  function limitText() {
    var me = C.me();
    return t('claim.limit', { max: (me && me.max_conversations) || '?' });
  }

  function claim(id, button) {
    if (button) button.disabled = true;
    setBusy(true);
    C.call('POST', '/api/conversations/' + C.enc(id) + '/claim', {}).then(function (d) {
      C.queue.remove(id);
      var conv = d.conversation || { id: id };
      C.mine.upsert(conv);
      C.notify(t('claim.done'), 'info');
      setBusy(false);
      open(conv.id || id).then(focusReply);
    }).catch(function (err) {
      if (button) button.disabled = false;
      setBusy(false);
      if (err.status === 401) return;
      if (err.code === 'limit_reached') { C.notify(limitText(), 'error', err.code); return; }
      C.notify(err.message, 'error', err.code);
      if (err.code === 'already_claimed' || err.code === 'bad_state' || err.code === 'not_found') {
        C.queue.remove(id);
        if (view.openId === id) open(id, { keepScroll: true });
      }
    });
  }

  /* Takes over a conversation a colleague transferred to me (transferred → assigned). */
  function accept(id, button) {
    if (button) button.disabled = true;
    setBusy(true);
    C.call('POST', '/api/conversations/' + C.enc(id) + '/claim', {}).then(function (d) {
      setBusy(false);
      var me = C.me();
      var conv = d.conversation || { id: id, state: 'assigned', agent: me && me.username };
      C.mine.upsert(conv);
      C.notify(t('transfer.accepted'), 'info');
      open(conv.id || id, { keepScroll: view.openId === id }).then(focusReply);
    }).catch(function (err) {
      if (button) button.disabled = false;
      setBusy(false);
      if (err.status === 401) return;
      C.notify(err.code === 'limit_reached' ? limitText() : err.message, 'error', err.code);
      C.mine.reload();
      if (view.openId === id) open(id, { keepScroll: true });
    });
  }

  /* Hand-back and close: the conversation leaves my list and stays on screen, read-only. */
  function finish(action, body, doneKey) {
    var conv = view.conv;
    if (!conv) return;
    var id = conv.id;
    setBusy(true);
    C.reply.stopTyping();
    C.call('POST', '/api/conversations/' + C.enc(id) + '/' + action, body).then(function (d) {
      setBusy(false);
      C.mine.remove(id);
      C.reply.forget(id);
      C.notify(t(doneKey), 'info');
      if (view.openId === id && d.conversation) {
        var next = d.conversation;
        if (!next.transcript) next.transcript = conv.transcript;
        view.conv = next;
        renderHeader();
        C.context.render(next);
      }
    }).catch(function (err) {
      setBusy(false);
      if (err.status === 401) return;
      C.notify(err.message);
      if (err.status === 409 || err.status === 404) open(id, { keepScroll: true });
    });
  }

  /* Sends the customer a one-time link to continue on the other channel. */
  function onMove() {
    var conv = view.conv;
    if (!conv || !C.isMine(conv) || view.busy) return;
    var to = $('move-button').getAttribute('data-to');
    setBusy(true);
    C.call('POST', '/api/conversations/' + C.enc(conv.id) + '/move', { to: to }).then(function () {
      setBusy(false);
      C.notify(t('move.sent', { channel: label('channel', to === 'web' ? 'socketio' : 'messenger') }), 'info');
    }).catch(function (err) {
      setBusy(false);
      if (err.status !== 401) C.notify(err.message, 'error', err.code);
    });
  }

  function onHandback() {
    var v = $('handback-flow').value;
    finish('handback', { flow: v ? v : null }, 'handback.done');
  }

  /* Closing ends the customer's conversation: the agent confirms first (inline, not a pop-up),
   * and says how it ended there (resolved unless told otherwise, each time). */
  function askClose(show) {
    if (show) $('close-resolution').value = 'resolved';
    $('close-confirm').hidden = !show;
    $('close-group').hidden = show || !(view.conv && C.isMine(view.conv));
    $('close-button').setAttribute('aria-expanded', show ? 'true' : 'false');
    if (show) $('close-confirm-yes').focus();
  }

  function onClose() {
    askClose(false);
    finish('close', { resolution: $('close-resolution').value || 'resolved' }, 'close.done');
  }

  /* ------------------------------------------------------------------ what the header offers */

  function loadMoveTargets() {
    C.call('GET', '/api/moves').then(function (d) {
      view.moveTargets = (d && d.targets) || { web: true };
      renderHeader();
    }).catch(function () { /* kept as they were: the server refuses a move it cannot make */ });
  }

  function loadFlows() {
    C.call('GET', '/api/flows').then(function (d) {
      view.flows = Array.isArray(d.flows) ? d.flows : FALLBACK_FLOWS;
      renderFlows();
    }).catch(function () {
      view.flows = FALLBACK_FLOWS;
      renderFlows();
    });
  }

  function renderFlows() {
    var sel = $('handback-flow');
    var previous = sel.value;
    C.clear(sel);
    sel.appendChild(el('option', { value: '', text: t('handback.none') }));
    view.flows.forEach(function (f) {
      if (!f || f.id == null || f.id === '' || f.id === 'none') return;
      var l = f.label;
      var text = typeof l === 'string' ? l : (l && (l[lang] || l.en || l.fr)) || f.id;
      sel.appendChild(el('option', { value: f.id, text: text }));
    });
    sel.value = previous;
    if (sel.selectedIndex < 0) sel.selectedIndex = 0;
  }

  function renderResolutions() {
    var sel = $('close-resolution');
    C.clear(sel);
    RESOLUTIONS.forEach(function (r) { sel.appendChild(el('option', { value: r, text: t('resolution.' + r) })); });
    sel.value = 'resolved';
  }

  /* ------------------------------------------------------------------ frames */

  function onState(f) {
    var conv = view.conv;
    var id = f.conversation_id;
    if (!conv || conv.id !== id) return;
    var me = C.me();
    var agent = C.agentUsername(f.agent);
    var mineNow = C.OWNED_STATES[f.state] && me && agent === me.username;
    var changedHands = C.agentUsername(conv.agent) !== agent;
    conv.state = f.state;
    conv.agent = f.agent != null ? f.agent : null;
    conv.agent_name = f.agent_name || (changedHands ? null : conv.agent_name);
    renderHeader();
    C.context.render(conv);
    // Fetch the names and ticket as the server now sees them (an agent who no longer owns the
    // conversation may not read it any more: only a supervisor reloads it then).
    var queuedForMe = f.state === 'queued' && (!f.team || C.isSupervisor() ||
      (me && (me.teams || []).indexOf(f.team) >= 0));
    if (f.state === 'queued' && !queuedForMe) closeView();
    else if (queuedForMe || (changedHands && (mineNow || C.isSupervisor()))) open(id, { keepScroll: true });
  }

  /* A message frame's language: the open conversation shows the new one. */
  function followLanguage(id, language) {
    if (view.conv && view.conv.id === id && view.conv.language !== language) {
      view.conv.language = language;
      renderHeader();
      C.context.render(view.conv);
    }
  }

  function onMessage(f) {
    var turn = f.turn;
    if (!turn) return;
    if (f.language) followLanguage(f.conversation_id, f.language);
    var conv = view.conv;
    if (f.conversation_id !== view.openId || !conv) return;
    C.transcript.append(turn, f.client_id || turn.client_id);
    if (conv.transcript && !(turn.id && conv.transcript.some(function (x) { return x.id === turn.id; }))) {
      conv.transcript.push(turn);
    }
  }

  /* A note of the open conversation (pushed, or just written here) joins its timeline. */
  function noteAdded(convId, note) {
    if (!note) return;
    C.mine.rememberNote(convId, note);
    var conv = view.conv;
    if (!conv || conv.id !== convId || view.openId !== convId) return;
    conv.notes = conv.notes || [];
    if (!(note.id && conv.notes.some(function (n) { return n.id === note.id; }))) conv.notes.push(note);
    C.transcript.addNote(note, false);
  }

  C.on('conversation.state', onState);
  C.on('ticket.removed', function (f) {
    var conv = view.conv;
    if (conv && conv.id === f.conversation_id && f.state && f.state !== conv.state) {
      onState({ conversation_id: f.conversation_id, state: f.state, agent: conv.agent });
    }
  });
  C.on('message', onMessage);
  C.on('note', function (f) { if (f.conversation_id) noteAdded(f.conversation_id, f.note); });
  C.on('console:connected', function () { if (view.openId) open(view.openId, { keepScroll: true }); });
  C.onStart(function () {
    loadFlows();
    loadMoveTargets();
  });
  C.onStop(function () {
    C.transfer.hide();
    view.openId = null;
    view.conv = null;
    view.openGen++;
    view.busy = false;
    render();
  });

  $('conv-claim').addEventListener('click', function () { if (view.openId) claim(view.openId, null); });
  $('conv-accept').addEventListener('click', function () { if (view.openId) accept(view.openId, null); });
  $('handback-button').addEventListener('click', onHandback);
  $('move-button').addEventListener('click', onMove);
  $('close-button').addEventListener('click', function () { askClose(true); });
  $('close-confirm-yes').addEventListener('click', onClose);
  $('close-confirm-no').addEventListener('click', function () { askClose(false); $('close-button').focus(); });
  $('close-confirm').addEventListener('keydown', function (ev) {
    if (ev.key === 'Escape') { ev.preventDefault(); askClose(false); $('close-button').focus(); }
  });
  renderFlows();
  renderResolutions();

  C.open = open;
  C.claim = claim;
  C.accept = accept;
  C.conversation = {
    id: function () { return view.openId; },
    current: function () { return view.conv; },
    busy: function () { return view.busy; },
    setBusy: setBusy, closeView: closeView, noteAdded: noteAdded
  };
})();
