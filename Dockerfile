# The serving image: what the Space runs (`python app.py`), for Docker and Kubernetes (deploy/). No model inside:
# the app fetches MODEL_REPO at MODEL_REVISION from the Hub when it starts, verifies it and serves it.
#   docker build -t house-price-app .
#   docker run --rm -p 7860:7860 -e MODEL_REPO=<owner>/<name> [-e HF_TOKEN=...] [-e API_TOKEN=...] house-price-app
# A local registry works too: mount it and name it, e.g.
#   docker run --rm -p 7860:7860 -v "$PWD/registry:/registry:ro" -e MODEL_REGISTRY=/registry house-price-app
# (monitoring/Dockerfile is another image: it trains a model at build time for the local monitoring stack.)
#
# Pinned by tag; pin the digest too (`python:3.11.14-slim-bookworm@sha256:...`) where builds must be reproducible.
FROM python:3.11.14-slim-bookworm

# tini as PID 1: it forwards SIGTERM to the app and reaps zombies. Without it the app is PID 1, and PID 1 ignores
# a signal it has no handler for: a `docker stop` or pod deletion during the start (before uvicorn installs its
# handler, ~10 s) would wait out the whole grace period and end in SIGKILL (measured with `unshare --pid`).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt

# The user Hugging Face Spaces and Kubernetes `runAsNonRoot` expect: uid 1000 with a home. It owns only the folders
# the app writes: the prediction log and the caches (the Hugging Face download cache, matplotlib's font cache);
# Gradio's uploads and the UI's CSV downloads go to /tmp. The code stays root's, read-only to the app.
RUN useradd --create-home --uid 1000 --user-group app \
    && mkdir -p /app/logs /home/app/.cache/huggingface /home/app/.cache/matplotlib \
    && chown -R app:app /app/logs /home/app/.cache

# What serving needs at run time, nothing else (no training/, no model card template, no tests).
COPY app.py ./
COPY modelrepo/ modelrepo/
COPY serving/ serving/

USER 1000:1000
ENV HOME=/home/app \
    HF_HOME=/home/app/.cache/huggingface \
    MPLCONFIGDIR=/home/app/.cache/matplotlib \
    HF_HUB_DISABLE_TELEMETRY=1 \
    GRADIO_ANALYTICS_ENABLED=False \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    PREDICTION_LOG_DIR=/app/logs \
    MODEL_REVISION=production
EXPOSE 7860

# Ready once the model is verified, loaded and warmed up (a start takes ~10 s here, plus the download).
HEALTHCHECK --interval=15s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/ready' % os.environ.get('GRADIO_SERVER_PORT', '7860'), timeout=5)"]

# On SIGTERM uvicorn answers the requests in flight and the app writes its prediction log (and its last push to
# a Hub dataset, up to 30 s), then exits: give `docker stop` time (`--stop-timeout 60`); Kubernetes: deploy/.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["python", "app.py"]
