"""Rulesets as data: the rule language, loading, parameters, the working-day calendar, validation, the catalogue and rule tests."""
