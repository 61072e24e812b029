# One image for every role of the deployed platform (web, dispatcher, Dask scheduler, workers).
FROM python:3.11-slim-bookworm
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends bubblewrap postgresql-client \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ramp_server ./ramp_server
COPY problem.py ./
COPY submissions ./submissions
# CPU torch by default; GPU workers build with --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu124
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --no-cache-dir --index-url "$TORCH_INDEX" torch==2.13.0 \
 && pip install --no-cache-dir -e '.[server]'
ENV RAMP_STORAGE_DIR=/var/ramp
EXPOSE 8000
CMD ["ramp-server", "serve", "--host", "0.0.0.0", "--port", "8000"]
