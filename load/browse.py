"""Browse profile (LOAD-01): health and board pages of the served packs.

A weighted mix of pages with variable filter query strings and think time;
the plan (pages, weights, think time, cap) comes from the gate.
"""

from __future__ import annotations

from locust import task

from load.common import BrowseUser


class Browser(BrowseUser):
    @task
    def page(self) -> None:
        self.browse()
