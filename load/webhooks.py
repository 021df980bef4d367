"""Webhook burst profile (LOAD-02): signed Stripe and Fivetran events, unique ids.

The gate reconciles what was acked against the ledger and the connector
state afterwards: 0 lost, 0 duplicated.
"""

from __future__ import annotations

from locust import task

from load.common import WebhookUser


class WebhookSender(WebhookUser):
    @task
    def event(self) -> None:
        self.send_event()
