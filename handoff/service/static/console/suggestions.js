/* Suggested replies above the reply box: up to three, for the customer's latest message, from
 * the team's knowledge (canned responses, replies marked as good answers), in the customer's
 * language (GET /api/conversations/{id}/suggestions). A click puts one in the reply box, to
 * edit before sending; nothing is sent by itself.
 * Subscribes to console:opened, console:loaded (a claim reloads the conversation) and message
 * (a customer's turn: new suggestions).
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var t = window.HandoffI18n.t;
  var el = C.el;
  var view = { convId: null, seq: 0 };

  function box() { return C.$('suggestions'); }

  function hide() { C.clear(box()); box().hidden = true; }

  function load() {
    var id = view.convId;
    var conv = C.conversation.current();
    if (!id || !conv || conv.id !== id || !C.isMine(conv)) { hide(); return; }
    var seq = ++view.seq;
    C.call('GET', '/api/conversations/' + C.enc(id) + '/suggestions').then(function (d) {
      if (seq === view.seq && id === view.convId) render(d.suggestions || []);
    }).catch(function () { if (seq === view.seq) hide(); });   // a help, never in the way
  }

  function render(found) {
    var node = box();
    C.clear(node);
    node.hidden = !found.length;
    if (!found.length) return;
    node.appendChild(el('span', { class: 'muted small', text: t('suggest.label') }));
    found.forEach(function (s) {
      var b = el('button', { type: 'button', class: 'suggestion', 'data-testid': 'suggestion',
        'data-source': s.source, title: s.text, text: s.title ? s.title + ' — ' + s.text : s.text });
      b.addEventListener('click', function () {
        var input = C.$('reply-input');
        input.value = s.text;
        input.focus();
        input.setSelectionRange(s.text.length, s.text.length);
        C.reply.changed();
      });
      node.appendChild(b);
    });
  }

  C.on('console:opened', function (f) { view.convId = f.conversation_id || null; view.seq++; hide(); });
  C.on('console:loaded', function (f) { if (f.conversation_id === view.convId) load(); });
  C.on('message', function (f) {
    if (f.conversation_id === view.convId && f.turn && f.turn.kind === 'customer') load();
  });
  C.onStop(function () { view.convId = null; view.seq++; });
})();
