/* Canned responses in the reply box: "/words" alone on its first line searches them
 * (GET /api/canned), arrows pick, Enter or Tab inserts the text in the customer's language,
 * Escape leaves the words as typed. A "/words" with no match is never sent by mistake.
 * Publishes C.canned = {input(), keydown(ev) -> true when it took the key, close(), reset()}.
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var I18N = window.HandoffI18n;
  var t = I18N.t;
  var $ = C.$;
  var el = C.el;

  var DELAY_MS = 120;

  var c = { open: false, dismissed: false, items: [], active: 0, seq: 0, timer: null,
    loading: false, enterPending: false };

  function input() { return $('reply-input'); }

  function query() {
    var v = input().value;
    if (v.charAt(0) !== '/' || v.indexOf('\n') >= 0) return null;
    return v.slice(1);
  }

  function schedule(q) {
    clearTimeout(c.timer);
    c.loading = true;
    if (!c.open) { c.open = true; c.items = []; c.active = 0; render(); }
    c.timer = setTimeout(function () { search(q); }, DELAY_MS);
  }

  function search(q) {
    var seq = ++c.seq;
    C.call('GET', '/api/canned?q=' + C.enc(q.trim())).then(function (d) {
      if (seq !== c.seq || !c.open) return;
      c.loading = false;
      c.items = Array.isArray(d.canned) ? d.canned : [];
      c.active = 0;
      render();
      if (c.enterPending) { c.enterPending = false; if (c.items.length) insert(0); }
    }).catch(function (err) {
      if (seq !== c.seq) return;
      close();
      if (err.status !== 401) C.notify(err.message, 'error', err.code);
    });
  }

  function close() {
    clearTimeout(c.timer);
    c.seq++;
    c.open = false;
    c.loading = false;
    c.enterPending = false;
    c.items = [];
    var list = $('canned-list');
    C.clear(list);
    list.hidden = true;
    input().removeAttribute('aria-activedescendant');
  }

  function textOf(item) {
    var texts = item.text || {};
    var l = C.languageOf(C.conversation.current()) || 'en';
    var text = typeof texts === 'string' ? texts : (texts[l] || texts.en || texts.fr || '');
    return String(text).replace(/\{agent\}/g, C.myName());
  }

  function titleOf(item) {
    var ti = item.title || {};
    return typeof ti === 'string' ? ti : (ti[I18N.lang] || ti.en || ti.fr || item.id || '');
  }

  function render() {
    var list = $('canned-list');
    var box = input();
    C.clear(list);
    list.hidden = !c.open;  // (aria-expanded is not allowed on a text box: the list shows itself)
    if (!c.open) return;
    if (!c.items.length) {
      box.removeAttribute('aria-activedescendant');
      list.appendChild(el('li', { class: 'canned-empty', role: 'presentation', 'data-testid': 'canned-empty',
        text: t(c.loading ? 'canned.loading' : 'canned.empty') }));
      return;
    }
    c.items.forEach(function (item, i) {
      var li = el('li', {
        id: 'canned-opt-' + i, class: 'canned-item' + (i === c.active ? ' active' : ''), role: 'option',
        'aria-selected': i === c.active ? 'true' : 'false', 'data-testid': 'canned-item',
        'data-canned-id': item.id || null
      }, [
        el('span', { class: 'canned-title', text: titleOf(item) }),
        el('span', { class: 'canned-text', text: textOf(item) })
      ]);
      li.addEventListener('mousedown', function (ev) { ev.preventDefault(); });   // keep the focus
      li.addEventListener('click', function () { insert(i); });
      list.appendChild(li);
    });
    box.setAttribute('aria-activedescendant', 'canned-opt-' + c.active);
  }

  function move(delta) {
    var n = c.items.length;
    if (!n) return;
    c.active = (c.active + delta + n) % n;
    render();
    var node = $('canned-opt-' + c.active);
    if (node && node.scrollIntoView) node.scrollIntoView({ block: 'nearest' });
  }

  function insert(i) {
    var item = c.items[i];
    if (!item) return;
    var text = textOf(item);
    var box = input();
    box.value = text;
    close();
    c.dismissed = false;
    box.focus();
    box.setSelectionRange(text.length, text.length);
    C.reply.changed();
  }

  /* The reply box changed. */
  function onInput() {
    c.enterPending = false;
    var q = query();
    if (q == null) { c.dismissed = false; close(); } else if (!c.dismissed) schedule(q);
  }

  function onKeydown(ev, enter) {
    if (!c.open) return false;
    if (ev.key === 'ArrowDown') { ev.preventDefault(); move(1); return true; }
    if (ev.key === 'ArrowUp') { ev.preventDefault(); move(-1); return true; }
    if (ev.key === 'Escape') { ev.preventDefault(); c.dismissed = true; close(); return true; }
    if (enter || ev.key === 'Tab') {
      if (c.loading) { ev.preventDefault(); c.enterPending = true; return true; }
      if (c.items.length) { ev.preventDefault(); insert(c.active); return true; }
      if (enter) { ev.preventDefault(); return true; }   // no match: never send "/words" by mistake
    }
    return false;
  }

  input().addEventListener('blur', function () {
    setTimeout(function () { if (document.activeElement !== input()) close(); }, 150);
  });

  C.canned = { input: onInput, keydown: onKeydown, close: close,
    reset: function () { close(); c.dismissed = false; } };
})();
