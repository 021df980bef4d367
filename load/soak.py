"""Soak profile (LOAD-03): browse plus webhooks, long; nightly at full length.

The share of webhook senders among the users comes from the plan; the gate
samples memory while it runs and judges the slopes afterwards.
"""

from __future__ import annotations

from locust import task

from load.common import PLAN, BrowseUser, WebhookUser

_SHARE = round(PLAN.webhook_share * 100)


class SoakBrowser(BrowseUser):
    weight = max(1, 100 - _SHARE)
    abstract = _SHARE >= 100

    @task
    def page(self) -> None:
        self.browse()


class SoakWebhooks(WebhookUser):
    weight = max(1, _SHARE)
    abstract = _SHARE <= 0

    @task
    def event(self) -> None:
        self.send_event()
