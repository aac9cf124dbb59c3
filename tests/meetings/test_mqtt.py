"""``dangjian mqtt_listen`` against a real Mosquitto broker (issue 5, "How it is checked"): signed
messages record attendance; forged, unknown and malformed ones are dropped and logged; the listener
survives a broker restart. Every wait is bounded; the tests skip, saying why, without a broker.

The listener runs in a thread of the test process (so it sees the test database); the database is
used with real transactions (``django_db(transaction=True)``). While the listener works, the test waits
on the listener's own counters rather than reading the database (SQLite's shared in-memory test
database does not like a reader and a writer in two threads at once).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from dangjian.meetings import devices
from dangjian.meetings.management.commands import mqtt_listen
from dangjian.meetings.management.commands.mqtt_listen import Listener, parse_mqtt_url
from dangjian.meetings.models import Attendee, DeviceMessage
from tests.meetings.test_checkin import make_meeting

LOCAL = ("127.0.0.1", 1883)
OUT = DeviceMessage.Outcome
WAIT = 15.0  # the longest any single wait may take


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _mosquitto() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


def _until(predicate, timeout: float = WAIT, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


needs_local_broker = pytest.mark.skipif(
    not _reachable(*LOCAL), reason="no MQTT broker on 127.0.0.1:1883 (start mosquitto to run this test)"
)
needs_mosquitto = pytest.mark.skipif(
    _mosquitto() is None,
    reason="mosquitto is not installed (apt install mosquitto) — broker-restart test skipped",
)


def publish(port: int, topic: str, payload: bytes) -> None:
    """Publish one QoS 1 message and wait (bounded) until the broker has it."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:8]}")
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    try:
        info = client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=5)
        assert info.is_published(), f"the broker did not take the message on {topic}"
    finally:
        client.disconnect()
        client.loop_stop()


