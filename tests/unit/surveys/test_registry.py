"""Confluent frames decoded through a schema registry served over real HTTP."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from solas.ingest import decode_batch
from solas.replay import messages_from_paths
from solas.surveys import DecodeError, decode_packet, lsst_schema
from solas.surveys.registry import RegistryUnavailable, confluent_registry


class Registry(BaseHTTPRequestHandler):
    """Knows schema id 1000 (lsst.v10_0) only."""

    def do_GET(self):
        if self.path == "/schemas/ids/1000":
            body = json.dumps({"schema": json.dumps(lsst_schema(1000))}).encode()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture()
def registry_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def frames(alerts_dir):
    return [m.value for m in messages_from_paths([alerts_dir / "lsst" / "real-v10"], "lsst")]


def test_frames_decode_with_the_registry_schema(registry_url, frames):
    assert frames[0][0] == 0 and int.from_bytes(frames[0][1:5], "big") == 1000
    raw = decode_packet(frames[0], "lsst", registry=confluent_registry(registry_url))
    assert raw.framing == "confluent" and raw.schema_id == 1000


def test_an_unknown_id_is_a_decode_error(registry_url, frames):
    frame = frames[0][:1] + (999).to_bytes(4, "big") + frames[0][5:]
    with pytest.raises(DecodeError, match="unknown schema id 999"):
        decode_packet(frame, "lsst", registry=confluent_registry(registry_url))


def test_a_registry_that_is_down_fails_the_batch_instead_of_dead_lettering(frames):
    down = confluent_registry("http://127.0.0.1:9", timeout_s=1)
    with pytest.raises(RegistryUnavailable):
        decode_batch(frames[:1], "lsst", down)
