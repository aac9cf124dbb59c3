"""``dangjian mqtt_listen``: record attendance from the check-in devices (issue 5).

Connects to ``DANGJIAN_MQTT_URL`` (``mqtt://[user:password@]host[:port]``, or ``mqtts://`` for TLS),
subscribes to ``dangjian/checkin/+`` with QoS 1 and hands every message to
``meetings.devices.handle_message`` inside its own database transaction, closing stale database
connections between messages. A lost broker is retried with exponential backoff (1 s doubling up to
``--max-backoff``), and the subscription is renewed after every reconnect. SIGTERM and SIGINT stop it
cleanly. ``--once N`` stops after N messages and ``--timeout S`` after S seconds (tests, smoke checks).

Run one listener per deployment: it keeps a persistent MQTT session under its client id
(``--client-id``, default ``dangjian-checkin``), so a broker that keeps sessions queues the QoS 1 messages
of a listener restart. Message format: see ``dangjian/meetings/devices.py``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connections, transaction
from django.utils.translation import gettext_lazy

from dangjian.meetings.devices import handle_message

logger = logging.getLogger("dangjian.meetings.mqtt")

TOPIC = "dangjian/checkin/+"
DEFAULT_CLIENT_ID = "dangjian-checkin"


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False


def parse_mqtt_url(url: str) -> BrokerAddress:
    """``mqtt://user:pass@host:1883`` → its parts (port 1883, or 8883 for ``mqtts://``)."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
        raise ValueError(f"not an MQTT URL (mqtt://host:port): {url!r}")
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise ValueError(f"bad port in MQTT URL {url!r}") from exc
    return BrokerAddress(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


class Listener:
    """The MQTT loop. ``run()`` blocks until ``stop()``, ``once`` messages or ``timeout`` seconds.

    ``subscribed`` is set while the subscription is live (cleared on a lost connection), so a test can
    wait for it before publishing.
    """

    def __init__(
        self,
        url: str,
        *,
        topic: str = TOPIC,
        client_id: str = DEFAULT_CLIENT_ID,
        clean_session: bool = False,
        once: int | None = None,
        timeout: float | None = None,
        min_backoff: float = 1.0,
        max_backoff: float = 30.0,
        keepalive: int = 30,
        report: Any = None,
    ) -> None:
        self.address = parse_mqtt_url(url)
        self.topic = topic
        self.client_id = client_id
        self.clean_session = clean_session
        self.once = once
        self.timeout = timeout
        self.min_backoff = max(min_backoff, 0.05)
        self.max_backoff = max(max_backoff, self.min_backoff)
        self.keepalive = keepalive
        self.report = report or (lambda text: None)
        self.handled = 0
        self.connects = 0
        self.subscribed = threading.Event()
        self._stop = threading.Event()
        self._session_ok = False

    # -- control --------------------------------------------------------------------------------------

    def stop(self, *args: Any) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- callbacks (paho-mqtt 2.x, CallbackAPIVersion.VERSION2) --------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            logger.error("MQTT broker refused the connection: %s", reason_code)
            self.report(f"broker refused the connection: {reason_code}")
            client.disconnect()
            return
        self._session_ok = True
        self.connects += 1
        client.subscribe(self.topic, qos=1)
        logger.info("connected to %s:%s, subscribing to %s", self.address.host, self.address.port, self.topic)
        self.report(f"connected to {self.address.host}:{self.address.port}, subscribing to {self.topic}")

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reason_codes: Any, properties: Any) -> None:
        if reason_codes and all(not rc.is_failure for rc in reason_codes):
            self.subscribed.set()
        else:
            logger.error("MQTT broker refused the subscription to %s: %s", self.topic, reason_codes)

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        self.subscribed.clear()
        self._session_ok = False

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        # Exceptions must not leave a callback: paho would raise them out of the network loop.
        try:
            self._handle(msg.topic, msg.payload)
        except Exception:
            logger.exception("device message on %s was not handled", getattr(msg, "topic", "?"))
        self.handled += 1
        if self.once and self.handled >= self.once:
            self.stop()

    def _handle(self, topic: str, payload: bytes) -> None:
        for attempt in (1, 2):
            close_old_connections()
            try:
                with transaction.atomic():
                    message = handle_message(topic, payload)
            except Exception:
                # The database went away (restart, failover): drop the connection, retry once on a new one.
                logger.exception("database error on a device message (attempt %s)", attempt)
                connections.close_all()
                continue
            finally:
                close_old_connections()
            self.report(f"{message.device_code}: {message.outcome} {message.detail}".rstrip())
            return

    # -- the loop ------------------------------------------------------------------------------------

    def _client(self) -> Any:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=self.clean_session,
            protocol=mqtt.MQTTv311,
        )
        if self.address.username:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _wait(self, delay: float, deadline: float | None) -> None:
        if deadline is not None:
            delay = min(delay, max(deadline - time.monotonic(), 0))
        self._stop.wait(delay)

    def run(self) -> int:
        """Listen until stopped; returns the number of messages handled."""
        from paho.mqtt.client import MQTT_ERR_SUCCESS

        client = self._client()
        deadline = time.monotonic() + self.timeout if self.timeout else None
        delay = self.min_backoff
        socket_open = False
        try:
            while not self._stop.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if not socket_open:
                    try:
                        client.connect(self.address.host, self.address.port, keepalive=self.keepalive)
                        socket_open = True
                    except OSError as exc:
                        logger.warning(
                            "cannot reach the MQTT broker %s:%s (%s); retrying in %.1f s",
                            self.address.host,
                            self.address.port,
                            exc,
                            delay,
                        )
                        self.report(f"cannot reach the broker ({exc}); retrying in {delay:.1f} s")
                        self._wait(delay, deadline)
                        delay = min(delay * 2, self.max_backoff)
                        continue
                rc = client.loop(timeout=0.2)
                if rc != MQTT_ERR_SUCCESS:
                    socket_open = False
                    self.subscribed.clear()
                    if self._stop.is_set():
                        break
                    logger.warning("lost the MQTT broker (%s); reconnecting in %.1f s", rc, delay)
                    self.report(f"lost the broker ({rc}); reconnecting in {delay:.1f} s")
                    self._wait(delay, deadline)
                    delay = min(delay * 2, self.max_backoff)
                elif self._session_ok:
                    delay = self.min_backoff
        finally:
            self.subscribed.clear()
            try:
                if socket_open:
                    client.disconnect()
                    client.loop(timeout=0.1)
            except Exception:  # closing a dead socket
                logger.debug("disconnect failed", exc_info=True)
            connections.close_all()
        return self.handled


