"""Every Redis key, stream, channel and consumer-group name, in one place.

Per-conversation keys carry the conversation id as a hash tag (`{id}`) so that, under Redis
Cluster, all keys of one conversation live in one slot, Rasa's tracker and lock included
(`RasaKeys`). The prefix is versioned: change it when a stored format changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

# Consumer groups (one per role; every process of that role joins the same group).
GROUP_ROUTER = "router"  # reads STREAM tickets
GROUP_RELAY = "relay"  # reads STREAM events
GROUP_DELIVERY = "delivery"  # reads STREAM outbox
GROUP_REQUESTS = "requests"  # reads STREAM customer-requests
GROUP_CONSOLES = "consoles"  # reads STREAM relay (customer turns of live conversations)

RASA_KEY_PREFIX = "hfv1"  # endpoints.yml: `key_prefix` of Rasa's tracker store and lock store


@dataclass(frozen=True)
class RasaKeys:
    """Rasa's tracker and lock of a conversation, in the conversation's hash slot.

    Rasa's own Redis stores name them `<prefix>:tracker:<id>` and `<prefix>:lock:<id>`, a slot
    of their own each, so no atomic step (the live path's write-behind reads both with the
    tracker) could run on a Redis Cluster. The project's stores (`bot/tracker_store.py`,
    `bot/lock_store.py`) put the id in a hash tag, as `Keys` does: `<prefix>:tracker:{<id>}`.
    The names Rasa's layout gave (`legacy_*`) are only for what is still under them, off a
    Cluster: the stores and the write-behind move it when they write it, `handoff.rasa_keys`
    moves the rest, and readers of many trackers (privacy, miner) look under both. `prefix` is
    the stores' `key_prefix` (alphanumeric, Rasa's rule).
    """

    prefix: str = RASA_KEY_PREFIX

    def tracker(self, conversation_id: str) -> str:
        """STRING, owner `bot.tracker_store`: JSON `{"events": [...], "name": <id>}`."""
        return f"{self._start('tracker')}{{{conversation_id}}}"

    def lock(self, conversation_id: str) -> str:
        """STRING, owner `bot.lock_store`: Rasa's ticket lock (JSON, `tickets`)."""
        return f"{self._start('lock')}{{{conversation_id}}}"

    def legacy_tracker(self, conversation_id: str) -> str:
        """The tracker's name in Rasa's own layout, without a hash tag."""
        return self._start("tracker") + conversation_id

    def legacy_lock(self, conversation_id: str) -> str:
        """The lock's name in Rasa's own layout, without a hash tag."""
        return self._start("lock") + conversation_id

    def trackers(self, conversation_id: str) -> List[str]:
        """Every name the conversation's tracker may have: the new one first."""
        return [self.tracker(conversation_id), self.legacy_tracker(conversation_id)]

    def is_tracker(self, key: str) -> bool:
        """Whether `key` names a tracker, in either layout."""
        return key.startswith(self._start("tracker"))

    @property
    def tracker_pattern(self) -> str:
        """SCAN pattern of every tracker, in either layout."""
        return self._start("tracker") + "*"

    @property
    def lock_pattern(self) -> str:
        """SCAN pattern of every lock, in either layout."""
        return self._start("lock") + "*"

    def conversation_of(self, key: str) -> str:
        """The conversation id in a tracker's or lock's name, either layout.

        A name in Rasa's layout whose id itself is `{…}` reads as the id inside the braces:
        only the stored JSON (`name`, `conversation_id`) tells them apart (`handoff.rasa_keys`
        does, before moving it).
        """
        for kind in ("tracker", "lock"):
            start = self._start(kind)
            if key.startswith(start):
                rest = key[len(start):]
                return rest[1:-1] if is_hash_tagged(rest) else rest
        raise ValueError(f"not a Rasa tracker or lock key: {key!r}")

    def _start(self, kind: str) -> str:
        # Rasa's stores: `<key_prefix>:tracker:`, or `tracker:` without a key prefix.
        return f"{self.prefix}:{kind}:" if self.prefix else f"{kind}:"


