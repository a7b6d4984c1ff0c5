/* Search, filters, sorting and paging for the console's long lists (the queue, supervision).
 *
 * A queue of a few hundred must stay workable: an agent finds a customer by name, e-mail, order
 * number or any word they wrote (every word typed must match, accents and case ignored), narrows
 * by team, language, channel, reason or lateness, sorts, and pages through 25 at a time. A
 * compact density (kept per browser and list) fits more on a laptop's screen.
 *
 *   var controls = HandoffLists.controls({ id: 'queue', label: fn(kind, value), team: fn(id),
 *     t: HandoffI18n.t, view: fn(item) -> {ticket, team, sla, created_at, priority},
 *     onChange: fn(), list: the element that carries data-density });
 *   container.appendChild(controls.node);
 *   var page = controls.apply(items);   // {items: the page's items, matched, total}
 *
 * Texts go in with textContent only.
 */
(function () {
  'use strict';

  var PAGE_SIZE = 25;
  var FILTERS = ['team', 'language', 'channel', 'reason'];
  var SORTS = ['line', 'wait', 'recent', 'priority'];
  var LATE = { breached: true, missed: true };
  var haystacks = typeof WeakMap === 'function' ? new WeakMap() : null;
  var DENSITY_KEY = 'handoff.console.density.';

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v == null || v === false) return;
      if (k === 'text') node.textContent = String(v);
      else if (k === 'class') node.className = v;
      else node.setAttribute(k, String(v));
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  /* Lower case, without accents: "Réclamation" and "reclamation" match. */
  function fold(s) {
    s = String(s == null ? '' : s).toLowerCase();
    return s.normalize ? s.normalize('NFD').replace(/[\u0300-\u036f]/g, '') : s;
  }

  function words(value, out) {
    if (value == null) return out;
    if (Array.isArray(value)) { value.forEach(function (v) { words(v, out); }); return out; }
    if (typeof value === 'object') {
      Object.keys(value).forEach(function (k) { words(value[k], out); });
      return out;
    }
    out.push(String(value));
    return out;
  }

  /* Everything a customer can be found by, in one folded string (kept per object). */
  function haystack(v, item) {
    var cached = haystacks && haystacks.get(item);
    if (cached) return cached;
    var ticket = v.ticket || {};
    var parts = [ticket.conversation_id, v.id, ticket.summary, ticket.summary_fr, v.agent];
    words(ticket.customer, parts);
    words(ticket.slots, parts);
    (ticket.entities || []).forEach(function (e) { parts.push(e && e.value); });
    (ticket.transcript || []).forEach(function (turn) { parts.push(turn && turn.text); });
    var text = fold(parts.filter(function (p) { return p != null; }).join(' \u0001 '));
    if (haystacks) haystacks.set(item, text);
    return text;
  }

  function late(v) { return !!(v.sla && LATE[v.sla.state]); }

  function createdAt(v) {
    var n = Number(v.created_at != null ? v.created_at : (v.ticket && v.ticket.created_at));
    return isNaN(n) ? 0 : n;
  }

  var COMPARE = {
    wait: function (a, b) { return createdAt(a.v) - createdAt(b.v); },
    recent: function (a, b) { return createdAt(b.v) - createdAt(a.v); },
    priority: function (a, b) {
      return ((b.v.ticket && b.v.ticket.priority) || 0) - ((a.v.ticket && a.v.ticket.priority) || 0) ||
        createdAt(a.v) - createdAt(b.v);
    }
  };

  function valueOf(kind, v) {
    if (kind === 'team') return v.team || '';
    return (v.ticket && v.ticket[kind]) || '';
  }

  function controls(opts) {
    var t = opts.t;
    var id = opts.id;
    var st = { q: '', page: 0, sort: 'line', late: false, filters: {} };

    var search = el('input', { type: 'search', class: 'list-search', id: id + '-search',
      'data-testid': id + '-search', placeholder: t('lists.searchPlaceholder'),
      'aria-label': t('lists.searchLabel'), autocomplete: 'off', spellcheck: 'false',
      'aria-keyshortcuts': opts.shortcut || null, title: opts.shortcut ? t('lists.shortcut', { key: opts.shortcut }) : null });
    var selects = {};
    FILTERS.forEach(function (kind) {
      selects[kind] = el('select', { class: 'list-filter', 'data-testid': id + '-filter-' + kind,
        'aria-label': t('lists.filter.' + kind) });
    });
    var lateBox = el('input', { type: 'checkbox', 'data-testid': id + '-filter-late' });
    var sort = el('select', { class: 'list-filter', 'data-testid': id + '-sort', 'aria-label': t('lists.sort') },
      SORTS.map(function (s) { return el('option', { value: s, text: t('lists.sort.' + s) }); }));
    var prev = el('button', { type: 'button', class: 'btn btn-small', 'data-testid': id + '-prev',
      'aria-label': t('lists.prev'), text: '‹' });
    var next = el('button', { type: 'button', class: 'btn btn-small', 'data-testid': id + '-next',
      'aria-label': t('lists.next'), text: '›' });
    var pageText = el('span', { class: 'pager-text', 'data-testid': id + '-page-text', 'aria-live': 'polite' });
    var pager = el('div', { class: 'pager', 'data-testid': id + '-pager' }, [prev, pageText, next]);
    var density = el('button', { type: 'button', class: 'btn btn-small list-density', 'data-testid': id + '-density',
      title: t('lists.compactTitle'), text: t('lists.compact') });

    var node = el('div', { class: 'list-controls', 'data-testid': id + '-controls' }, [
      search,
      el('div', { class: 'list-filters' }, FILTERS.map(function (k) { return selects[k]; }).concat([
        el('label', { class: 'list-late' }, [lateBox, el('span', { text: t('lists.late') })]),
        sort,
        density
      ]))
    ]);

    function changed(resetPage) {
      if (resetPage) st.page = 0;
      opts.onChange();
    }
    var typing = null;
    search.addEventListener('input', function () {
      clearTimeout(typing);
      typing = setTimeout(function () { st.q = search.value; changed(true); }, 120);
    });
    search.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape' && search.value) { search.value = ''; st.q = ''; changed(true); }
    });
    FILTERS.forEach(function (kind) {
      selects[kind].addEventListener('change', function () { st.filters[kind] = selects[kind].value; changed(true); });
    });
    lateBox.addEventListener('change', function () { st.late = lateBox.checked; changed(true); });
    sort.addEventListener('change', function () { st.sort = sort.value; changed(true); });
    function compact() {
      try { return window.localStorage.getItem(DENSITY_KEY + id) === 'compact'; } catch (e) { return false; }
    }
    function showDensity(on) {
      density.setAttribute('aria-pressed', on ? 'true' : 'false');
      if (opts.list) opts.list.setAttribute('data-density', on ? 'compact' : 'comfortable');
    }
    density.addEventListener('click', function () {
      var on = !compact();
      try { window.localStorage.setItem(DENSITY_KEY + id, on ? 'compact' : 'comfortable'); } catch (e) { /* private mode */ }
      showDensity(on);
    });
    showDensity(compact());
    prev.addEventListener('click', function () { st.page = Math.max(0, st.page - 1); changed(false); });
    next.addEventListener('click', function () { st.page += 1; changed(false); });

    /* The options of each filter: the values present in the list, with their labels. */
    function fillOptions(views) {
      FILTERS.forEach(function (kind) {
        var seen = {};
        views.forEach(function (v) { var x = valueOf(kind, v); if (x) seen[x] = true; });
        var current = st.filters[kind] || '';
        if (current) seen[current] = true;
        var sel = selects[kind];
        while (sel.firstChild) sel.removeChild(sel.firstChild);
        sel.appendChild(el('option', { value: '', text: t('lists.all.' + kind) }));
        Object.keys(seen).map(function (x) {
          return { value: x, text: kind === 'team' ? opts.team(x) : opts.label(kind === 'language' ? 'lang' : kind, x) };
        }).sort(function (a, b) { return a.text.localeCompare(b.text); }).forEach(function (o) {
          sel.appendChild(el('option', { value: o.value, text: o.text }));
        });
        sel.value = current;
      });
    }

    function apply(items) {
      var all = items.map(function (item) { return { item: item, v: opts.view(item) }; });
      fillOptions(all.map(function (x) { return x.v; }));
      var needles = fold(st.q).split(/\s+/).filter(Boolean);
      var kept = all.filter(function (x) {
        for (var i = 0; i < FILTERS.length; i++) {
          var want = st.filters[FILTERS[i]];
          if (want && valueOf(FILTERS[i], x.v) !== want) return false;
        }
        if (st.late && !late(x.v)) return false;
        if (!needles.length) return true;
        var hay = haystack(x.v, x.item);
        return needles.every(function (n) { return hay.indexOf(n) >= 0; });
      });
      if (COMPARE[st.sort]) kept.sort(COMPARE[st.sort]);
      var pages = Math.max(1, Math.ceil(kept.length / PAGE_SIZE));
      st.page = Math.min(st.page, pages - 1);
      var from = st.page * PAGE_SIZE;
      var shown = kept.slice(from, from + PAGE_SIZE);
      prev.disabled = st.page === 0;
      next.disabled = st.page >= pages - 1;
      pager.hidden = kept.length <= PAGE_SIZE;
      pageText.textContent = kept.length ? t('lists.page', { from: from + 1, to: from + shown.length,
        total: kept.length }) : '';
      node.setAttribute('data-filtered', needles.length || st.late ||
        FILTERS.some(function (k) { return st.filters[k]; }) ? 'true' : 'false');
      return { items: shown.map(function (x) { return x.item; }), matched: kept.length, total: items.length,
        pager: pager };
    }

    return { node: node, pager: pager, apply: apply, search: search };
  }

  window.HandoffLists = { controls: controls, fold: fold, PAGE_SIZE: PAGE_SIZE };
})();
