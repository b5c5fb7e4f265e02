"""JVM services assembled from Maven Central jars (Kafka, Cassandra).

Each service ships a pom (``<name>-pom.xml`` in this package); ``install`` copies its
runtime classpath into ``$SOLAS_HOME/jars/<name>/`` with Maven, once: a ``.complete``
stamp holding the pom's hash lets later calls skip Maven (``~/.m2`` caches downloads).
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from importlib.resources import files
from pathlib import Path
from typing import ClassVar

from solas.stack.base import Service, say
from solas.stack.process import StackError, find_tool

JAVA_PACKAGES = "openjdk-17-jre-headless"
MAVEN_PACKAGES = "maven"
STAMP = ".complete"
#: Longest Maven run fetching one service's jars, seconds.
MAVEN_TIMEOUT_S = 900


def find_java(path: str | None = None) -> str:
    """The ``java`` executable (a StackError names the Debian package if missing)."""
    return find_tool("java", JAVA_PACKAGES, path)


def find_maven(path: str | None = None) -> str:
    """The ``mvn`` executable (a StackError names the Debian package if missing)."""
    return find_tool("mvn", MAVEN_PACKAGES, path)


def _digest(pom_text: str) -> str:
    return hashlib.sha256(pom_text.encode()).hexdigest()


def jars_complete(pom_text: str, dest: Path) -> bool:
    """True if *dest* holds the complete classpath of *pom_text* (its stamp matches)."""
    stamp = dest / STAMP
    return stamp.is_file() and stamp.read_text() == _digest(pom_text)


def fetch_jars(pom_text: str, dest: Path, mvn: str) -> int:
    """Copy the runtime dependencies of *pom_text* into *dest* with Maven; jar count.

    Built in a sibling folder and renamed, so an interrupted run never leaves a folder
    that looks complete; the stamp written last marks it complete.
    """
    build = dest.with_name(dest.name + ".build")
    shutil.rmtree(build, ignore_errors=True)
    (build / "jars").mkdir(parents=True)
    (build / "pom.xml").write_text(pom_text)
    cmd = [mvn, "-q", "-B", "-f", str(build / "pom.xml"), "dependency:copy-dependencies",
           "-DincludeScope=runtime", f"-DoutputDirectory={build / 'jars'}"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=MAVEN_TIMEOUT_S)
    if result.returncode != 0:
        output = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise StackError(f"Maven could not fetch the jars for {dest.name} "
                         f"(exit {result.returncode}): {' '.join(cmd)}\n{output}")
    (build / "jars" / STAMP).write_text(_digest(pom_text))
    shutil.rmtree(dest, ignore_errors=True)
    (build / "jars").rename(dest)
    shutil.rmtree(build)
    return len(list(dest.glob("*.jar")))


class JvmService(Service):
    """A service run as ``java -cp 'jars/<name>/*' <main class>``."""

    #: Initial and largest heap of the JVM (-Xms and -Xmx values).
    heap_min: ClassVar[str] = "1g"
    heap: ClassVar[str] = "1g"

    @property
    def jars_dir(self) -> Path:
        """Folder of the service's runtime classpath."""
        return self.home / "jars" / self.name

    @property
    def pom_text(self) -> str:
        """The service's pom.xml shipped with this package."""
        return files("solas.stack").joinpath(f"{self.name}-pom.xml").read_text()

    def install(self) -> None:
        """Check Java, and fetch the jars with Maven unless already complete."""
        find_java(self.path)
        if jars_complete(self.pom_text, self.jars_dir):
            return
        say(f"{self.name}: fetching jars with Maven into {self.jars_dir} ...")
        count = fetch_jars(self.pom_text, self.jars_dir, find_maven(self.path))
        say(f"{self.name}: {count} jars in {self.jars_dir}")

    def java_command(self, main: str, *args: str, jvm_options: tuple[str, ...] = ()) -> list[str]:
        """``java`` command line running *main* on the jar folder's classpath."""
        return [find_java(self.path), f"-Xms{self.heap_min}", f"-Xmx{self.heap}",
                "-Djava.awt.headless=true", *jvm_options,
                "-cp", str(self.jars_dir / "*"), main, *args]
