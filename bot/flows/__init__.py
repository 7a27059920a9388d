"""The shop conversation, one module per flow; ``bot.brain`` routes each message to one of them.

Every flow is an ``async`` function of the pipeline ``Context``: it reads ``ctx.session`` (state,
cart, context), appends replies with ``ctx.reply`` and leaves the state it waits in. Nothing is
sent from here: the worker stores ``ctx.outbox`` and the session in one transaction.

States (``Session.state``) and what the next text message means in each: see ``states``.
Reply ids of our buttons and list rows, and how they parse: see ``ids``.
"""