RASA_KEYS = RasaKeys()  # the stores' key prefix of endpoints.yml


def is_hash_tagged(rest: str) -> bool:
    """Whether a key's end, after its fixed start, is a whole hash tag `{…}`."""
    return len(rest) >= 2 and rest[0] == "{" and rest[-1] == "}"


def makes_a_hash_tag(conversation_id: str) -> bool:
    """Whether `conversation_id` in braces is a hash tag: all its keys then share one slot.

    Redis hashes what lies between a key's first `{` and the next `}`, unless that is empty:
    then the whole key. An empty id, or one starting with `}`, leaves `{}` in each of the
    conversation's keys, which then fall in slots of their own, and on a Redis Cluster every
    atomic step over two of them fails (CROSSSLOT). No channel makes such an id (web chat ids
    are the server's hex, Messenger's digits, the REST channel's `rest-…`): a door that takes
    one from outside refuses it.
    """
    return bool(conversation_id) and not conversation_id.startswith("}")


@dataclass(frozen=True)
class Keys:
    """Key names under one prefix (default `hf:v1`)."""

    prefix: str = "hf:v1"

    def conversation(self, conversation_id: str) -> str:
        """HASH, owner `handoff.conversation`: state, agent, ticket_id, channel, language."""
        return f"{self.prefix}:conv:{{{conversation_id}}}"

    def delivered(self, conversation_id: str) -> str:
        """HASH, owner `handoff.service.jobs.workers`: agent message id -> delivery mark.

        `sent` | `failed`; on Messenger also `sending` / `sent_out` around the Send API call.
        """
        return f"{self.prefix}:conv:{{{conversation_id}}}:delivered"

    def client_ids(self, conversation_id: str) -> str:
        """HASH, owner `handoff.outbox`: console client_id -> message id (resends are no-ops)."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:client_ids"

    def outbox_due(self, conversation_id: str) -> str:
        """HASH with a TTL, owner `handoff.outbox`, on a Redis Cluster only.

        Message id -> its outbox fields (JSON), so that a resend enqueues a message whose outbox
        entry (another slot, after the accept's step) a crash may have lost.
        """
        return f"{self.prefix}:conv:{{{conversation_id}}}:outbox-due"

    def contact(self, conversation_id: str) -> str:
        """HASH email, phone: contact details a waiting customer left, owner `Relay`."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:contact"

    def segment(self, conversation_id: str) -> str:
        """STREAM, owner `handoff.relay`: turns of the human segment not yet in the tracker.

        Field `event`: a Rasa event (JSON) with its message id. Written by the channels
        (customer turns) and the delivery (agent turns, notices); emptied by the tracker writer.
        """
        return f"{self.prefix}:conv:{{{conversation_id}}}:segment"

    def relay_due(self, conversation_id: str) -> str:
        """HASH with a TTL, owner `handoff.relay.inbound`, on a Redis Cluster only.

        Message id -> event (JSON) of a customer turn taken for the person, until its relay
        entry is written (the relay stream lives in another slot: it follows the take's step).
        """
        return f"{self.prefix}:conv:{{{conversation_id}}}:relay-due"

    def last_customer_turn(self, conversation_id: str) -> str:
        """HASH, owner `handoff.relay`: the customer's last message of the human segment.

        `event` (JSON), `answered` (`1` once an agent wrote after it). The give-back parses it
        and, unanswered, has the bot answer it.
        """
        return f"{self.prefix}:conv:{{{conversation_id}}}:last-customer"

    def tracker_lease(self, conversation_id: str) -> str:
        """STRING with a TTL, owner `handoff.relay.tracker`: a writer is flushing the segment."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:writing"

    def notes(self, conversation_id: str) -> str:
        """LIST of note JSON, owner `handoff.notes`: internal notes, never shown to customers."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:notes"

    def order_requests(self, conversation_id: str) -> str:
        """HASH, owner `handoff.service.api.order_actions`: the console's action requests.

        Request id -> `running` (being run, or cut short: run again, the order store makes it
        happen once) or the outcome's JSON (done and told: a resend answers it again).
        """
        return f"{self.prefix}:conv:{{{conversation_id}}}:order-requests"

    def proven_orders(self, conversation_id: str) -> str:
        """SET, owner `handoff.service.api.order_routes`: orders the customer proved to agents."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:proven-orders"

    def approval(self, conversation_id: str, approval_id: str) -> str:
        """HASH, owner `handoff.orders.approvals`: an action above a team's limit.

        kind, order_number, amount_cents, requested_by(_name), status (`pending`, `approving`,
        `approved`, `refused`, `failed`), decided_by(_name), created_at, decided_at, outcome.
        """
        return f"{self.prefix}:conv:{{{conversation_id}}}:approval:{approval_id}"

    def conversation_approvals(self, conversation_id: str) -> str:
        """ZSET approval id -> time asked, owner `handoff.orders.approvals`."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:approvals"

    @property
    def approvals_pending(self) -> str:
        """ZSET, owner `handoff.orders.approvals`: what supervisors have to decide.

        Member `[conversation id, approval id]` (JSON), scored with the time asked.
        """
        return f"{self.prefix}:approvals:pending"

    def callback(self, conversation_id: str, callback_id: str) -> str:
        """HASH, owner `handoff.callbacks`: one call-back offered to the customer.

        status (`offered`, `scheduled`, `done`), team, language, channel, token, offered_by(_name),
        offered_at, slot, due_at, phone, scheduled_at, outcome, note, done_by(_name), done_at,
        request_id, told (`1` once the outcome is in the conversation's record).
        """
        return f"{self.prefix}:conv:{{{conversation_id}}}:callback:{callback_id}"

    def conversation_callbacks(self, conversation_id: str) -> str:
        """ZSET callback id -> time offered, owner `handoff.callbacks`."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:callbacks"

    def callback_token(self, token: str) -> str:
        """STRING `[conversation id, callback id]` (JSON) with a TTL, owner `handoff.callbacks`.

        The secret in the link the customer opens to pick a time (`/callback/<token>`).
        """
        return f"{self.prefix}:callback-token:{token}"

    @property
    def callbacks_due(self) -> str:
        """ZSET, owner `handoff.callbacks`: the call-back list, scheduled calls by due time.

        Member `[conversation id, callback id]` (JSON), scored with the time the call is due.
        """
        return f"{self.prefix}:callbacks:due"

    def journal(self, conversation_id: str) -> str:
        """STREAM, owner `handoff.journal`: the conversation's messages, for replay."""
        return f"{self.prefix}:conv:{{{conversation_id}}}:journal"

    def web_message(self, conversation_id: str, message_id: str) -> str:
        """STRING with a TTL, owner `handoff.journal`: a message already taken.

        A customer's (by its message id), or an agent's already journaled and sent
        (`agent:<message id>:<part>`).
        """
        return f"{self.prefix}:conv:{{{conversation_id}}}:web-msg:{message_id}"

    def presence(self, username: str) -> str:
        """STRING `online` | `away`, owner `handoff.presence`; missing means offline."""
        return f"{self.prefix}:agent:{username}:presence"

    @property
    def agents_seen(self) -> str:
        """HASH username -> last time a console of theirs was connected, owner `presence`."""
        return f"{self.prefix}:agents:seen"

    @property
    def last_assigned(self) -> str:
        """HASH username -> last time they were given a conversation, owner `assignment`."""
        return f"{self.prefix}:agents:last-assigned"

    @property
    def customers_seen(self) -> str:
        """HASH conversation id -> last time the customer had the chat open, owner `bot.web`."""
        return f"{self.prefix}:customers:seen"

    def rate(self, limit: str, client: str, window_start: int) -> str:
        """STRING counter with a TTL, owner `handoff.ratelimit`: requests in one window.

        The client is a hash tag, as a conversation's keys carry its id: a client that is a
        conversation (the chat's limit) is counted in that conversation's slot, so that one
        Lua step may count it and mark the message's id (`RateLimiter.admit_once_on`).
        """
        return f"{self.prefix}:rate:{limit}:{{{client}}}:{window_start}"

    def login_failures(self, scope: str) -> str:
        """HASH count, last (TTL a day), owner `handoff.service.api.login_guard`.

        Failed sign-ins of one scope: `client:<account>:<device or address>`,
        `account:<account>`, `address:<address>`.
        """
        return f"{self.prefix}:login:failures:{scope}"

    def login_trusted(self, account: str) -> str:
        """ZSET, owner `handoff.service.api.login_guard`: clients the account signed in from.

        Members `device:<sha256 of the device cookie>` and `address:<address>`, scored with the
        time their trust ends.
        """
        return f"{self.prefix}:login:trusted:{account}"

    def order_proof_failures(self, order_number: str) -> str:
        """STRING counter with a TTL (a day), owner `actions.order_proof.RedisFailureCount`.

        Wrong e-mail addresses or postcodes given for one order, over all conversations.
        """
        return f"{self.prefix}:order-proof:failures:{order_number}"

    def rate_notice(self, limit: str, client: str) -> str:
        """STRING with a TTL, owner the channel that refused: the client was told to slow down."""
        return f"{self.prefix}:rate-notice:{limit}:{client}"

    @property
    def stats(self) -> str:
        """HASH of counters (e.g. `abandoned`), owner `handoff.service.jobs.abandonment`."""
        return f"{self.prefix}:stats"

    def ticket(self, ticket_id: str) -> str:
        """STRING (JSON of `handoff.ticket.Ticket`), owner `handoff.conversation`."""
        return f"{self.prefix}:ticket:{ticket_id}"

    def customer_tickets(self, customer_id: str) -> str:
        """LIST of ticket ids, newest first, owner `handoff.conversation`."""
        return f"{self.prefix}:customer:{customer_id}:tickets"

    def agent(self, username: str) -> str:
        """HASH, owner `handoff.accounts`: name, role, password hash."""
        return f"{self.prefix}:agent:{username}"

    def messenger_event(self, mid: str) -> str:
        """STRING with a TTL, owner `bot.messenger`: a webhook event already taken (dedupe)."""
        return f"{self.prefix}:messenger:mid:{mid}"

    def messenger_last_inbound(self, psid: str) -> str:
        """STRING (seconds), owner `bot.messenger`: when the person last wrote to the page."""
        return f"{self.prefix}:messenger:psid:{psid}:last-in"

    def profile(self, profile_id: str) -> str:
        """SET of identities (`<channel>:<conversation id>`), owner `handoff.profiles`."""
        return f"{self.prefix}:profile:{profile_id}"

    def profile_of(self, identity: str) -> str:
        """STRING profile id of an identity, owner `handoff.profiles`."""
        return f"{self.prefix}:identity:{identity}:profile"

    def link_code(self, code: str) -> str:
        """STRING (JSON) with a TTL, owner `handoff.profiles`: a code that moves a conversation."""
        return f"{self.prefix}:link-code:{code}"

    def messenger_alias(self, psid: str) -> str:
        """STRING conversation id, owner `handoff.profiles`: where a Messenger user now writes."""
        return f"{self.prefix}:messenger:psid:{psid}:conversation"

    @property
    def vip_customers(self) -> str:
        """SET of customer e-mail addresses (lower case), owner `handoff.profiles`."""
        return f"{self.prefix}:vip"

    @property
    def good_answers(self) -> str:
        """HASH pair id (`<conversation id>:<answer turn id>`) -> JSON, owner `knowledge`.

        Agent replies marked as good answers to a customer question (candidate FAQ entries).
        """
        return f"{self.prefix}:knowledge:good-answers"

    def survey(self, survey_id: str) -> str:
        """HASH, owner `handoff.survey`: one satisfaction survey and its answers."""
        return f"{self.prefix}:survey:{survey_id}"

    def surveys(self) -> str:
        """ZSET survey id -> time asked, owner `handoff.survey` (read by the dashboard)."""
        return f"{self.prefix}:surveys"

    def survey_recent(self, conversation_id: str) -> str:
        """STRING with a TTL, owner `handoff.survey`: the bot asked this conversation already.

        A customer who says goodbye twice is asked once.
        """
        return f"{self.prefix}:conv:{{{conversation_id}}}:survey-recent"

    def transcript_mails(self, conversation_id: str) -> str:
        """STRING counter with a TTL, owner `actions.transcript`: transcripts e-mailed today.

        The address is whatever the customer writes: a bounded number keeps the bot from being
        used to send mail to strangers.
        """
        return f"{self.conversation(conversation_id)}:transcript-mails"

    def survey_comment(self, conversation_id: str) -> str:
        """STRING survey id with a TTL, owner `handoff.survey`: the customer chose to add a comment.

        So their next text is that comment, not a message for the bot.
        """
        return f"{self.prefix}:conv:{{{conversation_id}}}:survey-comment"

    @property
    def metrics_conversations(self) -> str:
        """ZSET conversation-session id -> start time, owner `handoff.metrics` (dashboard)."""
        return f"{self.prefix}:metrics:conversations"

    def metrics_conversation(self, session_id: str) -> str:
        """HASH, owner `handoff.metrics`: one conversation session.

        It holds channel, started_at, handed_off, and `intent:<name>` fields for the intents the
        customer expressed.
        """
        return f"{self.prefix}:metrics:conversation:{session_id}"

    def metrics_current(self, conversation_id: str) -> str:
        """HASH session, started_at, ended_at, new_session, owner `handoff.metrics`.

        The Rasa conversation's current session (a new one starts after `ended_at` or
        `new_session`).
        """
        return f"{self.prefix}:metrics:conv:{{{conversation_id}}}:current"

    @property
    def metrics_handoffs(self) -> str:
        """ZSET ticket id -> queued_at, owner `handoff.metrics` (written by the state machine)."""
        return f"{self.prefix}:metrics:handoffs"

    def metrics_handoff(self, ticket_id: str) -> str:
        """HASH, owner `handoff.metrics`: what became of one handoff (times, outcome, reason)."""
        return f"{self.prefix}:metrics:handoff:{ticket_id}"

    def enps_scores(self, period: str) -> str:
        """HASH score ("0".."10") -> count, owner `handoff.service.insights.enps`: no names."""
        return f"{self.prefix}:enps:{period}:scores"

    def enps_asked(self, period: str) -> str:
        """SET of usernames who answered or dismissed the period's eNPS question.

        Owner `handoff.service.insights.enps` (only so they are not asked again; never joined to
        the scores).
        """
        return f"{self.prefix}:enps:{period}:asked"

    @property
    def enps_periods(self) -> str:
        """SET of periods (`YYYY-MM`) with eNPS answers, owner `handoff.service.insights.enps`."""
        return f"{self.prefix}:enps:periods"

    @property
    def agents(self) -> str:
        """SET of every agent username, owner `handoff.accounts`."""
        return f"{self.prefix}:agents"

    @property
    def queue(self) -> str:
        """ZSET conversation id -> enqueue time, owner `handoff.conversation`."""
        return f"{self.prefix}:queue"

    def agent_conversations(self, username: str) -> str:
        """SET of conversation ids assigned to an agent, owner `handoff.conversation`."""
        return f"{self.prefix}:agent:{username}:conversations"

    @property
    def recent_claims(self) -> str:
        """ZSET `<id>:<time>` -> claim time, owner `handoff.conversation`: recent claims."""
        return f"{self.prefix}:stats:claims"

    @property
    def tickets_stream(self) -> str:
        """STREAM of new tickets (field `ticket`: JSON), written by `action_handoff`."""
        return f"{self.prefix}:stream:tickets"

    @property
    def events_stream(self) -> str:
        """STREAM of every Rasa tracker event (field `event`: JSON), written by the broker."""
        return f"{self.prefix}:stream:events"

    @property
    def outbox_stream(self) -> str:
        """STREAM of agent messages to deliver (fields of `handoff.outbox.OutboxMessage`)."""
        return f"{self.prefix}:stream:outbox"

    @property
    def customer_requests_stream(self) -> str:
        """STREAM of customers' requests (`conversation_id`, `kind`), from the web channel."""
        return f"{self.prefix}:stream:customer-requests"

    @property
    def relay_stream(self) -> str:
        """STREAM of customer turns of conversations a person owns (group `consoles`).

        Fields `conversation_id`, `event` (JSON); written by the channels (`handoff.relay`).
        """
        return f"{self.prefix}:stream:relay"

    @property
    def customer_out_stream(self) -> str:
        """STREAM of socket.io messages for customers (`room`, `event`, `data` JSON).

        Written by the delivery (`handoff.relay.outbound`); every Rasa process reads all of it
        (no group) and emits to its own sockets (`bot.customer_events`). Trimmed by age.
        """
        return f"{self.prefix}:stream:customer-out"

    @property
    def tracker_pending(self) -> str:
        """ZSET conversation id -> time its segment got its first unwritten turn.

        Owner `handoff.relay.tracker`: what the tracker writer has to flush, oldest first.
        """
        return f"{self.prefix}:tracker-pending"

    @property
    def givebacks(self) -> str:
        """ZSET conversation id -> time it was given back to the bot, until Rasa resumed it.

        Owner `handoff.relay.giveback`: a give-back cut short (Rasa away) is finished from here.
        """
        return f"{self.prefix}:givebacks"

    @property
    def dead_letters(self) -> str:
        """STREAM of poison entries (`handoff.streams`); `:failures` HASH counts failures."""
        return f"{self.prefix}:stream:dead-letters"

    @property
    def push_channel(self) -> str:
        """PUB/SUB channel of frames for agents' WebSockets (JSON with an `audience`)."""
        return f"{self.prefix}:push"

    @property
    def customer_channel(self) -> str:
        """PUB/SUB channel of socket.io events for customers ({room, event, data} JSON).

        Read by every Rasa process's web channel (`bot.customer_events`), written by the
        handoff service (`handoff.push`).
        """
        return f"{self.prefix}:customer-push"

    @property
    def privacy_audit(self) -> str:
        """STREAM, owner `handoff.privacy.audit`: exports, erasures and retention passes.

        Fields `action`, `by`, `reference`, `at`, `counts` (JSON): never the customer's data or
        identifiers, so that the record of an erasure outlives what it erased.
        """
        return f"{self.prefix}:privacy:audit"

    @property
    def data_removed(self) -> str:
        """STRING counter, owner `handoff.privacy`: bumped whenever customers' data is removed.

        Caches of personal data computed from the store (the miner's results) drop what they
        computed under an older value, in every process.
        """
        return f"{self.prefix}:privacy:removed"

    @property
    def index_repair_lease(self) -> str:
        """STRING with a TTL, owner `handoff.service.jobs.index_repair`.

        The process running a pass of the indexes' repair.
        """
        return f"{self.prefix}:index-repair-lease"

    @property
    def seat_suspects(self) -> str:
        """HASH, with a TTL, owner `handoff.service.jobs.index_repair`.

        Fields `<agent>` newline `<conversation>`, values when first seen: the seats no record
        backed at the last pass of the indexes' repair.
        """
        return f"{self.prefix}:seat-suspects"

    @property
    def retention_lease(self) -> str:
        """STRING with a TTL, owner `handoff.privacy.retention`: the process running a pass."""
        return f"{self.prefix}:privacy:retention-lease"

    @property
    def session_cookie(self) -> str:
        """Cookie name; aiohttp-session stores sessions as STRING `<cookie>_<uuid>`."""
        return "hf_session"
