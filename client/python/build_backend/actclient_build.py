"""A minimal PEP 517 build backend for actclient, standard library only.

pip builds packages in an isolated environment and would download setuptools into
it; this backend needs no downloads, so installing works offline. It builds a
pure-Python wheel (and an sdist) of the `actclient` folder. Symbolic links (the
package's activation.proto and service_config.json point into the repository) are
followed, so the wheel carries the files themselves.
"""

import base64
import hashlib
import io
import os
import tarfile
import tomllib
import zipfile

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PACKAGE = "actclient"
# Files of the package that go into the wheel, by suffix.
_SUFFIXES = (".py", ".proto", ".json", ".typed")


def _project():
    with open(os.path.join(_ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def _metadata():
    p = _project()
    lines = ["Metadata-Version: 2.1", "Name: " + p["name"], "Version: " + p["version"],
             "Summary: " + p["description"], "License: " + p["license"]["text"],
             "Requires-Python: " + p["requires-python"]]
    lines += ["Requires-Dist: " + d for d in p.get("dependencies", [])]
    for extra, deps in p.get("optional-dependencies", {}).items():
        lines.append("Provides-Extra: " + extra)
        lines += ['Requires-Dist: %s ; extra == "%s"' % (d, extra) for d in deps]
    with open(os.path.join(_ROOT, p["readme"]), encoding="utf-8") as f:
        readme = f.read()
    lines.append("Description-Content-Type: text/markdown")
    return "\n".join(lines) + "\n\n" + readme


def _package_files():
    """(path in the archive, absolute path) of every package file, sorted."""
    out = []
    for folder, dirs, files in os.walk(os.path.join(_ROOT, _PACKAGE), followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(_SUFFIXES):
                path = os.path.join(folder, name)
                if not os.path.exists(path):
                    raise FileNotFoundError("%s: broken link (build from the repository)" % path)
                out.append((os.path.relpath(path, _ROOT), path))
    return out


def _dist_name():
    p = _project()
    return "%s-%s" % (p["name"], p["version"])


def _digest(data):
    sha = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + sha.decode()


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    """Writes <name>-<version>-py3-none-any.whl into wheel_directory; returns its name."""
    dist = _dist_name()
    info = dist + ".dist-info"
    wheel_name = dist + "-py3-none-any.whl"
    entries = [(arc, open(path, "rb").read()) for arc, path in _package_files()]
    entries.append((info + "/METADATA", _metadata().encode()))
    entries.append((info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: actclient_build\n"
                    b"Root-Is-Purelib: true\nTag: py3-none-any\n"))
    record = "".join("%s,%s,%d\n" % (arc, _digest(data), len(data)) for arc, data in entries)
    record += info + "/RECORD,,\n"
    entries.append((info + "/RECORD", record.encode()))
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w",
                         zipfile.ZIP_DEFLATED) as z:
        for arc, data in entries:
            z.writestr(zipfile.ZipInfo(arc, date_time=(2020, 1, 1, 0, 0, 0)), data,
                       zipfile.ZIP_DEFLATED)
    return wheel_name


def build_sdist(sdist_directory, config_settings=None):
    """Writes <name>-<version>.tar.gz (links resolved) into sdist_directory."""
    dist = _dist_name()
    files = _package_files() + [
        (name, os.path.join(_ROOT, name)) for name in ("pyproject.toml", "README.md")]
    for folder in ("build_backend", "examples"):
        for name in sorted(os.listdir(os.path.join(_ROOT, folder))):
            if name.endswith(".py"):
                files.append((folder + "/" + name, os.path.join(_ROOT, folder, name)))
    pkg_info = _metadata().encode()
    with tarfile.open(os.path.join(sdist_directory, dist + ".tar.gz"), "w:gz") as tar:
        for arc, data in [(a, open(p, "rb").read()) for a, p in files] + [("PKG-INFO", pkg_info)]:
            ti = tarfile.TarInfo(dist + "/" + arc)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 1577836800
            tar.addfile(ti, io.BytesIO(data))
    return dist + ".tar.gz"