class Running:
    """A listener in a thread, stopped and joined (bounded) at the end."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.result: list[int] = []
        self.thread = threading.Thread(target=lambda: self.result.append(listener.run()), daemon=True)

    def __enter__(self) -> Listener:
        self.thread.start()
        return self.listener

    def __exit__(self, *exc) -> None:
        self.listener.stop()
        self.thread.join(timeout=WAIT)
        assert not self.thread.is_alive(), "the listener did not stop"


@pytest.fixture
def site(tree, admin_user, member_factory):
    """A reader with a unique id at a place of branch_a, a meeting in progress there, two members with
    cards."""
    place = devices.place_create(actor=admin_user, org=tree.branch_a, name=f"活动室{uuid.uuid4().hex[:4]}")
    device_id = f"test-{uuid.uuid4().hex[:10]}"
    device, secret = devices.device_register(
        actor=admin_user, org=tree.branch_a, place=place, device_id=device_id, name="刷卡机"
    )
    a, b = member_factory(tree.branch_a), member_factory(tree.branch_a)
    devices.card_register(actor=admin_user, member=a, card_number="11112222")
    devices.card_register(actor=admin_user, member=b, card_number="33334444")
    now = timezone.now()
    meeting = make_meeting(
        tree.branch_a, starts_at=now - dt.timedelta(minutes=5), members=[a, b], venue=place
    )
    return {"device_id": device_id, "secret": secret, "meeting": meeting, "a": a, "b": b}


def signed(secret: str, card: str, nonce: str | None = None) -> bytes:
    fields = {"card": card, "ts": int(time.time()), "nonce": nonce or uuid.uuid4().hex[:12]}
    return json.dumps({**fields, "sig": devices.sign(fields, secret)}).encode()


# --- parsing the broker URL ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "port", "user", "password", "tls"),
    [
        ("mqtt://127.0.0.1", "127.0.0.1", 1883, None, None, False),
        ("mqtt://broker.local:11883", "broker.local", 11883, None, None, False),
        ("mqtt://dj:p%40ss@broker:1884", "broker", 1884, "dj", "p@ss", False),
        ("mqtts://broker", "broker", 8883, None, None, True),
    ],
)
def test_parse_mqtt_url(url, host, port, user, password, tls):
    assert parse_mqtt_url(url) == mqtt_listen.BrokerAddress(host, port, user, password, tls)


@pytest.mark.parametrize("url", ["", "http://x", "mqtt://", "broker:1883", "mqtt://h:notaport"])
def test_bad_mqtt_urls_are_refused(url):
    with pytest.raises(ValueError):
        parse_mqtt_url(url)


def test_command_without_a_broker_url_says_so(settings):
    settings.MQTT_URL = ""
    with pytest.raises(CommandError, match="DANGJIAN_MQTT_URL"):
        call_command("mqtt_listen")


def test_timeout_stops_a_listener_that_cannot_reach_its_broker():
    """Nothing listens on the port: the listener retries with backoff and stops at --timeout."""
    port = _free_port()
    listener = Listener(f"mqtt://127.0.0.1:{port}", timeout=1.5, min_backoff=0.2, max_backoff=0.4)
    started = time.monotonic()
    assert listener.run() == 0
    assert time.monotonic() - started < 6
    assert listener.connects == 0


# --- against the local broker ---------------------------------------------------------------------


@needs_local_broker
@pytest.mark.django_db(transaction=True)
def test_listener_records_signed_and_drops_forged_unknown_and_malformed(site):
    topic = f"dangjian/checkin/{site['device_id']}"
    ghost = f"dangjian/checkin/ghost-{uuid.uuid4().hex[:8]}"
    listener = Listener(
        f"mqtt://{LOCAL[0]}:{LOCAL[1]}",
        client_id=f"test-{uuid.uuid4().hex[:8]}",
        clean_session=True,
        timeout=60,
    )
    with Running(listener):
        assert listener.subscribed.wait(WAIT), "the listener did not subscribe"
        before = listener.handled
        publish(LOCAL[1], topic, signed(site["secret"], "11112222"))  # good
        publish(LOCAL[1], topic, signed("f" * 64, "33334444"))  # forged: another secret
        publish(LOCAL[1], ghost, signed(site["secret"], "33334444"))  # unknown device
        publish(LOCAL[1], topic, b"{not json")  # malformed
        publish(LOCAL[1], topic, signed(site["secret"], "99990000"))  # unknown card
        assert _until(lambda: listener.handled >= before + 5), f"handled {listener.handled - before} of 5"
    ours = DeviceMessage.objects.filter(device_code__in=[site["device_id"], ghost.rsplit("/", 1)[1]])
    outcomes = sorted(ours.values_list("outcome", flat=True))
    assert outcomes == sorted(
        [OUT.RECORDED, OUT.BAD_SIGNATURE, OUT.UNKNOWN_DEVICE, OUT.MALFORMED, OUT.UNKNOWN_PERSON]
    )
    a = Attendee.objects.get(meeting=site["meeting"], member=site["a"])
    b = Attendee.objects.get(meeting=site["meeting"], member=site["b"])
    assert (a.status, a.channel) == ("present", "device")
    assert b.status == "pending"  # the forged message named b's card
    assert all("11112222" not in m.payload and "33334444" not in m.payload for m in ours)


@needs_local_broker
@pytest.mark.django_db(transaction=True)
def test_command_stops_after_once_messages(site, monkeypatch):
    started: list[Listener] = []

    class Recorded(Listener):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(mqtt_listen, "Listener", Recorded)
    out: list[str] = []

    def run():
        import io

        buf = io.StringIO()
        call_command(
            "mqtt_listen",
            url=f"mqtt://{LOCAL[0]}:{LOCAL[1]}",
            once=2,
            timeout=30,
            client_id=f"test-{uuid.uuid4().hex[:8]}",
            clean_session=True,
            stdout=buf,
        )
        out.append(buf.getvalue())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert _until(lambda: started and started[0].subscribed.is_set()), "the command did not subscribe"
    topic = f"dangjian/checkin/{site['device_id']}"
    publish(LOCAL[1], topic, signed(site["secret"], "11112222"))
    publish(LOCAL[1], topic, signed(site["secret"], "33334444"))
    thread.join(timeout=WAIT)
    assert not thread.is_alive(), "--once 2 did not stop the command"
    assert "stopped after 2 message(s)" in out[0]
    assert Attendee.objects.filter(meeting=site["meeting"], status="present").count() == 2


# --- a broker of our own, restarted ----------------------------------------------------------------


class Broker:
    """A mosquitto on a free local port, started and stopped by this test (by its own process id)."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = _free_port()
        self.conf = tmp_path / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603
            [_mosquitto(), "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        assert _until(lambda: _reachable("127.0.0.1", self.port), timeout=10), "mosquitto did not start"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    yield b
    b.stop()


@needs_mosquitto
@pytest.mark.django_db(transaction=True)
def test_listener_survives_a_broker_restart(site, broker):
    """The broker is down when the listener starts, comes up, goes down, comes back: the listener keeps
    retrying, resubscribes each time, and a message after the restart is recorded."""
    listener = Listener(
        f"mqtt://127.0.0.1:{broker.port}",
        client_id="test-restart",
        clean_session=True,
        min_backoff=0.2,
        max_backoff=1.0,
    )
    topic = f"dangjian/checkin/{site['device_id']}"
    with Running(listener):
        time.sleep(0.5)  # a few refused connections first
        assert not listener.subscribed.is_set()
        broker.start()
        assert listener.subscribed.wait(WAIT), "no subscription once the broker came up"
        publish(broker.port, topic, signed(site["secret"], "11112222"))
        assert _until(lambda: listener.handled >= 1)

        broker.stop()
        assert _until(lambda: not listener.subscribed.is_set()), "the listener did not notice the broker left"
        broker.start()
        assert listener.subscribed.wait(WAIT), "no subscription after the broker restarted"
        assert listener.connects >= 2
        publish(broker.port, topic, signed(site["secret"], "33334444"))
        assert _until(lambda: listener.handled >= 2), "the message after the restart was not handled"
    recorded = DeviceMessage.objects.filter(device_code=site["device_id"], outcome=OUT.RECORDED)
    assert sorted(recorded.values_list("member_id", flat=True)) == sorted([site["a"].pk, site["b"].pk])
    assert Attendee.objects.filter(meeting=site["meeting"], status="present", channel="device").count() == 2


@needs_mosquitto
def test_sigterm_stops_the_command_cleanly(broker, tmp_path):
    """``dangjian mqtt_listen`` in its own process: connected, then SIGTERM → exit 0, a clean message."""
    broker.start()
    env = {**os.environ, "DANGJIAN_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
    env.pop("DANGJIAN_DATABASE_URL", None)  # no database is touched without messages
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", "from dangjian.cli import main; main()", "mqtt_listen",
         "--url", f"mqtt://127.0.0.1:{broker.port}", "--clean-session", "--client-id", "test-sigterm",
         "--timeout", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
    )  # fmt: skip
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()
        assert _until(lambda: any("connected to" in line for line in lines), timeout=30), "".join(lines)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=WAIT) == 0
        reader.join(timeout=5)
        assert any("stopped after 0 message(s)" in line for line in lines), "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
