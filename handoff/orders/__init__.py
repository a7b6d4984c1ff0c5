"""The shop's orders, shared by the action server and the handoff service (no Rasa here).

`store.py`: the system of record (SQLite); `desk.py`: the business actions (cancel, change the
delivery address, refund, voucher), one implementation for the bot and for agents;
`proof.py`: the second fact that proves an order is the customer's; `approvals.py`: actions
beyond a team's limit, waiting for a supervisor.
"""
