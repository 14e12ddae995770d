# houtai's one image: every role is a `houtai` subcommand (api, worker, migrate, seed, up).
#   docker build -t houtai:0.1.0 .
#   docker run --rm -e HOUTAI_DATABASE_URL=... -e HOUTAI_TEMPORAL_ADDRESS=... houtai:0.1.0 houtai migrate
# Configuration comes only from the environment at run time (HOUTAI_…, see core/settings.py);
# no secret is baked in, and .dockerignore keeps .env files and local data out of the context.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtualenv holding houtai and its dependencies ---------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# Dependencies first, from pyproject.toml alone, so editing the code reuses this layer.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# Then the project itself (the packages listed in [tool.setuptools.packages.find]).
COPY core ./core
COPY models ./models
COPY workflows ./workflows
COPY activities ./activities
COPY services ./services
COPY api ./api
COPY workers ./workers
COPY sandbox ./sandbox
COPY migrations ./migrations
COPY console ./console
RUN pip install --no-deps . \
    && houtai --help > /dev/null

# --- runtime ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

COPY --from=build /opt/venv /opt/venv

# An unprivileged user; its home is the working directory (where `houtai up` would keep .houtai/).
RUN groupadd --system --gid 10001 houtai \
    && useradd --system --uid 10001 --gid houtai --create-home --home-dir /home/houtai \
        --shell /usr/sbin/nologin houtai
USER houtai:houtai
WORKDIR /home/houtai

EXPOSE 8000

# The role is the command; docker-compose.yml sets it per service (houtai migrate/api/worker).
CMD ["houtai", "api"]