class Command(BaseCommand):
    help = gettext_lazy("Record attendance from check-in devices: listen to MQTT dangjian/checkin/+.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--url", default="", help=gettext_lazy("broker URL (default DANGJIAN_MQTT_URL)"))
        parser.add_argument(
            "--once", type=int, default=None, metavar="N", help=gettext_lazy("stop after N messages")
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=None,
            metavar="SECONDS",
            help=gettext_lazy("stop after this many seconds"),
        )
        parser.add_argument(
            "--client-id",
            default=DEFAULT_CLIENT_ID,
            help=gettext_lazy("MQTT client id (one listener per id)"),
        )
        parser.add_argument(
            "--clean-session",
            action="store_true",
            help=gettext_lazy("do not keep an MQTT session on the broker"),
        )
        parser.add_argument(
            "--max-backoff",
            type=float,
            default=30.0,
            help=gettext_lazy("longest wait between reconnects, seconds"),
        )
        parser.add_argument("--topic", default=TOPIC, help="MQTT topic filter")

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["url"] or getattr(settings, "MQTT_URL", "")
        if not url:
            raise CommandError("DANGJIAN_MQTT_URL is not set (mqtt://host:1883); check-in devices are off.")
        verbosity = int(options.get("verbosity", 1))

        def report(text: str) -> None:
            if verbosity >= 1:
                self.stdout.write(text)

        try:
            listener = Listener(
                url,
                topic=options["topic"],
                client_id=options["client_id"],
                clean_session=options["clean_session"],
                once=options["once"],
                timeout=options["timeout"],
                max_backoff=options["max_backoff"],
                report=report,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, listener.stop)
        try:
            handled = listener.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        report(f"stopped after {handled} message(s)")
