# One image for the web app and the CPU worker. The GPU worker builds with --build-arg EXTRAS=gpu.
FROM python:3.11-slim

ARG EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VIVANT_DATA_DIR=/data

WORKDIR /srv/vivant
COPY pyproject.toml README.md alembic.ini ./
COPY app app
COPY worker worker
COPY templates templates
COPY static static
COPY migrations migrations
RUN pip install --no-cache-dir -e ".${EXTRAS:+[$EXTRAS]}"

VOLUME /data
EXPOSE 8000
CMD ["vivant", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"]
