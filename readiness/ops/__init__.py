"""Operations readiness read from documents: owners, risks, alert policies,
runbooks, launch scope and drill records (the OPS criteria).

Each module has one job: ``models`` are the documents' shapes, ``docs`` loads
a docs tree, ``markdown`` reads runbook structure, ``commands`` decides whether
a command a runbook names can run here, ``alerts`` validates alert policies
with Cloud Monitoring's own types.
"""
