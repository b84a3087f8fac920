"""Data subject requests (GDPR Art. 15-21, CCPA): one home for the workflow.

``models`` (tables), ``errors``, ``deadlines`` (pure), ``lifecycle`` (the state machine,
transitions, listing), ``opening`` (opening a request, verifying identity), and one module
per request type: ``access``, ``erasure``, ``rectification``, ``restriction``,
``objection``. See docs/requests.md.
"""
