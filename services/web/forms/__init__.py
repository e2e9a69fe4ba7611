"""Web forms: they parse and validate what a person typed; rules and writes stay in the service layer.
catalog.py (services, teams, members, runbooks, the who-owns box), wizard.py (the new-service form,
generated from a golden path's input schema)."""
