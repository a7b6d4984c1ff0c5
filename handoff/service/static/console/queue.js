/* The queue view: the customers waiting that this agent may take (GET /api/queue, then the
 * ticket.queued / ticket.removed / conversation.state frames).
 *
 * A queue of hundreds stays workable: search, filters, sorting and paging come from lists.js;
 * new conversations are counted in one notice, not one notice each.
 * Publishes C.queue = {remove(id), reload()}.
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var t = window.HandoffI18n.t;
  var $ = C.$;
  var el = C.el;

  var WAIT_REFRESH_MS = 5000;

  // full: I hold as many conversations as I may (a claim from the list cannot work then).
  var view = { tickets: [], selected: null, controls: null, full: false, max: null };
  var queuedNotice = { node: null, count: 0 };

  function idOf(ticket) { return ticket && ticket.conversation_id; }

  function indexOf(id) {
    for (var i = 0; i < view.tickets.length; i++) if (idOf(view.tickets[i]) === id) return i;
    return -1;
  }

  function listView(ticket) {
    return { ticket: ticket, team: ticket.team, sla: ticket.sla, created_at: ticket.created_at };
  }

  function render() {
    if (!view.controls) {
      view.controls = window.HandoffLists.controls({ id: 'queue', t: t, label: C.label, team: C.teamLabel,
        view: listView, onChange: render, list: $('queue-list'), shortcut: '/' });
      $('queue-controls').appendChild(view.controls.node);
      $('queue-pager-slot').appendChild(view.controls.pager);
    }
    var list = $('queue-list');
    C.clear(list);
    var page = view.controls.apply(view.tickets);
    page.items.forEach(function (ticket) { list.appendChild(renderItem(ticket)); });
    $('queue-count').textContent = String(view.tickets.length);
    $('queue-empty').hidden = view.tickets.length > 0;
    $('queue-nomatch').hidden = !(view.tickets.length > 0 && page.matched === 0);
    view.controls.node.hidden = view.tickets.length < 2;
    C.emit('waiting', { count: view.tickets.length });
  }

  function slaTag(ticket) {
    // Supervisors see at a glance which tickets are about to miss their first-reply target.
    var sla = ticket.sla;
    if (!C.isSupervisor() || !sla || (sla.state !== 'near' && sla.state !== 'breached')) return null;
    return el('span', { class: 'tag sla sla-' + sla.state, 'data-testid': 'queue-sla',
      text: t('sla.' + sla.state, { time: C.fmtDuration(Math.abs(sla.seconds_left)) }) });
  }

  function renderItem(ticket) {
    var id = idOf(ticket);
    var claim = el('button', { type: 'button', class: 'btn btn-primary btn-small', 'data-testid': 'claim-button',
      'data-conversation-id': id, text: t('queue.claim') });
    claim.addEventListener('click', function (ev) { ev.stopPropagation(); C.claim(id, claim); });
    if (view.full) {
      claim.disabled = true;   // the limit banner under "My conversations" says why
      claim.title = t('claim.limit', { max: view.max });
    }

    var tags = el('div', { class: 'item-tags' }, [
      el('span', { class: 'tag tag-reason tag-reason-' + (ticket.reason || 'unknown'), 'data-testid': 'queue-reason',
        text: C.label('reason', ticket.reason) }),
      ticket.priority > 0 ? el('span', { class: 'tag tag-priority', title: (ticket.priority_reasons || [])
        .map(function (r) { return C.label('why', r); }).join(', '), text: t('queue.priority') }) : null,
      ticket.follow_up ? el('span', { class: 'tag tag-followup', 'data-testid': 'queue-followup',
        text: C.label('followup', ticket.follow_up) }) : null,
      el('span', { class: 'tag tag-lang', title: C.label('lang', ticket.language),
        text: String(ticket.language || '?').toUpperCase() }),
      el('span', { class: 'tag', text: C.label('channel', ticket.channel) }),
      ticket.team ? el('span', { class: 'tag tag-team', 'data-testid': 'queue-team',
        title: t('queue.team', { team: C.teamLabel(ticket.team) }), text: C.teamLabel(ticket.team) }) : null,
      slaTag(ticket)
    ]);
    var li = el('li', {
      class: 'item queue-item' + (id === view.selected ? ' selected' : ''),
      'data-testid': 'queue-item', 'data-conversation-id': id, tabindex: '0'
    }, [
      el('div', { class: 'item-head' }, [
        el('span', { class: 'item-title', text: C.customerTitle({ id: id, ticket: ticket }) }),
        el('span', { class: 'wait', 'data-testid': 'queue-wait', 'data-created-at': ticket.created_at,
          text: C.waitingText(ticket.created_at) })
      ]),
      tags,
      el('p', { class: 'item-summary', 'data-testid': 'queue-summary', text: C.firstLine(C.summaryOf(ticket)) }),
      el('div', { class: 'item-actions' }, [claim])
    ]);
    C.onActivate(li, function (fromKeyboard) { C.open(id, { focus: fromKeyboard }); });
    return li;
  }

  var tickets = C.snapshots(function () { return C.call('GET', '/api/queue'); }, function (d) {
    view.tickets = Array.isArray(d.tickets) ? d.tickets : [];
  });

  function upsert(ticket) {
    var id = idOf(ticket);
    if (!id) return false;
    var added = tickets.change(function () {
      var i = indexOf(id);
      if (i >= 0) view.tickets[i] = ticket; else view.tickets.push(ticket);
      return i < 0;
    });
    render();
    if (added) {
      var li = document.querySelector('#queue-list [data-conversation-id="' + C.cssEscape(id) + '"]');
      if (li) li.classList.add('flash');
    }
    return added;
  }

  function remove(id) {
    var removed = tickets.change(function () {
      var i = indexOf(id);
      if (i >= 0) view.tickets.splice(i, 1);
      return i >= 0;
    });
    if (removed) render();
  }

  function reload() {
    return tickets.load().then(function (answered) {
      if (answered) render();
    }).catch(function (err) {
      if (err.status !== 401) C.notify(err.message);
    });
  }

  /* New conversations at volume: one notice that counts them, not one per conversation. */
  function notifyQueued() {
    var q = queuedNotice;
    if (!q.node || !q.node.isConnected) {
      q.count = 0;
      q.node = C.notify(t('queue.new'), 'info', 'ticket_queued');
    }
    q.count += 1;
    if (q.count > 1) q.node.querySelector('.notice-text').textContent = t('queue.newMany', { count: q.count });
  }

  function refreshWaits() {
    var nodes = document.querySelectorAll('.wait[data-created-at]');
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = C.waitingText(nodes[i].getAttribute('data-created-at'));
  }

  /* "/" anywhere but in a field goes to the queue's search (as in most web apps' lists). */
  function onShortcut(ev) {
    var target = ev.target;
    if (ev.key !== '/' || ev.ctrlKey || ev.metaKey || ev.altKey || !view.controls) return;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    if ($('app-view').hidden || view.controls.node.hidden) return;
    ev.preventDefault();
    view.controls.search.focus();
    view.controls.search.select();
  }

  C.on('ticket.queued', function (f) {
    if (!f.ticket || !upsert(f.ticket)) return;
    C.announce(t('queue.new'));
    notifyQueued();
    C.emit('queued', { ticket: f.ticket });
  });
  C.on('ticket.removed', function (f) { remove(f.conversation_id); });
  C.on('conversation.state', function (f) { if (f.state !== 'queued') remove(f.conversation_id); });
  C.on('console:opened', function (f) {
    view.selected = f.conversation_id;
    var nodes = document.querySelectorAll('#queue-list .item[data-conversation-id]');
    for (var i = 0; i < nodes.length; i++) {
      nodes[i].classList.toggle('selected', nodes[i].getAttribute('data-conversation-id') === view.selected);
    }
  });
  C.on('console:load', function (f) {
    var full = !!(f.max && f.count >= f.max);
    if (full === view.full) return;
    view.full = full;
    view.max = f.max;
    render();
  });
  C.on('console:connected', reload);
  C.onStart(function () {
    C.loadTeams().then(render);   // team names in the tags and the filter
    reload();
  });
  C.onStop(function () {
    view.tickets = [];
    view.selected = null;
    view.full = false;
    render();
  });
  setInterval(refreshWaits, WAIT_REFRESH_MS);
  document.addEventListener('keydown', onShortcut);

  C.queue = { remove: remove, reload: reload };
})();
