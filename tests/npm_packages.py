"""Packages the tests load from the npm registry, pinned and checked.

`rasa-webchat` is the public web client of Rasa's socket.io protocol (a third-party site's
widget, tried against our channel); `axe-core` is injected into our pages to check their
accessibility; `generator-botbuilder-assistant` carries Microsoft's English and French
utterance files, read by the independent NLU evaluation. Each is fetched once with npm's own
client (`npm pack`, through npm's cache), checked against the sha512 pinned here, and unpacked
into `tests/npm/` (git-ignored); the tests then serve or read the files themselves, so nothing
comes from a CDN at run time.

    python -m tests.npm_packages      # what ./test.sh runs before pytest
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Tuple

ROOT = Path(__file__).resolve().parent.parent
DEST = ROOT / "tests" / "npm"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str  # the registry's `dist.integrity`
    files: Tuple[str, ...]  # paths inside the tarball's `package/` folder

    @property
    def folder(self) -> Path:
        return DEST / f"{self.name}-{self.version}"


PACKAGES: Dict[str, Package] = {p.name: p for p in (
    Package("rasa-webchat", "1.0.1",
            "sha512-Ld1zVJvTAaTrs6A5p8t70agNNrKYRyXlvqXZRgBoDvKKUXbA0jhJKECi5bdPGlaR6jsmqWtVylHS"
            "+YqIqo0x8w==", ("lib/index.js", "LICENSE")),
    Package("axe-core", "4.10.3",
            "sha512-Xm7bpRXnDSX2YE2YFfBk2FnF0ep6tmG7xPh8iHee8MIcrgq762Nkce856dYtJYLkuIoYZvGfTs/Pb"
            "ZhideTcEg==", ("axe.min.js", "LICENSE")),
    # Microsoft's Virtual Assistant template: its LU and chit-chat files are the second
    # independent NLU evaluation (tests/nlu_independent/sources.yml), never trained on.
    Package("generator-botbuilder-assistant", "1.0.7",
            "sha512-Cmv5dJ5XT+4C2aib4+g/jx+EeIIAfxXPzaG7BK+Q8cGolggEUEsPfyFs/0fi1G4BtaHiVNkZoHmz"
            "tnBbuhdStg==", tuple(
                f"generators/app/templates/sample-assistant/deployment/resources/{kind}/{lang}/"
                f"{name}.lu" for lang in ("en-us", "fr-fr")
                for kind, name in (("LU", "general"), ("QnA", "chitchat"))) + ("LICENSE",)),
)}


class NpmError(RuntimeError):
    """A package could not be fetched or did not match its pinned digest."""


def path(name: str, file: str) -> Path:
    """A file of a pinned package, fetched first if it is not here yet."""
    package = PACKAGES[name]
    if not all((package.folder / f).is_file() for f in package.files):
        fetch(package)
    return package.folder / file


def fetch(package: Package) -> None:
    """Downloads, checks and unpacks one package (replacing any earlier copy)."""
    npm = shutil.which("npm")
    if npm is None:
        raise NpmError("npm is needed for the tests' npm packages "
                       "(apt-get install npm, or Node.js from nodejs.org)")
    with tempfile.TemporaryDirectory() as tmp:
        spec = f"{package.name}@{package.version}"
        done = subprocess.run([npm, "pack", spec, "--pack-destination", tmp, "--silent"],
                              capture_output=True, text=True, timeout=300, check=False)
        tarballs = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or len(tarballs) != 1:
            raise NpmError(f"npm pack {spec} failed: {done.stderr.strip()[-500:]}")
        data = tarballs[0].read_bytes()
        digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
        if digest != package.integrity:
            raise NpmError(f"{spec}: digest {digest} is not the pinned {package.integrity}")
        staging = Path(tmp) / "out"
        with tarfile.open(tarballs[0]) as tar:
            for file in package.files:
                member = tar.getmember(f"package/{file}")
                source = tar.extractfile(member)
                if source is None:
                    raise NpmError(f"{spec}: {file} is not a file")
                target = staging / file
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read())
        shutil.rmtree(package.folder, ignore_errors=True)
        package.folder.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), str(package.folder))


def main() -> int:
    for package in PACKAGES.values():
        try:
            file = path(package.name, package.files[0])
        except NpmError as exc:
            print(f"tests.npm_packages: {exc}", file=sys.stderr)
            return 1
        print(f"{package.name} {package.version}: {file.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
