"""``dangjian worker``: consume the background job queue (huey) in a process of its own.

``dangjian serve`` and ``dangjian demo`` already consume jobs in the web process. Run this when the web
processes are started with ``--no-worker``, typically with Redis (``DANGJIAN_REDIS_URL``), on as many
machines as the load needs. The options are huey's (``--workers``, ``--worker-type``, ...).
"""

from __future__ import annotations

from huey.contrib.djhuey.management.commands.run_huey import Command as RunHueyCommand


class Command(RunHueyCommand):
    help = "Consume background jobs (imports, reports, periodic tasks): huey's run_huey."
