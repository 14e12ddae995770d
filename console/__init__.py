"""The staff console (DESIGN §3a): server-rendered pages that are clients of /v1.

`create_console(api)` builds the ASGI app mounted under /console; every page calls the API in
process with the signed-in person's own token, so permissions, validation and audit stay the
API's. Nothing here reads the database or talks to Temporal.
"""
