"""Golden paths and provisioning runs: from a template and a filled form to a registered repository.

templates.py (the registry over scaffolds/, input validation, sandboxed rendering: the one
cookiecutter seam), switches.py (admins turn templates off and on), runs.py (accept, retry, cancel;
persist before queueing), runner.py (advance a run step by step under a lease), actions.py (the
idempotent steps). Writes repositories through hosts/ and registers services through catalog/.
"""
