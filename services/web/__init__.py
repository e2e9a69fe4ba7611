"""The server-rendered pages, one module per area, thin: parse the request, call the service layer,
render a template from templates/<area>/. urls.py holds every page route; forms/ the forms;
templatetags/ the `slipway` tag library; context_processors.py what every page gets.
"""
