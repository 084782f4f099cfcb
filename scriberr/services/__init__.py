"""Services: the use cases behind the API (files, transcriptions, profiles, settings, auth).

They validate, authorise by owner, call repositories and the worker service, and raise the domain
errors of `services.errors`; they never import the web framework.
"""
