/* Call-backs: the phone as the next step (routes: handoff/service/api/callback_routes.py).
 *
 * - The sidebar's call-back list (GET /api/callbacks): the calls the agent's teams have to make,
 *   soonest first, filtered by team and language; a click opens the whole conversation.
 * - A "Call-back" section in the context panel (GET/POST /api/conversations/{id}/callbacks):
 *   offer a call (the customer gets a link to pick a time and leave a number), see whether they
 *   did, and, once it is scheduled, record the outcome (POST /api/callbacks/{conv}/{id}/outcome,
 *   with its own request id, sent again on a repeated click: recorded once).
 * - Transcript turns that carry a call-back (the notices told to the customer) are marked, as
 *   orders.js marks actions on orders.
 * Subscribes to console:opened, console:connected, callback.changed.
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var t = window.HandoffI18n.t;
  var el = C.el;
  var OUTCOMES = ['reached', 'no_answer', 'voicemail', 'wrong_number'];

  var list = { items: [], team: '', language: '', seq: 0, built: false };
  var view = { convId: null, data: null, error: null, busy: false, requestId: null, seq: 0, node: null };

  function $(id) { return document.getElementById(id); }

  function when(cb) {
    return cb.slot === 'now' ? t('cb.now') : C.fmtDateTime(cb.due_at);
  }

  /* ---- the list ---- */

  function buildFilters() {
    if (list.built) return;
    list.built = true;
    var team = el('select', { 'data-testid': 'callbacks-team', 'aria-label': t('cb.filterTeam') });
    var language = el('select', { 'data-testid': 'callbacks-language', 'aria-label': t('cb.filterLanguage') });
    team.appendChild(el('option', { value: '', text: t('cb.allTeams') }));
    (C.teams() || []).forEach(function (tm) { team.appendChild(el('option', { value: tm.id, text: C.teamLabel(tm.id) })); });
    language.appendChild(el('option', { value: '', text: t('cb.allLanguages') }));
    ['fr', 'en'].forEach(function (l) { language.appendChild(el('option', { value: l, text: l.toUpperCase() })); });
    team.addEventListener('change', function () { list.team = team.value; load(); });
    language.addEventListener('change', function () { list.language = language.value; load(); });
    $('callbacks-controls').appendChild(el('div', { class: 'callback-filters' }, [team, language]));
  }

  function load() {
    var seq = ++list.seq;
    var query = [];
    if (list.team) query.push('team=' + encodeURIComponent(list.team));
    if (list.language) query.push('language=' + encodeURIComponent(list.language));
    C.call('GET', '/api/callbacks' + (query.length ? '?' + query.join('&') : '')).then(function (d) {
      if (seq !== list.seq) return;
      list.items = Array.isArray(d.callbacks) ? d.callbacks : [];
      drawList();
    }).catch(function (err) { if (err.status !== 401) C.notify(err.message, 'error', err.code); });
  }

  function drawList() {
    var ul = $('callbacks-list');
    C.clear(ul);
    $('callbacks-count').textContent = String(list.items.length);
    $('callbacks-empty').hidden = list.items.length > 0;
    var now = Date.now() / 1000;
    list.items.forEach(function (cb) {
      var late = cb.slot !== 'now' && cb.due_at < now;
      var li = el('li', { class: 'item callback-item', 'data-testid': 'callback-item', 'data-callback-id': cb.id,
        'data-conversation-id': cb.conversation_id, tabindex: '0', 'aria-label': t('cb.open') }, [
        el('div', { class: 'item-head' }, [
          el('span', { class: 'item-title', text: cb.customer || cb.conversation_id }),
          el('span', { class: 'wait', 'data-testid': 'callback-due', text: when(cb) + (late ? ' · ' + t('cb.late') : '') })
        ]),
        el('div', { class: 'item-summary', 'data-testid': 'callback-phone', text: cb.phone }),
        el('div', { class: 'item-tags' }, [
          cb.team ? el('span', { class: 'tag', text: C.teamLabel(cb.team) }) : null,
          el('span', { class: 'tag', 'data-testid': 'callback-language', text: (cb.language || '').toUpperCase() }),
          cb.reason ? el('span', { class: 'tag tag-reason', text: t('reason.' + cb.reason) }) : null
        ].filter(Boolean))
      ]);
      C.onActivate(li, function (fromKeyboard) { C.open(cb.conversation_id, { focus: fromKeyboard }); });
      ul.appendChild(li);
    });
  }

  /* ---- the context section ---- */

  var part = C.conversationPart(view, 'callbacks', draw, function () { view.requestId = null; });
  var loadSection = part.load;

  function section() {
    if (!view.node) view.node = el('section', { class: 'ctx-section callbacks', 'data-testid': 'context-callback' });
    draw();
    return view.node;
  }

  function draw() {
    var node = view.node;
    if (!node) return;
    C.clear(node);
    node.appendChild(el('h3', { text: t('cb.section') }));
    if (view.error) { node.appendChild(el('p', { class: 'form-error', role: 'alert', text: view.error })); return; }
    if (!view.data) return;
    var latest = (view.data.callbacks || [])[0];
    if (latest) node.appendChild(card(latest));
    if (view.data.can_offer && (!latest || latest.status === 'done')) node.appendChild(offerButton());
  }

  function card(cb) {
    var box = el('div', { class: 'order-card callback-card', 'data-testid': 'callback-card', 'data-status': cb.status }, [
      el('div', { class: 'order-head' }, [el('span', { class: 'badge', 'data-testid': 'callback-status', text: t('cb.status.' + cb.status) })])
    ]);
    if (cb.status === 'offered') {
      box.appendChild(el('p', { class: 'muted small', text: t('cb.offered', { name: cb.offered_by_name || t('cb.bot') }) }));
    } else {
      box.appendChild(el('p', { 'data-testid': 'callback-when', text: t('cb.scheduled', { phone: cb.phone, when: when(cb) }) }));
    }
    if (cb.status === 'scheduled') box.appendChild(outcomeForm(cb));
    if (cb.status === 'done') {
      box.appendChild(el('p', { 'data-testid': 'callback-outcome', text: t('cb.doneBy', {
        outcome: t('cb.outcome.' + cb.outcome), name: cb.done_by_name || cb.done_by }) }));
      if (cb.note) box.appendChild(el('p', { class: 'muted small', text: cb.note }));
    }
    return box;
  }

  function offerButton() {
    var b = el('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'callback-offer', text: t('cb.offer'),
      title: t('cb.offerHint') });
    b.disabled = view.busy;
    b.addEventListener('click', function () {
      var id = view.convId;
      view.busy = true;
      b.disabled = true;
      C.call('POST', '/api/conversations/' + C.enc(id) + '/callbacks', {}).then(function () {
        view.busy = false;
        C.notify(t('cb.offeredDone'), 'info', 'callback_offered');
        loadSection();
      }).catch(function (err) {
        view.busy = false;
        b.disabled = false;
        if (err.status !== 401) C.notify(err.message, 'error', err.code);
      });
    });
    return b;
  }

  function outcomeForm(cb) {
    var select = el('select', { 'data-testid': 'callback-outcome-select', 'aria-label': t('cb.outcome') });
    OUTCOMES.forEach(function (o) { select.appendChild(el('option', { value: o, text: t('cb.outcome.' + o) })); });
    var note = el('textarea', { rows: '2', maxlength: '1000', 'data-testid': 'callback-note', 'aria-label': t('cb.note'),
      placeholder: t('cb.note') });
    var go = el('button', { type: 'submit', class: 'btn btn-primary btn-small', 'data-testid': 'callback-record', text: t('cb.record') });
    var form = el('form', { class: 'order-confirm callback-form', novalidate: true }, [select, note, go]);
    // One id per outcome the agent means to record: a repeated click sends the same one.
    if (!view.requestId) view.requestId = C.newClientId();
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      if (view.busy) return;
      view.busy = true;
      go.disabled = true;
      C.call('POST', '/api/callbacks/' + C.enc(cb.conversation_id) + '/' + C.enc(cb.id) + '/outcome',
        { outcome: select.value, note: note.value, request_id: view.requestId }).then(function () {
        view.busy = false;
        view.requestId = null;
        C.notify(t('cb.recorded'), 'info', 'callback_recorded');
        loadSection();
        load();
      }).catch(function (err) {
        view.busy = false;
        go.disabled = false;
        if (err.status !== 401) C.notify(err.message, 'error', err.code);
        loadSection();
      });
    });
    return form;
  }

  /* ---- the record: transcript turns that carry a call-back ---- */

  function markTurn(node, turn) {
    var cb = turn && turn.callback;
    if (!cb) return;
    var by = cb.by_name || cb.by || t('cb.bot');
    var text = cb.status === 'done' ? t('cb.turn.done', { by: by, outcome: t('cb.outcome.' + cb.outcome) })
      : cb.status === 'scheduled' ? t('cb.turn.scheduled', { phone: cb.phone, when: when(cb) })
        : t('cb.turn.offered', { by: by });
    node.appendChild(el('div', { class: 'turn-action', 'data-testid': 'turn-callback', 'data-status': cb.status,
      'data-outcome': cb.outcome || '' }, [
      el('span', { class: 'badge', text: t('cb.status.' + cb.status) }), ' ', el('span', { text: text }),
      cb.note ? el('span', { class: 'muted small', text: ' — ' + cb.note }) : null
    ].filter(Boolean)));
  }

  function changed(f) {
    load();
    if (f.conversation_id && f.conversation_id === view.convId) loadSection();
  }

  C.context.addSection(function (conv) { return conv && conv.ticket ? section() : null; });
  C.on('console:opened', part.opened);
  C.on('callback.changed', changed);
  C.on('console:connected', function () { load(); if (view.convId) loadSection(); });
  C.onStart(function () { C.loadTeams().then(buildFilters); load(); });
  C.onTurn(markTurn);
  C.onStop(function () {
    view.convId = null; view.data = null; view.node = null;
    list.items = []; list.seq++; list.built = false; list.team = ''; list.language = '';
    C.clear($('callbacks-controls'));
  });
})();
