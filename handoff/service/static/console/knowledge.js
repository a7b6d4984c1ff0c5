/* A search box over the team's knowledge in the context panel (GET /api/knowledge): the
 * assistant's FAQ answers, canned responses and good answers (masked), in the customer's
 * language; "Insert" puts an answer in the reply box, to edit before sending.
 * Adds a section to the context (C.context.addSection); its own state: the query and results.
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var t = window.HandoffI18n.t;
  var el = C.el;
  var DELAY_MS = 250;   // search once the agent pauses typing
  var view = { query: '', results: [], node: null, timer: null, seq: 0, language: 'en' };

  function search() {
    var seq = ++view.seq;
    var q = view.query.trim();
    if (!q) { view.results = []; draw(); return; }
    C.call('GET', '/api/knowledge?q=' + C.enc(q) + '&language=' + C.enc(view.language))
      .then(function (d) { if (seq === view.seq) { view.results = d.results || []; draw(); } })
      .catch(function (err) { if (err.status !== 401 && seq === view.seq) C.notify(err.message, 'error', err.code); });
  }

  function section(conv) {
    view.language = C.languageOf(conv) === 'fr' ? 'fr' : 'en';
    if (!view.node) {
      var input = el('input', { type: 'search', 'data-testid': 'knowledge-search', maxlength: '200',
        'aria-label': t('knowledge.search'), placeholder: t('knowledge.search') });
      input.addEventListener('input', function () {
        view.query = input.value;
        clearTimeout(view.timer);
        view.timer = setTimeout(search, DELAY_MS);
      });
      view.list = el('ul', { class: 'knowledge-results', 'data-testid': 'knowledge-results' });
      view.node = el('section', { class: 'ctx-section', 'data-testid': 'context-knowledge' }, [
        el('h3', { text: t('knowledge.heading') }), input, view.list]);
    }
    draw();
    return view.node;
  }

  function draw() {
    if (!view.list) return;
    C.clear(view.list);
    if (view.query.trim() && !view.results.length) {
      view.list.appendChild(el('li', { class: 'empty', text: t('knowledge.none') }));
    }
    view.results.forEach(function (r) {
      var insert = el('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'knowledge-insert',
        text: t('knowledge.insert') });
      insert.addEventListener('click', function () {
        var box = C.$('reply-input');
        if (box.disabled) return;
        box.value = r.text;
        box.focus();
        C.reply.changed();
      });
      view.list.appendChild(el('li', { class: 'knowledge-result', 'data-testid': 'knowledge-result', 'data-source': r.source }, [
        el('div', { class: 'knowledge-title', text: t('knowledge.source.' + r.source) + ' · ' + (r.title || '') }),
        el('div', { class: 'knowledge-text', text: r.text }), insert]));
    });
  }

  C.context.addSection(function (conv) { return conv && conv.ticket ? section(conv) : null; });
  C.onStop(function () { view = { query: '', results: [], node: null, timer: null, seq: 0, language: 'en' }; });
})();
