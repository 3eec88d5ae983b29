# One image for the web app and the CPU worker. The GPU worker builds with --build-arg EXTRAS=gpu.
# The image holds the built wheel, installed as a user would install it: no source tree beside it.
FROM python:3.11-slim AS wheel
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps -w /dist .

FROM python:3.11-slim
ARG EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VIVANT_DATA_DIR=/data
COPY --from=wheel /dist /dist
RUN pip install --no-cache-dir "$(ls /dist/vivant-*.whl)${EXTRAS:+[$EXTRAS]}" && rm -r /dist

WORKDIR /data
VOLUME /data
EXPOSE 8000
CMD ["vivant", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"]
