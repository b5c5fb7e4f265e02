"""Prometheus (Debian's ``prometheus``) scraping itself, the Solas workers and the portal."""
from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from solas.stack.base import Service
from solas.stack.process import find_tool
from solas.stack.render import render_yaml, write_if_changed

PACKAGES = "prometheus"
#: Worker processes scraped: metrics_port .. metrics_port + WORKER_SLOTS - 1.
WORKER_SLOTS = 4
#: Scrape and rule-evaluation interval.
SCRAPE_INTERVAL = "5s"
#: Seconds allowed to the readiness request.
PROBE_TIMEOUT_S = 3.0


def _job(name: str, ports: list[int]) -> dict[str, object]:
    return {"job_name": name,
            "static_configs": [{"targets": [f"127.0.0.1:{port}" for port in ports]}]}


class PrometheusService(Service):
    """Prometheus server on 127.0.0.1 (TSDB in ``data/prometheus``)."""

    name = "prometheus"

    @property
    def ports(self) -> dict[str, int]:
        """The web/API port."""
        return {"web": self.settings.prometheus_port}

    @property
    def config_file(self) -> Path:
        """Generated ``prometheus.yml``."""
        return self.conf_dir / "prometheus.yml"

    def prometheus_config(self) -> dict[str, object]:
        """Scrape configuration derived from the settings."""
        first = self.settings.metrics_port
        return {
            "global": {"scrape_interval": SCRAPE_INTERVAL,
                       "evaluation_interval": SCRAPE_INTERVAL},
            "scrape_configs": [
                _job("prometheus", [self.ports["web"]]),
                _job("solas-worker", list(range(first, first + WORKER_SLOTS))),
                _job("solas-web", [self.settings.web_metrics_port]),
            ],
        }

    def install(self) -> None:
        """Check that the Prometheus binary is installed."""
        find_tool("prometheus", PACKAGES, self.path)

    def prepare(self) -> None:
        """Write ``prometheus.yml``."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        write_if_changed(self.config_file, render_yaml(self.prometheus_config()))

    def command(self) -> list[str]:
        """``prometheus --config.file=... --storage.tsdb.path=...`` on 127.0.0.1."""
        return [find_tool("prometheus", PACKAGES, self.path),
                f"--config.file={self.config_file}",
                f"--storage.tsdb.path={self.data_dir}",
                f"--web.listen-address=127.0.0.1:{self.ports['web']}"]

    def ready(self) -> bool:
        """True if ``GET /-/ready`` answers 200."""
        url = f"http://127.0.0.1:{self.ports['web']}/-/ready"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy
        try:
            with opener.open(url, timeout=PROBE_TIMEOUT_S) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False
