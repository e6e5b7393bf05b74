"""Evaluation: compiling rules onto durable_rules, matching, the event-time lifecycle, calendar duties, the escalation ladder,
findings and the document."""
