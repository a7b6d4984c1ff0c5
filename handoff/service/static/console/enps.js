/* Agents' voice: the monthly eNPS question in the console (GET/POST /api/enps).
 *
 * Asked at most once a month, in a small panel at the foot of the sidebar that covers nothing:
 * answering (0–10) or "Not now" closes it for the month. The answer is stored without the agent's name;
 * supervisors see only the monthly score on the dashboard, for months with at least 3 answers.
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var t = window.HandoffI18n.t;
  var el = C.el;
  var card = null;

  function close() {
    if (card && card.parentNode) card.parentNode.removeChild(card);
    card = null;
  }

  function send(body) {
    var buttons = card ? card.querySelectorAll('button') : [];
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
    return C.call('POST', '/api/enps', body).then(function () {
      if (body.score != null) C.notify(t('enps.thanks'), 'info', 'enps');
      close();
    }).catch(function (err) {
      if (err.code === 'already_answered') { close(); return; }
      for (var j = 0; j < buttons.length; j++) buttons[j].disabled = false;
      C.notify(err.message, 'error', err.code);
    });
  }

  function show() {
    if (card) return;
    var scores = [];
    for (var n = 0; n <= 10; n++) {
      scores.push(el('button', { type: 'button', class: 'btn enps-score', 'data-testid': 'enps-score',
        'data-score': String(n), text: String(n) }));
    }
    card = el('section', { class: 'panel enps-card', 'data-testid': 'enps-card', role: 'region',
      'aria-labelledby': 'enps-question' }, [
      el('p', { id: 'enps-question', class: 'enps-question', text: t('enps.question') }),
      el('div', { class: 'enps-scores', role: 'group' }, scores),
      el('div', { class: 'enps-scale muted small' }, [
        el('span', { text: t('enps.low') }), el('span', { text: t('enps.high') })]),
      el('p', { class: 'muted small', text: t('enps.anonymous') }),
      el('button', { type: 'button', class: 'btn btn-ghost', 'data-testid': 'enps-dismiss', text: t('enps.dismiss') })
    ]);
    card.addEventListener('click', function (ev) {
      var target = ev.target;
      if (target.getAttribute('data-testid') === 'enps-dismiss') send({ dismiss: true });
      else if (target.hasAttribute('data-score')) send({ score: Number(target.getAttribute('data-score')) });
    });
    (document.querySelector('.sidebar') || document.body).appendChild(card);
  }

  function init() {
    C.onStart(function () {
      C.call('GET', '/api/enps').then(function (r) { if (r.ask) show(); }).catch(function () { /* ask another time */ });
    });
    C.onStop(close);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
