"""{{ cookiecutter.service_name }}: a tiny app."""

DESCRIPTION = {{ cookiecutter.description | tojson }}
PORT = {{ cookiecutter.port }}
MODULE = "{{ cookiecutter.module_name }}"
