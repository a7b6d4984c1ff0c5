/* The customer's orders in the context panel, and acting on them: cancel, change the delivery
 * address, refund, voucher, each in one click plus a confirmation (routes:
 * GET /api/conversations/{id}/orders, POST …/orders/lookup, POST …/orders/{number}/actions,
 * POST …/approvals/{approval}). Above the agent's limit the confirmation asks a supervisor, and
 * the request shows here until it is decided; supervisors approve or refuse it here too.
 * The business rules are the server's (the same code as the bot's): this view only offers what
 * the server lists for each order, and shows its errors as they come.
 *
 * Each confirmation has its own request id, sent again if the click is repeated: the server
 * runs it once. Actions told to the customer come back as transcript turns carrying the action
 * (who, what, result), marked here through C.onTurn.
 * Subscribes to console:opened, conversation.state, order.action, order.approval; adds a
 * section to the context.
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var I18N = window.HandoffI18n;
  var t = I18N.t;
  var el = C.el;

  // data: the server's listing for convId; form: the open confirmation {order, kind, requestId}.
  var view = { convId: null, data: null, error: null, form: null, busy: false, seq: 0,
    lookupOpen: false, node: null };

  function money(cents, currency) {
    try {
      return new Intl.NumberFormat(I18N.lang, { style: 'currency', currency: currency || 'EUR' })
        .format((cents || 0) / 100);
    } catch (e) { return ((cents || 0) / 100).toFixed(2) + ' ' + (currency || 'EUR'); }
  }

  /* "80", "80,5", "80.50", "€ 80" -> 8050; null when it is not an amount. */
  function cents(text) {
    var clean = String(text || '').replace(/[\s€]/g, '').replace(',', '.');
    if (!/^\d+(\.\d{1,2})?$/.test(clean)) return null;
    return Math.round(parseFloat(clean) * 100);
  }

  function whatText(kind, amount, currency) {
    if (kind === 'refund' || kind === 'voucher') {
      return t('orders.what.' + kind, { amount: money(amount, currency) });
    }
    return t('orders.what.' + kind);
  }

  /* ---- loading ---- */

  var part = C.conversationPart(view, 'orders', draw, function () {
    view.form = null;
    view.lookupOpen = false;
  });
  var load = part.load;

  function onFrame(f) { if (f.conversation_id && f.conversation_id === view.convId) load(); }

  /* ---- the section ---- */

  function section() {
    if (!view.node) {
      view.node = el('section', { class: 'ctx-section orders', 'data-testid': 'context-orders' });
    }
    draw();
    return view.node;
  }

  function draw() {
    var node = view.node;
    if (!node) return;
    C.clear(node);
    node.appendChild(el('h3', { text: t('orders.heading') }));
    if (view.error) { node.appendChild(el('p', { class: 'form-error', role: 'alert', text: view.error })); return; }
    if (!view.data) { node.appendChild(el('p', { class: 'empty', text: t('orders.loading') })); return; }
    var d = view.data;
    if (!d.orders.length) node.appendChild(el('p', { class: 'empty', 'data-testid': 'orders-none', text: t('orders.none') }));
    d.orders.forEach(function (order) { node.appendChild(orderCard(order, d)); });
    var waiting = (d.approvals || []).filter(function (a) { return a.status === 'pending' || a.status === 'approving'; });
    var decided = (d.approvals || []).filter(function (a) { return waiting.indexOf(a) < 0; });
    if (waiting.length || decided.length) node.appendChild(approvalsList(waiting.concat(decided)));
    if (d.can_act) node.appendChild(lookupForm());
  }

  function orderCard(order, d) {
    var rows = [
      [t('orders.status'), t('orders.status.' + order.status)],
      [t('orders.placed'), order.placed_on],
      [t('orders.total'), money(order.total_cents, order.currency)],
      [t('orders.refunded'), order.refunded_cents ? money(order.refunded_cents, order.currency) : null],
      [t('orders.address'), order.delivery_address],
      [t('orders.carrier'), order.carrier]
    ];
    var list = el('dl', { class: 'kv' });
    rows.forEach(function (r) {
      if (r[1] == null || r[1] === '') return;
      list.appendChild(el('dt', { text: r[0] }));
      list.appendChild(el('dd', { text: r[1] }));
    });
    var card = el('div', { class: 'order-card', 'data-testid': 'order', 'data-order': order.order_number,
      'data-status': order.status }, [
      el('div', { class: 'order-head', text: t('orders.number', { order: order.order_number }) }), list
    ]);
    if (!d.can_act) return card;
    var buttons = el('div', { class: 'order-actions' });
    (order.actions || []).forEach(function (kind) {
      var b = el('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'order-action',
        'data-kind': kind, text: t('orders.do.' + kind) });
      b.disabled = view.busy;
      b.addEventListener('click', function () {
        view.form = { order: order.order_number, kind: kind, requestId: C.newClientId() };
        draw();
        var first = view.node.querySelector('.order-confirm input, .order-confirm button');
        if (first) first.focus();
      });
      buttons.appendChild(b);
    });
    card.appendChild(buttons);
    if (view.form && view.form.order === order.order_number) card.appendChild(confirmForm(order, d));
    return card;
  }

  /* The confirmation: what will happen, the amount or address asked, then one click. */
  function confirmForm(order, d) {
    var f = view.form;
    var form = el('form', { class: 'order-confirm', 'data-testid': 'order-confirm', 'data-kind': f.kind, novalidate: true });
    var input = null;
    var limit = d.limits && d.limits[f.kind] != null ? d.limits[f.kind] : null;
    form.appendChild(el('p', { class: 'order-question', text: t('orders.confirm.' + f.kind, {
      order: order.order_number, max: money(order.refundable_cents, order.currency) }) }));
    if (f.kind === 'change_address') {
      input = el('input', { type: 'text', 'data-testid': 'order-input', maxlength: '300', value: order.delivery_address || '',
        'aria-label': t('orders.newAddress') });
    } else if (f.kind === 'refund' || f.kind === 'voucher') {
      input = el('input', { type: 'text', inputmode: 'decimal', 'data-testid': 'order-input', 'aria-label': t('orders.amount'),
        placeholder: t('orders.amount') });
      form.appendChild(el('p', { class: 'muted small', 'data-testid': 'order-limit', text: limit == null
        ? t('orders.noLimit') : t('orders.limit', { limit: money(limit, order.currency) }) }));
    }
    if (input) form.appendChild(input);
    var yes = el('button', { type: 'submit', class: 'btn btn-primary btn-small', 'data-testid': 'order-confirm-yes',
      text: t('orders.yes') });
    var no = el('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'order-confirm-no', text: t('orders.back') });
    if (input && limit != null) {
      // Above the limit the same click asks a supervisor: the button says so before it is clicked.
      input.addEventListener('input', function () {
        var amount = cents(input.value);
        yes.textContent = t(amount != null && amount > limit ? 'orders.askSupervisor' : 'orders.yes');
      });
    }
    yes.disabled = view.busy;
    no.addEventListener('click', function () { view.form = null; draw(); });
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      submit(order, f, input ? input.value : null);
    });
    form.appendChild(el('div', { class: 'order-buttons' }, [yes, no]));
    return form;
  }

  function submit(order, f, value) {
    if (view.busy) return;
    var body = { kind: f.kind, request_id: f.requestId };
    if (f.kind === 'change_address') body.address = value;
    if (f.kind === 'refund' || f.kind === 'voucher') {
      body.amount_cents = cents(value);
      if (body.amount_cents == null) { C.notify(t('orders.badAmount'), 'error', 'bad_amount'); return; }
    }
    var id = view.convId;
    view.busy = true;
    draw();
    C.call('POST', '/api/conversations/' + C.enc(id) + '/orders/' + C.enc(order.order_number) + '/actions', body)
      .then(function (d) {
        view.busy = false;
        if (id !== view.convId) return;
        view.form = null;
        view.data = d;
        if (d.approval) C.notify(t('orders.asked', { what: whatText(f.kind, body.amount_cents, order.currency) }), 'info', 'order_approval');
        else C.notify(t('orders.done', { what: whatText(f.kind, body.amount_cents, order.currency), order: order.order_number }), 'info', 'order_done');
        draw();
      }).catch(function (err) {
        view.busy = false;
        if (err.status === 401) return;
        C.notify(err.message, 'error', err.code);   // the form stays, with the same request id
        draw();
      });
  }

  /* ---- approvals ---- */

  function approvalsList(approvals) {
    var box = el('div', { class: 'order-approvals', 'data-testid': 'order-approvals' }, [
      el('h4', { text: t('orders.approvals') })]);
    approvals.forEach(function (a) {
      var line = el('div', { class: 'order-approval', 'data-testid': 'order-approval', 'data-status': a.status,
        'data-approval-id': a.id }, [
        el('span', { text: t('orders.approvalLine', { what: whatText(a.kind, a.amount_cents), order: a.order_number,
          name: a.requested_by_name || a.requested_by }) }), ' ',
        el('span', { class: 'badge', 'data-testid': 'approval-status', text: t('approval.' + a.status) })
      ]);
      if (a.status === 'pending' && C.isSupervisor()) line.appendChild(decisionButtons(view.convId, a, load));
      box.appendChild(line);
    });
    return box;
  }

  /* Approve / Refuse, each confirmed by a second click on the same spot. Shared with approvals.js. */
  function decisionButtons(convId, a, after) {
    var wrap = el('span', { class: 'order-decision' });
    function ask(decision) {
      C.clear(wrap);
      var yes = el('button', { type: 'button', class: 'btn btn-small ' + (decision === 'approve' ? 'btn-primary' : 'btn-danger'),
        'data-testid': 'approval-confirm', text: t('approval.confirm.' + decision) });
      var no = el('button', { type: 'button', class: 'btn btn-small', text: t('orders.back') });
      yes.addEventListener('click', function () {
        yes.disabled = true;
        C.call('POST', '/api/conversations/' + C.enc(convId) + '/approvals/' + C.enc(a.id), { decision: decision })
          .then(function (d) {
            var outcome = d.outcome;
            C.notify(t(decision === 'approve' ? (outcome && outcome.done ? 'approval.approvedDone' : 'approval.approvedFailed')
              : 'approval.refusedDone'), outcome && !outcome.done ? 'error' : 'info', 'approval_decided');
            after();
          }).catch(function (err) {
            if (err.status !== 401) C.notify(err.message, 'error', err.code);
            after();
          });
      });
      no.addEventListener('click', function () { C.clear(wrap); buttons(); });
      wrap.appendChild(yes);
      wrap.appendChild(no);
      yes.focus();
    }
    function buttons() {
      ['approve', 'refuse'].forEach(function (decision) {
        var b = el('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'approval-' + decision,
          text: t('approval.' + decision) });
        b.addEventListener('click', function () { ask(decision); });
        wrap.appendChild(b);
      });
    }
    buttons();
    return wrap;
  }

  /* ---- looking an order up with the customer ---- */

  function lookupForm() {
    var box = el('div', { class: 'order-lookup' });
    var toggle = el('button', { type: 'button', class: 'link-button', 'data-testid': 'order-lookup-toggle',
      'aria-expanded': view.lookupOpen ? 'true' : 'false', text: t('orders.lookup') });
    toggle.addEventListener('click', function () { view.lookupOpen = !view.lookupOpen; draw(); });
    box.appendChild(toggle);
    if (!view.lookupOpen) return box;
    var number = el('input', { type: 'text', inputmode: 'numeric', maxlength: '8', 'data-testid': 'order-lookup-number',
      'aria-label': t('orders.lookupNumber'), placeholder: t('orders.lookupNumber') });
    var fact = el('input', { type: 'text', maxlength: '320', 'data-testid': 'order-lookup-fact',
      'aria-label': t('orders.lookupFact'), placeholder: t('orders.lookupFact') });
    var go = el('button', { type: 'submit', class: 'btn btn-small', 'data-testid': 'order-lookup-submit', text: t('orders.lookupSubmit') });
    var form = el('form', { class: 'order-confirm', novalidate: true }, [number, fact, go]);
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var id = view.convId;
      go.disabled = true;
      C.call('POST', '/api/conversations/' + C.enc(id) + '/orders/lookup', { order_number: number.value, fact: fact.value })
        .then(function (d) {
          if (id !== view.convId) return;
          view.data = d;
          view.lookupOpen = false;
          draw();
        }).catch(function (err) {
          go.disabled = false;
          if (err.status !== 401) C.notify(err.message, 'error', err.code);
        });
    });
    box.appendChild(form);
    return box;
  }

  /* ---- the record: transcript turns that carry an action ---- */

  function markTurn(node, turn) {
    var a = turn && turn.order_action;
    if (!a) return;
    var by = a.by_name || a.by || '?';
    if (a.approved_by_name || a.approved_by) by = t('orders.approvedBy', { name: by, supervisor: a.approved_by_name || a.approved_by });
    node.appendChild(el('div', { class: 'turn-action', 'data-testid': 'turn-action', 'data-kind': a.kind,
      'data-result': a.result || '' }, [
      el('span', { class: 'badge', text: t('orders.result.' + (a.result || 'done')) }), ' ',
      el('span', { text: t('orders.record', { what: whatText(a.kind, a.amount_cents), order: a.order_number, by: by }) })
    ]));
  }

  C.context.addSection(function (conv) { return conv && conv.ticket ? section() : null; });
  C.on('console:opened', part.opened);
  C.on('order.action', onFrame);
  C.on('conversation.state', onFrame);   // claimed, transferred, closed: what may be done changes
  C.on('order.approval', onFrame);
  C.on('console:connected', function () { if (view.convId) load(); });
  C.onTurn(markTurn);
  C.onStop(function () { view.convId = null; view.data = null; view.form = null; view.node = null; });
  C.orders = { decisionButtons: decisionButtons, whatText: whatText };
})();
