"""The REST API at /api/v1/ (Django REST framework), thin: parse, call the service layer, format.
urls.py routes; one module of views per area; serializers.py the shapes; filters.py, pagination.py,
errors.py (every error as JSON naming its field), authentication.py (hashed API tokens).
"""
