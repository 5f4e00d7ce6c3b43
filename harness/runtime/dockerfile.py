"""The one Dockerfile every reference target is built from, rendered per target by the image builder.

The reference targets differ only by name, so they share this template instead of five copies that
drift. The build context it expects (staged by ``harness.runtime.images``): the package ``targets/``
(its ``__init__.py``, ``targetkit/`` and ``<name>/``) and ``wheelhouse/`` with wheels for
``<name>/requirements.txt``. The rendered text is part of the image's content hash, so a changed
template rebuilds every image.
"""

from __future__ import annotations

BASE_TAG = "harness-base:bookworm"
KIT = "targetkit"

HEADER = """\
# Reference target `{name}`, rendered from harness/runtime/dockerfile.py and built offline from a staged
# context (see harness/runtime/images.py). The harness runs it with host networking and
#   --host 127.0.0.1 --port <chosen> --variant VARIANT --db /data/target.db
FROM {base}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
"""
INSTALL = """\
# Packages from the staged wheelhouse only (pip install --no-index), before the code: a layer reused
# while the requirements stay the same.
COPY wheelhouse {package}/{kit}/install-requirements.sh {package}/{name}/requirements.txt \\
     /tmp/wheelhouse/
RUN sh /tmp/wheelhouse/install-requirements.sh
"""
CODE = """\
# The package as staged ({package}/__init__.py, {package}/{kit}, {package}/{name}), run from /srv.
COPY {package} /srv/{package}
WORKDIR /srv
# The SQLite file lives on a volume so what the target committed outlives `docker kill` + restart.
VOLUME /data
# Exec form: the app is PID 1 and receives SIGTERM / SIGKILL directly; a failpoint exits with status 17.
ENTRYPOINT ["python3", "-m", "{package}.{name}.app"]
CMD ["--host", "127.0.0.1", "--port", "8000", "--variant", "idempotent", "--db", "/data/target.db"]
"""


def render_dockerfile(name: str, *, package: str = "targets", installs_requirements: bool = True) -> str:
    """The Dockerfile of reference target ``name`` in package ``package``; without its
    ``requirements.txt`` (a stand-in target) the install step is left out."""
    parts = (HEADER, INSTALL if installs_requirements else "", CODE)
    return "".join(part.format(name=name, package=package, kit=KIT, base=BASE_TAG) for part in parts)
