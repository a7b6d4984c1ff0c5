"""The live conversation between a customer and a person: it never waits for Rasa.

While a person owns a conversation (queued, assigned, transferred, or being given back to the
bot), its messages take this path, with no NLU, policy, lock or tracker on the way:

- inbound (`inbound`): a customer's message, taken by the channel (web chat, Messenger) inside
  the Rasa process, goes in one Redis step into the conversation's segment and the `relay`
  stream, from which the handoff service pushes it to the consoles (`consoles`);
- outbound (`outbound`): an agent's message (or a notice) goes from the agent API into the
  outbox; the delivery journals it and hands it to the customer's channel (socket.io through
  the `customer-out` stream that every Rasa process reads, or Messenger's Send API), and
  appends it to the segment;
- write-behind (`tracker`): the segment's turns are appended to the Rasa tracker, the one
  record, in order and once each (by message id), in batches, off the latency path;
- give-back (`giveback`): hand-back, close, a customer who stops waiting and abandonment all
  give the conversation back to the bot the same way: every turn is in the tracker before the
  bot resumes, and the customer's last unanswered message is answered.

The channel decides "in human hands" from the conversation's state in Redis, in the same step
that appends the message (`inbound.take`): a message goes one way, never both, never neither.
"""
