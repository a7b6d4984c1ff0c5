/* Supervisors: the requests above a team's limit waiting for a decision, in the supervision
 * view (GET /api/approvals; Approve / Refuse are orders.js's, each confirmed by a second click).
 * Reloads on order.approval frames and after a reconnection.
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var t = window.HandoffI18n.t;
  var el = C.el;
  var view = { seq: 0 };

  function $(id) { return document.getElementById(id); }

  function load() {
    if (!C.isSupervisor()) return;
    var seq = ++view.seq;
    C.call('GET', '/api/approvals').then(function (d) {
      if (seq === view.seq) render(Array.isArray(d.approvals) ? d.approvals : []);
    }).catch(function (err) {
      if (err.status !== 401) C.notify(err.message, 'error', err.code);
    });
  }

  function render(approvals) {
    var body = $('sup-approvals');
    C.clear(body);
    $('sup-approvals-empty').hidden = approvals.length > 0;
    approvals.forEach(function (a) {
      var open = el('button', { type: 'button', class: 'link-button', text: t('sup.approvalsOpen') });
      open.addEventListener('click', function () { C.open(a.conversation_id); });
      body.appendChild(el('tr', { 'data-testid': 'sup-approval', 'data-approval-id': a.id }, [
        el('td', { text: C.orders.whatText(a.kind, a.amount_cents) }),
        el('td', { text: a.order_number }),
        el('td', { text: a.requested_by_name || a.requested_by }),
        el('td', { text: C.fmtTime(a.created_at) }),
        el('td', null, [open]),
        el('td', null, [C.orders.decisionButtons(a.conversation_id, a, load)])
      ]));
    });
  }

  C.onStart(function () { load(); });
  C.on('order.approval', load);
  C.on('console:connected', load);
  C.onStop(function () { view.seq++; });
})();
