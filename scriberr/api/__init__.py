"""HTTP API (FastAPI): parse, validate, authorise, call a service, format. The only package that
imports the web framework."""
