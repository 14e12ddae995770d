"""Infrastructure shared by every layer: settings, database, Temporal client, security, logging.

Imports none of houtai's other packages.
"""
