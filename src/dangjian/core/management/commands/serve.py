"""``dangjian serve``: the web site under gunicorn, with an embedded job consumer.

By default the job queue (huey) is consumed by threads of the gunicorn master process, so background
jobs (imports, reports) run out of the box with the embedded SQLite queue. With Redis
(``DANGJIAN_REDIS_URL``) and several machines, start the web processes with ``--no-worker`` and run
``dangjian worker`` separately, as many as needed.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils.translation import gettext as _
from huey.consumer import Consumer


class EmbeddedConsumer(Consumer):
    """A huey consumer running as threads of the current process.

    It installs no signal handlers of its own (the web server owns them) and is stopped by ``stop()``.
    """

    def _set_signal_handlers(self) -> None:
        return None


def start_embedded_worker(workers: int = 2) -> EmbeddedConsumer | None:
    """Start consuming the job queue in background threads; None when jobs run immediately (tests)."""
    from django.utils.module_loading import autodiscover_modules
    from huey.contrib.djhuey import HUEY

    if HUEY.immediate:
        return None
    autodiscover_modules("tasks")
    consumer = EmbeddedConsumer(
        HUEY,
        workers=workers,
        worker_type="thread",
        periodic=True,
        check_worker_health=True,
        shutdown_timeout=10,
    )
    consumer.start()

    def supervise() -> None:  # what Consumer.run() does in a dedicated process: restart dead workers
        while not consumer.stop_flag.wait(timeout=10):
            consumer.check_worker_health()

    threading.Thread(target=supervise, name="huey-supervisor", daemon=True).start()
    return consumer


def stop_embedded_worker(consumer: EmbeddedConsumer | None) -> None:
    if consumer is not None:
        consumer.stop(graceful=True)


def _split_bind(bind: str) -> tuple[str, int]:
    host, _sep, port = bind.rpartition(":")
    if not port.isdigit():
        raise CommandError(_("--bind must look like 127.0.0.1:8000"))
    return host.strip("[]") or "127.0.0.1", int(port)


def run_web(
    *,
    bind: str,
    workers: int = 2,
    threads: int = 4,
    embedded_worker: bool = True,
    access_log: bool = False,
) -> None:
    """Serve dangjian.wsgi with gunicorn (or Django's threaded WSGI server where gunicorn cannot run)."""
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:  # gunicorn does not run on Windows
        BaseApplication = None  # noqa: N806

    state: dict[str, Any] = {"consumer": None}

    def start_jobs() -> None:
        if embedded_worker:
            state["consumer"] = start_embedded_worker()

    if BaseApplication is None:
        from django.core.servers.basehttp import get_internal_wsgi_application, run

        host, port = _split_bind(bind)
        start_jobs()
        try:
            run(host, port, get_internal_wsgi_application(), threading=True)
        except KeyboardInterrupt:
            pass
        finally:
            stop_embedded_worker(state["consumer"])
        return

    class WebServer(BaseApplication):  # type: ignore[misc, valid-type]
        def load_config(self) -> None:
            options = {
                "bind": bind,
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread" if threads > 1 else "sync",
                "timeout": 60,
                "graceful_timeout": 15,
                "accesslog": "-" if access_log else None,
                "errorlog": "-",
                "proc_name": "dangjian",
                "when_ready": when_ready,
                "pre_fork": pre_fork,
                "on_exit": on_exit,
                # gunicorn >= 25 opens a control socket in $HOME by default; two sites would collide.
                "control_socket_disable": True,
            }
            for key, value in options.items():
                if key in self.cfg.settings:  # settings differ between gunicorn versions
                    self.cfg.set(key, value)

        def load(self) -> Any:
            from dangjian.wsgi import application

            return application

    def when_ready(server: Any) -> None:
        # The master process consumes jobs in threads: workers are forked from it, never the reverse.
        start_jobs()

    def pre_fork(server: Any, worker: Any) -> None:
        connections.close_all()  # a database connection must not be shared with a forked worker

    def on_exit(server: Any) -> None:
        stop_embedded_worker(state["consumer"])

    connections.close_all()
    WebServer().run()


class Command(BaseCommand):
    help = (
        "Serve the site with gunicorn. Background jobs run in the same process unless --no-worker is given "
        "(then run `dangjian worker` separately, e.g. with Redis on other machines)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8000", help=_("address:port to listen on"))
        parser.add_argument("--workers", type=int, default=2, help=_("web worker processes"))
        parser.add_argument("--threads", type=int, default=4, help=_("threads per web worker"))
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help=_("do not consume background jobs here (run `dangjian worker` separately)"),
        )
        parser.add_argument("--no-access-log", action="store_true", help=_("do not log each request"))

    def handle(self, *args: Any, **options: Any) -> None:
        if options["workers"] < 1 or options["threads"] < 1:
            raise CommandError(_("--workers and --threads must be at least 1."))
        if settings.PRODUCTION:
            # The manifest storage needs collected static files; collecting is quick and idempotent.
            call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write(
            _("Serving on http://%(bind)s/ (%(workers)d workers; background jobs: %(jobs)s)")
            % {
                "bind": options["bind"],
                "workers": options["workers"],
                "jobs": _("separate worker") if options["no_worker"] else _("in this process"),
            }
        )
        run_web(
            bind=options["bind"],
            workers=options["workers"],
            threads=options["threads"],
            embedded_worker=not options["no_worker"],
            access_log=not options["no_access_log"],
        )
