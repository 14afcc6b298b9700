# ddbvault service image. Build it with `make image` (docs/image.md): that fills build/image/wheels
# with the wheels of requirements/runtime.lock (each checked against its sha256) and ddbvault's own
# wheel, and this file installs from there only: no network and no compiler at build time.
#
# BASE_IMAGE: any Debian-based image with python3 >= 3.11 and its venv module. `make image` uses
# python:3.11-slim when a registry answers, else a base made locally with debootstrap from
# Debian's packages (scripts/image.sh).
ARG BASE_IMAGE=docker.io/library/python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/ddbvault/venv/bin:$PATH

# The wheels and the lock are bind-mounted for this step only, so no copy of them stays in a layer.
RUN --mount=type=bind,source=build/image/wheels,target=/mnt/wheels \
    --mount=type=bind,source=requirements/runtime.lock,target=/mnt/runtime.lock \
    python3 -m venv /opt/ddbvault/venv \
 && pip install --no-index --find-links /mnt/wheels --require-hashes --no-deps -r /mnt/runtime.lock \
 && pip install --no-index --no-deps /mnt/wheels/ddbvault-*.whl \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin ddbvault

# Runs as this non-root user, and needs no writable path: run it with a read-only root
# filesystem (docker/podman --read-only; ECS readonlyRootFilesystem). AWS credentials come from
# the task/pod role (the standard AWS chain), never from the image.
USER 10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["ddbvault"]
CMD ["serve", "--config", "/etc/ddbvault/ddbvault.yaml"]
