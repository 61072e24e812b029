# One image for every role of the deployed platform (docker-compose.yml): the migration, web,
# dispatcher, public-bundle mirror, Dask scheduler and workers. See docs/deployment.md.
FROM python:3.11-slim-bookworm

# bubblewrap: the sandbox of participant code (util-linux, always present, gives setpriv)
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends bubblewrap \
 && rm -rf /var/lib/apt/lists/*

# torch first, in its own layer (rebuilt only when the pin or the index changes), from the CPU
# wheel index by default. The GPU image builds with TORCH_INDEX=https://pypi.org/simple, whose
# Linux torch wheels are the CUDA ones (or a CUDA index of PyTorch matching the driver).
# Pinned as in pyproject.toml; torchvision is not used.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --no-cache-dir --index-url "$TORCH_INDEX" torch==2.13.0

WORKDIR /app
COPY pyproject.toml README.md ./
COPY ramp_server ./ramp_server
# the kit: `ramp-server event add --kit /app` reads problem.py, the starting kit and data/
COPY problem.py ./
COPY submissions ./submissions
RUN pip install --no-cache-dir -e '.[server]' \
 && mkdir -p /app/data /var/ramp

ENV PYTHONUNBUFFERED=1 \
    RAMP_STORAGE_DIR=/var/ramp
EXPOSE 8000
CMD ["ramp-server", "serve", "--host", "0.0.0.0", "--port", "8000"]
