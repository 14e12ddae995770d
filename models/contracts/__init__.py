"""Pydantic payloads of workflows, activities, updates, signals and queries. Pure."""
