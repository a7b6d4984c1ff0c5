/* The "good answer" button on agents' replies in the conversation view (issue 8): marks a reply
 * as a good answer to the customer message before it (POST /api/conversations/{id}/good-answers).
 * Marked pairs are candidate FAQ entries on the miner page (miner.js). Which replies are marked
 * already comes from GET /api/conversations/{id}/good-answers, once per conversation opened.
 *
 * Built on window.HandoffConsole (transcript.js: C.onTurn decorates each turn it renders).
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var t = window.HandoffI18n.t;
  var el = C.el;
  var marked = {};    // conversation id -> { turn id: true }
  var loading = {};   // conversation id -> the request that reads its marks

  function buttons(cid, turnId) {
    var sel = '[data-testid="good-answer"][data-conversation-id="' + cssEscape(cid) + '"]';
    if (turnId) sel += '[data-turn-id="' + cssEscape(turnId) + '"]';
    return document.querySelectorAll(sel);
  }

  function cssEscape(s) {
    return window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, '\\$&');
  }

  function show(button, state, message) {
    button.setAttribute('data-state', state);
    button.setAttribute('aria-pressed', state === 'marked' ? 'true' : 'false');
    button.disabled = state === 'marked' || state === 'marking';
    button.textContent = t(state === 'marked' ? 'good.marked' : (state === 'marking' ? 'good.marking' : 'good.mark'));
    var error = button.parentNode && button.parentNode.querySelector('[data-testid="good-answer-error"]');
    if (error) {
      error.textContent = message || '';
      error.hidden = !message;
    }
  }

  function load(cid) {
    if (loading[cid]) return;
    loading[cid] = C.call('GET', '/api/conversations/' + C.enc(cid) + '/good-answers').then(function (d) {
      var set = marked[cid] || (marked[cid] = {});
      (Array.isArray(d.good_answers) ? d.good_answers : []).forEach(function (pair) {
        set[pair.answer_id] = true;
        Array.prototype.forEach.call(buttons(cid, pair.answer_id), function (b) { show(b, 'marked'); });
      });
    }).catch(function () {
      delete loading[cid];  // the buttons still work; the marks show after the next opening
    });
  }

  function mark(cid, turnId, button) {
    show(button, 'marking');
    C.call('POST', '/api/conversations/' + C.enc(cid) + '/good-answers', { turn_id: turnId }).then(function () {
      (marked[cid] || (marked[cid] = {}))[turnId] = true;
      Array.prototype.forEach.call(buttons(cid, turnId), function (b) { show(b, 'marked'); });
      C.notify(t('good.done'), 'info', 'good_answer_marked');
    }).catch(function (err) {
      // The server's message is in the console's language (e.g. not_an_answer): shown next to
      // the reply it is about, and as a notice.
      show(button, 'idle', err.message);
      if (err.status !== 401) C.notify(err.message, 'error', err.code);
    });
  }

  C.onTurn(function (node, turn, cid) {
    // Only replies the server has (an id): a reply still being sent cannot be marked yet.
    if (turn.kind !== 'agent' || !turn.id || !cid) return;
    var button = el('button', { type: 'button', class: 'link-button good-answer', 'data-testid': 'good-answer',
      'data-conversation-id': cid, 'data-turn-id': turn.id, title: t('good.title') });
    var error = el('span', { class: 'good-answer-error', 'data-testid': 'good-answer-error', role: 'alert', hidden: true });
    node.appendChild(el('div', { class: 'turn-actions' }, [button, error]));
    show(button, marked[cid] && marked[cid][turn.id] ? 'marked' : 'idle');
    button.addEventListener('click', function () { mark(cid, turn.id, button); });
    load(cid);
  });

  C.onStop(function () {
    marked = {};
    loading = {};
  });
})();
