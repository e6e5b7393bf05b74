"""The engine's rooms, in the order data flows through them:

facts (the event vocabulary) -> rules (rulesets as data) -> core (matching, lifecycle,
escalation, the findings document) -> batch / store (larger than memory, durable) ->
render, audit, http (what people and services read). The embedding API is `oblige` itself.
"""
